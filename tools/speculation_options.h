// --draft-model, --draft-max, --draft-min, --draft-p-min and --lookup: speculative decoding
// (engine/generate/draft.h), shared by the commands that generate (run, chat, serve, bench).
#pragma once

#include <CLI/CLI.hpp>
#include <limits>
#include <memory>
#include <string>

#include "engine/generate/draft.h"
#include "engine/model/model.h"
#include "tools/option_checks.h"

namespace ember::cli {

struct SpeculationOptions {
    std::string draft_model;
    int lookup = 0;
    DraftParams draft;

    void add_to(CLI::App& app) {
        auto* model = app.add_option(
            "--draft-model", draft_model,
            "Speculative decoding: a small model of the same vocabulary guesses the next tokens, "
            "which this model checks a batch at a time (the same text, faster)");
        auto* lookup_option =
            app.add_option("--lookup", lookup,
                           "Speculative decoding without a draft model: guess up to N tokens "
                           "from what followed the text's last words where they appeared before "
                           "(for replies that copy from their input)")
                ->check(number_in(1, 256, ""));
        model->excludes(lookup_option);
        app.add_option("--draft-max", draft.max, "Most tokens guessed at a time")
            ->check(number_in(1, 256, ""))
            ->capture_default_str();
        app.add_option("--draft-min", draft.min,
                       "Fewer guesses than this: generate the token plainly")
            ->check(number_in(0, 256, ""))
            ->capture_default_str();
        app.add_option("--draft-p-min", draft.p_min,
                       "The draft model stops guessing where its top probability is below this")
            ->check(number_in(0.0, 1.0, ""))
            ->capture_default_str();
    }
    // The draft model, if one was asked for (its options like the target's).
    std::unique_ptr<Model> load(const ember::ModelOptions& options) const {
        if (draft_model.empty()) return nullptr;
        return std::make_unique<Model>(draft_model, options);
    }
    SpeculationParams params(const Model* loaded_draft) const {
        SpeculationParams p;
        p.draft_model = loaded_draft;
        p.lookup = lookup > 0;
        p.draft = draft;
        if (lookup > 0) p.draft.max = lookup;
        return p;
    }
};

}  // namespace ember::cli

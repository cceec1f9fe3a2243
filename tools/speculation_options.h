// --draft-model, --draft-max, --draft-min, --draft-p-min and --lookup: speculative decoding
// (engine/generate/draft.h), shared by the commands that generate (run, chat, serve, bench).
#pragma once

#include <CLI/CLI.hpp>
#include <limits>
#include <memory>
#include <string>

#include "engine/generate/draft.h"
#include "engine/model/model.h"
#include "tools/command.h"
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
        // Sizes only a draft model takes (lookup's size is its N), and one both take: refused
        // where nothing would use them.
        auto* max = app.add_option("--draft-max", draft.max, "Most tokens guessed at a time")
                        ->check(number_in(1, 256, ""))
                        ->capture_default_str();
        auto* p_min = app.add_option("--draft-p-min", draft.p_min,
                                     "The draft model stops guessing where its top probability "
                                     "is below this")
                          ->check(number_in(0.0, 1.0, ""))
                          ->capture_default_str();
        auto* min = app.add_option("--draft-min", draft.min,
                                   "Fewer guesses than this: generate the token plainly")
                        ->check(number_in(0, 256, ""))
                        ->capture_default_str();
        max->needs(model);
        p_min->needs(model);
        min_option_ = min;
        model_option_ = model;
        lookup_option_ = lookup_option;
    }
    // The draft model, if one was asked for (its options like the target's).
    std::unique_ptr<Model> load(const ember::ModelOptions& options) const {
        if (draft_model.empty()) return nullptr;
        return std::make_unique<Model>(draft_model, options);
    }
    SpeculationParams params(const Model* loaded_draft) const {
        if (min_option_ != nullptr && min_option_->count() > 0 && model_option_->count() == 0 &&
            lookup_option_->count() == 0) {
            throw UsageError("--draft-min needs --draft-model or --lookup");
        }
        SpeculationParams p;
        p.draft_model = loaded_draft;
        p.lookup = lookup > 0;
        p.draft = draft;
        if (lookup > 0) p.draft.max = lookup;
        return p;
    }

  private:
    CLI::Option* min_option_ = nullptr;
    CLI::Option* model_option_ = nullptr;
    CLI::Option* lookup_option_ = nullptr;
};

}  // namespace ember::cli

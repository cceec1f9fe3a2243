// --keep N, --no-context-shift, --max-tps, --thermal-limit and structured output (--grammar,
// --grammar-file, --json-schema, --json-schema-file), shared by the commands that generate
// (run, chat).
#pragma once

#include <CLI/CLI.hpp>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/grammar/json_schema.h"
#include "engine/generate/session.h"
#include "platform/files.h"
#include "tools/option_checks.h"

namespace ember::cli {

// A whole text file named by an option (a grammar, a schema).
inline std::string read_option_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (platform::path_kind(path) != platform::PathKind::Regular || !in) {
        throw Error("cannot read " + path);
    }
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct GenerationOptions {
    int keep = 0;
    bool no_shift = false;
    float max_tps = 0;
    float thermal_limit = 0;
    std::string grammar, grammar_file, json_schema, json_schema_file;

    // The files these options read (for the outputs' checks).
    std::vector<std::string> input_files() const { return {grammar_file, json_schema_file}; }

    void add_to(CLI::App& app) {
        app.add_option("--keep", keep,
                       "Tokens at the start (after the BOS) that a context shift never drops")
            ->check(number_in(0, std::numeric_limits<int>::max(), ""))
            ->capture_default_str();
        app.add_flag("--no-context-shift", no_shift,
                     "Stop at a full context instead of dropping half of the older tokens");
        app.add_option("--max-tps", max_tps,
                       "Generate at most this many tokens/s, sleeping between tokens (a power "
                       "budget; 0: no cap)")
            ->check(number_in(0, 1e6, "0: no cap"))
            ->capture_default_str();
        app.add_option("--thermal-limit", thermal_limit,
                       "Above this many degrees Celsius (the hottest thermal zone), halve the "
                       "pace until 5 degrees below it (0: off)")
            ->check(number_in(0, 150, "0: off"))
            ->capture_default_str();
        CLI::Option* constraints[] = {
            app.add_option("--grammar", grammar,
                           "Generate only text in this GBNF grammar (llama.cpp's notation; the "
                           "rule 'root' is the whole text)"),
            app.add_option("--grammar-file", grammar_file, "--grammar, read from this file"),
            app.add_option("--json-schema", json_schema,
                           "Generate only JSON valid under this JSON Schema ('{\"type\": "
                           "\"object\"}': any JSON object)"),
            app.add_option("--json-schema-file", json_schema_file,
                           "--json-schema, read from this file"),
        };
        for (CLI::Option* a : constraints) {
            for (CLI::Option* b : constraints) {
                if (a != b) a->excludes(b);
            }
        }
    }
    // Compiles the structured-output option given, if any (throws ember::Error saying what is
    // wrong with the grammar or schema, FileError for a file that cannot be read).
    std::shared_ptr<const Grammar> compile_grammar() const {
        if (!grammar.empty()) return Grammar::parse(grammar);
        if (!grammar_file.empty()) return Grammar::parse(read_option_file(grammar_file));
        if (!json_schema.empty()) return Grammar::parse(json_schema_to_gbnf(json_schema));
        if (!json_schema_file.empty()) {
            return Grammar::parse(json_schema_to_gbnf(read_option_file(json_schema_file)));
        }
        return nullptr;
    }
    void apply(TurnOptions& turn) const {
        turn.context_shift = !no_shift;
        turn.n_keep = keep;
        turn.max_tokens_per_second = max_tps;
        turn.thermal_limit_celsius = thermal_limit;
        // turn.grammar: the caller's compile_grammar(), done before the model loads so that a
        // wrong grammar is reported at once.
    }
};

}  // namespace ember::cli

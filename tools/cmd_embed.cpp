// `ember embed -m FILE (-p TEXT | -f FILE | stdin) [--format jsonl|json|csv|pgvector]`:
// sentence embeddings, one text per line, written in the shapes vector stores take in.
//   jsonl     {"index", "text", "n_tokens", "embedding": [...]} per line
//   json      OpenAI's embeddings response: {"object": "list", "data": [...], "usage": ...}
//   csv       index,n_tokens,text,embedding with the vector as a pgvector literal "[...]"
//   pgvector  SQL: CREATE EXTENSION vector, CREATE TABLE (id, content, embedding vector(N)),
//             INSERT of every row
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/embed/embedder.h"
#include "engine/text/json.h"
#include "formats/error.h"
#include "formats/output_file.h"
#include "tools/command.h"
#include "tools/model_options.h"
#include "tools/progress.h"
#include "tools/stdout.h"

namespace ember::cli {
namespace {

struct EmbedOptions {
    ModelOptions model;
    std::string prompt;
    bool has_prompt = false;  // -p given (an empty text is a text, not "read standard input")
    std::string file;
    std::string format = "jsonl";
    std::string pooling;  // empty: the model's
    std::string normalize = "l2";
    bool no_truncate = false;
    std::string table = "embeddings";
    std::string output_path;
};

// Shortest decimal text that reads back as the same float.
void append_float(std::string& out, float v) {
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, result.ptr);
}

// "[v0,v1,...]": JSON array and pgvector literal alike.
void append_vector(std::string& out, const float* v, size_t n) {
    out += '[';
    for (size_t i = 0; i < n; ++i) {
        if (i > 0) out += ',';
        append_float(out, v[i]);
    }
    out += ']';
}

// A CSV field: quoted, quotes doubled (RFC 4180).
void append_csv_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char ch : s) {
        if (ch == '"') out += '"';
        out += ch;
    }
    out += '"';
}

// An SQL string literal: single quotes doubled; NUL bytes dropped (Postgres text has none).
void append_sql_string(std::string& out, std::string_view s) {
    out += '\'';
    for (const char ch : s) {
        if (ch == '\0') continue;
        if (ch == '\'') out += '\'';
        out += ch;
    }
    out += '\'';
}

std::vector<std::string> read_texts(const EmbedOptions& o) {
    std::vector<std::string> texts;
    if (o.has_prompt) return {o.prompt};
    std::ifstream file;
    if (!o.file.empty()) {
        file.open(o.file, std::ios::binary);
        if (!file) throw Error("cannot read " + o.file);
    }
    std::istream& in = o.file.empty() ? std::cin : file;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
        texts.push_back(std::move(line));
    }
    if (in.bad()) throw Error("cannot read " + (o.file.empty() ? "standard input" : o.file));
    if (texts.empty()) throw Error("no text to embed (give -p, -f, or lines on standard input)");
    return texts;
}

bool is_identifier(const std::string& s) {
    if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    return true;
}

std::string render(const EmbedOptions& o, const Embedder& embedder,
                   const std::vector<std::string>& texts, const std::vector<Embedding>& out) {
    const int d = embedder.dimension();
    std::string s;
    if (o.format == "jsonl") {
        for (size_t i = 0; i < out.size(); ++i) {
            s += "{\"index\": " + std::to_string(i) + ", \"text\": ";
            append_json_string(s, texts[i]);
            s += ", \"n_tokens\": " + std::to_string(out[i].n_tokens) + ", \"embedding\": ";
            if (embedder.pooling() == Pooling::None) {  // one vector per token
                s += '[';
                for (int t = 0; t < out[i].n_tokens; ++t) {
                    if (t > 0) s += ',';
                    append_vector(s, out[i].values.data() + static_cast<size_t>(t) * d, d);
                }
                s += ']';
            } else {
                append_vector(s, out[i].values.data(), d);
            }
            s += "}\n";
        }
    } else if (o.format == "json") {
        int64_t n_tokens = 0;
        s += "{\"object\": \"list\", \"data\": [";
        for (size_t i = 0; i < out.size(); ++i) {
            s += i > 0 ? ", " : "";
            s +=
                "{\"object\": \"embedding\", \"index\": " + std::to_string(i) + ", \"embedding\": ";
            append_vector(s, out[i].values.data(), d);
            s += '}';
            n_tokens += out[i].n_tokens;
        }
        s += "], \"model\": ";
        append_json_string(s, embedder.model().file().name());
        s += ", \"usage\": {\"prompt_tokens\": " + std::to_string(n_tokens) +
             ", \"total_tokens\": " + std::to_string(n_tokens) + "}}\n";
    } else if (o.format == "csv") {
        s += "index,n_tokens,text,embedding\n";
        for (size_t i = 0; i < out.size(); ++i) {
            s += std::to_string(i) + "," + std::to_string(out[i].n_tokens) + ",";
            append_csv_string(s, texts[i]);
            s += ",\"";
            append_vector(s, out[i].values.data(), d);
            s += "\"\n";
        }
    } else {  // pgvector
        s += "CREATE EXTENSION IF NOT EXISTS vector;\n";
        s += "CREATE TABLE IF NOT EXISTS " + o.table +
             " (id integer PRIMARY KEY, content text NOT NULL, embedding vector(" +
             std::to_string(d) + ") NOT NULL);\n";
        s += "INSERT INTO " + o.table + " (id, content, embedding) VALUES\n";
        for (size_t i = 0; i < out.size(); ++i) {
            s += "  (" + std::to_string(i) + ", ";
            append_sql_string(s, texts[i]);
            s += ", '";
            append_vector(s, out[i].values.data(), d);
            s += i + 1 < out.size() ? "'),\n" : "');\n";
        }
    }
    return s;
}

int run_embed(const EmbedOptions& o) {
    if (!is_identifier(o.table)) {
        throw UsageError("--table '" + o.table + "': give a plain SQL name (letters, digits, _)");
    }
    const std::vector<std::string> texts = read_texts(o);
    const Model model(o.model.model_path, o.model.model_options());
    const Tokenizer tokenizer(model.file());
    EmbedParams params;
    params.context = o.model.context_params();
    if (!o.pooling.empty()) params.pooling = pooling_from_name(o.pooling);
    params.normalize = o.normalize == "none" ? Normalization::None : Normalization::L2;
    params.overflow = o.no_truncate ? Overflow::Error : Overflow::Truncate;
    Embedder embedder(model, tokenizer, params);
    if (embedder.pooling() == Pooling::None && o.format != "jsonl") {
        throw UsageError("pooling none gives one vector per token: only --format jsonl holds that");
    }

    // A bar for long inputs (several forward passes).
    std::unique_ptr<ProgressBar> bar;
    if (texts.size() > 256) bar = std::make_unique<ProgressBar>("embed");
    const std::vector<Embedding> out = embedder.embed(texts, [&](size_t done, size_t total) {
        if (bar) bar->update(static_cast<long>(done), static_cast<long>(total));
    });
    if (bar) bar->finish();
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i].truncated) {
            std::fprintf(stderr,
                         "ember embed: warning: text %zu is longer than the context; its first "
                         "%d tokens were used (-c raises the context, --no-truncate refuses)\n",
                         i, out[i].n_tokens);
        }
    }
    const std::string rendered = render(o, embedder, texts, out);
    if (o.output_path.empty()) {
        write_stdout(rendered);
    } else {
        const std::string inputs[] = {o.model.model_path, o.file};
        OutputFile file(o.output_path, inputs);
        file.write(rendered.data(), rendered.size());
        file.commit();
    }
    std::fprintf(stderr, "ember embed: %zu texts, %d dimensions, pooling %s, %s\n", out.size(),
                 embedder.dimension(), std::string(pooling_name(embedder.pooling())).c_str(),
                 params.normalize == Normalization::L2 ? "L2-normalised" : "not normalised");
    return 0;
}

}  // namespace

Runner add_embed_command(CLI::App& app) {
    auto options = std::make_shared<EmbedOptions>();
    CLI::App* sub = app.add_subcommand(
        "embed", "Sentence embeddings of texts (one per line), for vector stores");
    options->model.add_to(*sub,
                          "Context size: the most tokens of one text, and of one forward pass "
                          "(default: the model's training context, at most 4096)");
    auto* prompt = sub->add_option("-p,--prompt", options->prompt, "One text to embed");
    auto* file = sub->add_option("-f,--file", options->file,
                                 "File of texts, one per line (default: standard input)");
    prompt->excludes(file);
    sub->add_option("--format", options->format, "jsonl, json (OpenAI's), csv or pgvector (SQL)")
        ->check(CLI::IsMember({"jsonl", "json", "csv", "pgvector"}))
        ->capture_default_str();
    sub->add_option("--pooling", options->pooling,
                    "none, mean, cls or last (default: the model's pooling_type; mean for "
                    "encoders, last for decoders)")
        ->check(CLI::IsMember({"none", "mean", "cls", "last"}));
    sub->add_option("--normalize", options->normalize, "l2 (unit vectors) or none")
        ->check(CLI::IsMember({"l2", "none"}))
        ->capture_default_str();
    sub->add_flag("--no-truncate", options->no_truncate,
                  "Refuse a text longer than the context instead of cutting it");
    sub->add_option("--table", options->table, "Table name for --format pgvector")
        ->capture_default_str();
    sub->add_option("-o,--output", options->output_path, "Write here instead of standard output");
    return [options, prompt] {
        options->has_prompt = prompt->count() > 0;
        return run_embed(*options);
    };
}

}  // namespace ember::cli

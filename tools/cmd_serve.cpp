// `ember serve -m FILE | --models-dir DIR [--host H] [--port P] [-np N] [-c CTX] ...`: one local
// model service for every app on the machine, speaking OpenAI's and ollama's HTTP APIs
// (tools/serve/server.h).
#include <cstdlib>
#include <fstream>
#include <memory>

#include "tools/command.h"
#include "tools/model_options.h"
#include "tools/option_checks.h"
#include "tools/serve/server.h"
#include "tools/speculation_options.h"

namespace ember::cli {
namespace {

struct ServeCommandOptions {
    ModelOptions model;
    SpeculationOptions speculation;
    serve::ServeOptions serve;
    int n_slots = 4;
    int max_queue = 64;
    int timeout_s = 600;
    int keep_alive_s = 300;
    int grace_s = 10;
    bool no_context_shift = false;
    std::string api_key_file;
};

// The API key: --api-key, else --api-key-file (its first line), else EMBER_API_KEY. A key on
// the command line is visible to every user of the machine (ps, /proc/PID/cmdline).
std::string api_key(const ServeCommandOptions& o) {
    if (!o.serve.api_key.empty()) return o.serve.api_key;
    if (!o.api_key_file.empty()) {
        std::ifstream in(o.api_key_file);
        std::string key;
        if (!in || !std::getline(in, key)) {
            throw UsageError("--api-key-file " + o.api_key_file + ": cannot read a key from it");
        }
        while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
        if (key.empty()) throw UsageError("--api-key-file " + o.api_key_file + " holds no key");
        return key;
    }
    const char* env = std::getenv("EMBER_API_KEY");
    return env != nullptr ? env : "";
}

int run_serve(ServeCommandOptions& o) {
    if (o.model.model_path.empty() && o.serve.pool.models_dir.empty()) {
        throw UsageError("serve needs a model: -m FILE, or --models-dir DIR");
    }
    if (!o.speculation.draft_model.empty() && o.model.model_path.empty()) {
        throw UsageError("--draft-model drafts for -m's model (not --models-dir's)");
    }
    serve::ServeOptions options = o.serve;
    options.pool.draft_model_path = o.speculation.draft_model;
    options.pool.scheduler.speculation = o.speculation.params(nullptr);
    options.api_key = api_key(o);
    options.pool.model_path = o.model.model_path;
    options.pool.model_options = o.model.model_options();
    options.pool.scheduler.n_slots = o.n_slots;
    options.pool.scheduler.max_queue = o.max_queue;
    options.pool.scheduler.context = o.model.context_params();
    options.pool.scheduler.context_shift = !o.no_context_shift;
    options.pool.keep_alive = std::chrono::seconds(o.keep_alive_s);
    options.limits.request_timeout = std::chrono::seconds(o.timeout_s);
    options.shutdown_grace = std::chrono::seconds(o.grace_s);
    return serve::serve(options);
}

}  // namespace

Runner add_serve_command(CLI::App& app) {
    auto o = std::make_shared<ServeCommandOptions>();
    CLI::App* sub = app.add_subcommand(
        "serve", "Serve models over HTTP: OpenAI's API (/v1/...) and ollama's (/api/...)");
    o->model.add_to(*sub,
                    "Context of each slot in tokens (default: the model's training "
                    "context, at most 4096); the KV cache holds slots x this");
    sub->get_option("-m")->required(false);
    o->speculation.add_to(*sub);
    sub->add_option("--models-dir", o->serve.pool.models_dir,
                    "Serve every .gguf file of this folder, loaded when a request names it");
    sub->add_option("--host", o->serve.host, "Address to listen on")->capture_default_str();
    sub->add_option("--port", o->serve.port, "Port (0: any free port)")
        ->check(number_in(0, 65535, "0: any"))
        ->capture_default_str();
    sub->add_option("--parallel,--np", o->n_slots,
                    "Slots: requests generated at once, batched into each forward pass (-np N, as "
                    "llama-server)")
        ->check(number_in(1, 256, ""))
        ->capture_default_str();
    sub->add_option("--queue", o->max_queue,
                    "Requests that may wait for a slot; more are refused with 503")
        ->check(number_in(0, 100000, ""))
        ->capture_default_str();
    sub->add_option("--api-key", o->serve.api_key,
                    "Require 'Authorization: Bearer KEY' (except on /health); other users of "
                    "the machine can read a command line: prefer --api-key-file or "
                    "EMBER_API_KEY");
    sub->add_option("--api-key-file", o->api_key_file,
                    "Read the API key from this file's first line")
        ->check(CLI::ExistingFile);
    sub->add_option("--cors-origin", o->serve.cors_origins,
                    "A web origin whose pages may call the server (repeatable; '*' for all). "
                    "Allowed without it: loopback pages, app://, file://, tauri://, "
                    "vscode-webview://");
    sub->add_option("--allowed-host", o->serve.allowed_hosts,
                    "A Host name a loopback server answers to besides loopback, private and "
                    "dotless names (repeatable; DNS rebinding protection)");
    sub->add_option("--max-connections", o->serve.max_connections,
                    "Open connections at once; at the cap the longest idle one is closed for a "
                    "new one, else it is refused with 503")
        ->check(number_in(8, 1 << 20, ""))
        ->capture_default_str();
    sub->add_flag("--special-tokens-in-messages", o->serve.special_tokens_in_messages,
                  "Read a chat format's control tokens typed in a message ('<|im_end|>') as "
                  "control tokens (default: as the plain text a user typed)");
    sub->add_option("--timeout", o->timeout_s, "Seconds a request may run")
        ->check(number_in(1, 1 << 30, ""))
        ->capture_default_str();
    sub->add_option("--max-tokens", o->serve.limits.max_tokens,
                    "Most tokens a request may generate (-1: up to the context)")
        ->check(number_in(-1, 1 << 30, "-1: no limit"))
        ->capture_default_str();
    sub->add_option("--max-body", o->serve.max_body, "Largest request body in bytes (413 beyond)")
        ->check(number_in(1024, 1 << 30, ""))
        ->capture_default_str();
    sub->add_option("--keep-alive", o->keep_alive_s,
                    "Seconds a --models-dir model stays loaded after its last request")
        ->check(number_in(0, 1 << 30, ""))
        ->capture_default_str();
    sub->add_option("--max-models", o->serve.pool.max_resident,
                    "--models-dir models loaded at once (the least recently used is unloaded)")
        ->check(number_in(1, 64, ""))
        ->capture_default_str();
    sub->add_flag("--no-context-shift", o->no_context_shift,
                  "End a reply at a full slot context (\"length\") instead of dropping half of "
                  "the conversation's older tokens");
    sub->add_option("--chat-template", o->serve.pool.chat_template,
                    "Chat template for every model: a Jinja file (FILE.jinja) or a built-in "
                    "format (chatml, llama3, ...; see ember chat --help) (default: each model's "
                    "own template)");
    sub->add_option("--shutdown-timeout", o->grace_s,
                    "On SIGTERM/SIGINT: seconds for in-flight requests to finish before they are "
                    "cancelled")
        ->check(number_in(0, 3600, ""))
        ->capture_default_str();
    return [o] { return run_serve(*o); };
}

}  // namespace ember::cli

// The models an `ember serve` process answers with: one file (-m), or every GGUF file of a
// folder (--models-dir), loaded on first use and unloaded after an idle time, at most
// max_resident at once (ollama's model service). Each loaded model has one copy of its weights,
// a Scheduler for text (slots over one context) and, on first use, an Embedder.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/embed/embedder.h"
#include "engine/generate/reasoning.h"
#include "engine/generate/tool_calls.h"
#include "engine/model/model.h"
#include "engine/text/chat_format.h"
#include "engine/text/tokenizer.h"
#include "tools/serve/embed_queue.h"
#include "tools/serve/scheduler.h"

namespace ember::serve {

// Thrown when a request names a model the server does not have (404).
class ModelNotFoundError : public Error {
  public:
    explicit ModelNotFoundError(const std::string& message) : Error(message) {}
};

// Thrown when the file of a model the server has cannot be loaded (a broken or unsupported
// file: the server's problem, 500, not the request's).
class ModelLoadError : public Error {
  public:
    explicit ModelLoadError(const std::string& message) : Error(message) {}
};

struct ModelPoolParams {
    std::string model_path;  // -m: always loaded
    std::string models_dir;  // --models-dir: loaded on demand
    ModelOptions model_options;
    SchedulerParams scheduler;  // per text model
    // --draft-model: speculation for model_path's model with this draft (scheduler.speculation
    // holds its sizes; its lookup applies to every text model whose cache can roll back).
    std::string draft_model_path;
    std::string chat_template;  // a format's name or a .jinja file; empty: each model's own
    std::chrono::seconds keep_alive{300};  // idle time before a --models-dir model is unloaded
    int max_resident = 2;                  // --models-dir models loaded at once
};

class LoadedModel {
  public:
    LoadedModel(std::string name, const std::string& path, const ModelPoolParams& params);

    const std::string& name() const { return name_; }
    const Model& model() const { return model_; }
    const Tokenizer& tokenizer() const { return tokenizer_; }
    bool generates_text() const { return scheduler_ != nullptr; }
    // Throws ember::Error (400) for an embedding model.
    Scheduler& scheduler();
    const ChatFormat& chat_format() const { return chat_format_; }
    // The prompt of a chat, tokenized: control tokens only from the chat format, the messages'
    // texts as plain text (unless special_in_messages: a caller's old behaviour). Throws
    // ChatTemplateError when the template refuses the conversation.
    std::vector<int32_t> chat_prompt(const std::vector<ChatMessage>& messages,
                                     bool special_in_messages) const;
    // The same from message objects (tool calls and results) and OpenAI tools (a JSON list, or
    // null for none), through the model's template. Throws ChatTemplateError, or ember::Error
    // when tools or tool messages come for a model whose chat format cannot show them.
    // `variables`: more for the template (chat_template_kwargs, reasoning_effort); *thinking
    // says whether the prompt leaves the model inside a thinking block.
    std::vector<int32_t> chat_prompt(const nlohmann::json& messages, const nlohmann::json& tools,
                                     const nlohmann::json& variables, bool special_in_messages,
                                     bool* thinking = nullptr) const;
    // How this model writes tool calls (from its template).
    const ToolCallFormat& tool_calls() const { return tool_calls_; }
    // How this model marks its thinking (from its template).
    const ReasoningFormat& reasoning() const { return reasoning_; }
    // Embeds texts with this model, through its embedding queue (created on first use): each
    // text longer than the context is cut to it, or refused (ember::Error) unless `truncate`.
    EmbedQueue::Outcome embed(const std::vector<std::string>& texts, bool truncate,
                              std::chrono::steady_clock::time_point deadline,
                              const std::function<bool()>& client_gone,
                              std::vector<Embedding>* out);
    std::chrono::system_clock::time_point loaded_at() const { return loaded_at_; }

  private:
    std::string name_;
    Model model_;
    Tokenizer tokenizer_;
    ChatFormat chat_format_;
    ToolCallFormat tool_calls_;
    ReasoningFormat reasoning_;
    std::unique_ptr<const Model> draft_;  // --draft-model's, for the scheduler (outlives it)
    std::unique_ptr<Scheduler> scheduler_;
    ContextParams embed_context_;
    int embed_queue_size_;
    std::once_flag embed_once_;
    std::unique_ptr<EmbedQueue> embed_queue_;
    std::chrono::system_clock::time_point loaded_at_;
};

struct ModelListing {
    std::string name;
    std::string path;
    uint64_t size = 0;
    std::filesystem::file_time_type modified;
    bool loaded = false;
    std::chrono::steady_clock::time_point expires;  // loaded --models-dir models
};

class ModelPool {
  public:
    // Loads the -m model now (throws ember::Error when it cannot).
    explicit ModelPool(const ModelPoolParams& params);
    ~ModelPool();

    // The model a request names: with -m only, any name (or none) is that model; with
    // --models-dir, a file's name with or without ".gguf" (and ollama's ":latest"). Loads it
    // if needed. Throws ModelNotFoundError (also for a name that could not be a file's: a
    // control character, a '/', a leading '.'), or ModelLoadError when the file cannot be
    // loaded, in which case no loaded model was unloaded for it.
    std::shared_ptr<LoadedModel> get(const std::string& name);
    std::vector<ModelListing> list() const;
    std::vector<std::shared_ptr<LoadedModel>> loaded() const;
    // Unloads --models-dir models idle for longer than keep_alive (called periodically).
    void unload_idle();
    // Lets every scheduler finish or cancel its generations by the deadline.
    void drain(std::chrono::steady_clock::time_point deadline);

  private:
    struct Entry {
        std::string name, path;
        std::shared_ptr<LoadedModel> model;
        std::chrono::steady_clock::time_point last_used;
    };
    std::optional<std::string> resolve(const std::string& name) const;  // -> a path

    ModelPoolParams params_;
    std::shared_ptr<LoadedModel> pinned_;  // the -m model
    mutable std::mutex mutex_;             // guards entries_ (not the loading itself)
    std::mutex load_mutex_;                // one model loads at a time
    std::vector<Entry> entries_;
};

// A model's name from its path: the file name without ".gguf".
std::string model_name(const std::string& path);
// Whether a name can name a model file: 1-255 bytes of valid UTF-8, no control character, no
// '/' or '\\', not starting with '.'. (Files with other names are not listed or served.)
bool valid_model_name(std::string_view name);

}  // namespace ember::serve

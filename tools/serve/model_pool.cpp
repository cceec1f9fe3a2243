#include "tools/serve/model_pool.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "tools/lib/chat_format_option.h"

namespace ember::serve {

namespace fs = std::filesystem;

std::string model_name(const std::string& path) {
    std::string name = fs::path(path).filename().string();
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) {
        name.resize(name.size() - 5);
    }
    return name;
}

bool valid_model_name(std::string_view name) {
    if (name.empty() || name.size() > 255 || name[0] == '.') return false;
    static constexpr uint32_t kSmallest[4] = {0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < name.size();) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F || c == '/' || c == '\\') return false;
            ++i;
            continue;
        }
        // UTF-8: a lead byte and its continuation bytes; no overlong form, no surrogate.
        const int extra = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 0;
        if (extra == 0 || i + extra >= name.size()) return false;
        uint32_t cp = c & (0x3Fu >> extra);
        for (int k = 1; k <= extra; ++k) {
            const auto d = static_cast<unsigned char>(name[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3Fu);
        }
        if (cp < kSmallest[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += static_cast<size_t>(extra) + 1;
    }
    return true;
}

LoadedModel::LoadedModel(std::string name, const std::string& path, const ModelPoolParams& params)
    : name_(std::move(name)),
      model_(path, params.model_options),
      tokenizer_(model_.file()),
      chat_format_(cli::chat_format_option(params.chat_template, model_, tokenizer_)),
      tool_calls_(ToolCallFormat::for_template(chat_format_.source())),
      reasoning_(ReasoningFormat::for_template(chat_format_.source())),
      embed_context_(params.scheduler.context),
      embed_queue_size_(params.scheduler.max_queue + params.scheduler.n_slots),
      loaded_at_(std::chrono::system_clock::now()) {
    if (!chat_format_.warning().empty()) {
        std::fprintf(stderr, "ember serve: %s: %s\n", name_.c_str(),
                     chat_format_.warning().c_str());
    }
    if (!model_.config().arch->encoder) {
        SchedulerParams scheduler = params.scheduler;
        if (!params.draft_model_path.empty() && path == params.model_path) {
            draft_ = std::make_unique<const Model>(params.draft_model_path, params.model_options);
            scheduler.speculation.draft_model = draft_.get();
        }
        if (scheduler.speculation.lookup && model_.config().recurrent()) {
            std::fprintf(stderr,
                         "ember serve: %s: no lookup decoding (a %s model's recurrent state "
                         "cannot take back a guess)\n",
                         name_.c_str(), std::string(model_.config().arch->name).c_str());
            scheduler.speculation.lookup = false;
        }
        scheduler_ = std::make_unique<Scheduler>(model_, tokenizer_, scheduler);
    }
}

std::vector<int32_t> LoadedModel::chat_prompt(const std::vector<ChatMessage>& messages,
                                              bool special_in_messages) const {
    const ChatPrompt prompt = chat_format_.render(messages);
    if (special_in_messages) return tokenizer_.encode(prompt.text, true, true);
    return tokenizer_.encode(prompt.text, true, true, prompt.content);
}

std::vector<int32_t> LoadedModel::chat_prompt(const nlohmann::json& messages,
                                              const nlohmann::json& tools,
                                              const nlohmann::json& variables,
                                              bool special_in_messages, bool* thinking) const {
    const bool has_tools = !tools.is_null();
    if (has_tools && !chat_format_.is_jinja()) {
        throw Error("model '" + name_ +
                    "' has no chat template that shows tools (its format is the built-in " +
                    chat_format_.describe() + "); give one with --chat-template FILE.jinja");
    }
    ChatInputs inputs;
    const JsonValue tool_list = has_tools ? parse_json(tools.dump()) : JsonValue();
    if (has_tools) inputs.tools = &tool_list;
    if (variables.is_object()) {
        for (const auto& [name, value] : variables.items())
            inputs.variables.emplace_back(name, parse_json(value.dump()));
    }
    const ChatPrompt prompt = chat_format_.render_json(parse_json(messages.dump()), inputs);
    if (thinking != nullptr) *thinking = reasoning_.opens_thinking(prompt.text);
    if (special_in_messages) return tokenizer_.encode(prompt.text, true, true);
    return tokenizer_.encode(prompt.text, true, true, prompt.content);
}

Scheduler& LoadedModel::scheduler() {
    if (!scheduler_) {
        throw Error("model '" + name_ + "' is an embedding model (" +
                    std::string(model_.config().arch->name) +
                    "): it makes embeddings (/v1/embeddings, /api/embed), not text");
    }
    return *scheduler_;
}

EmbedQueue::Outcome LoadedModel::embed(const std::vector<std::string>& texts, bool truncate,
                                       std::chrono::steady_clock::time_point deadline,
                                       const std::function<bool()>& client_gone,
                                       std::vector<Embedding>* out) {
    std::call_once(embed_once_, [&] {
        EmbedParams params;
        params.context = embed_context_;
        params.context.n_seq = 1;
        if (model_.config().arch->encoder) params.context.n_ctx = 0;  // the encoder's own
        embed_queue_ = std::make_unique<EmbedQueue>(model_, tokenizer_, params, embed_queue_size_);
    });
    std::vector<std::vector<int32_t>> tokens;
    tokens.reserve(texts.size());
    for (const std::string& text : texts) {
        tokens.push_back(embed_queue_->tokenize(text));
        if (!truncate && static_cast<int>(tokens.back().size()) > embed_queue_->n_ctx()) {
            throw Error("an input has " + std::to_string(tokens.back().size()) +
                        " tokens; the model reads at most " +
                        std::to_string(embed_queue_->n_ctx()));
        }
    }
    return embed_queue_->embed(std::move(tokens), deadline, client_gone, out);
}

ModelPool::ModelPool(const ModelPoolParams& params) : params_(params) {
    if (!params_.model_path.empty()) {
        pinned_ = std::make_shared<LoadedModel>(model_name(params_.model_path), params_.model_path,
                                                params_);
    }
    if (!params_.models_dir.empty() && !fs::is_directory(params_.models_dir)) {
        throw Error("--models-dir " + params_.models_dir + " is not a directory");
    }
}

ModelPool::~ModelPool() = default;

std::optional<std::string> ModelPool::resolve(const std::string& requested) const {
    std::string name = requested;
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ":latest") == 0) {
        name.resize(name.size() - 7);
    }
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) {
        name.resize(name.size() - 5);
    }
    if (!valid_model_name(name)) return std::nullopt;
    const fs::path path = fs::path(params_.models_dir) / (name + ".gguf");
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return std::nullopt;
    return path.string();
}

std::shared_ptr<LoadedModel> ModelPool::get(const std::string& requested) {
    if (pinned_ && (params_.models_dir.empty() || requested.empty() ||
                    requested == pinned_->name() || model_name(requested) == pinned_->name())) {
        return pinned_;
    }
    if (params_.models_dir.empty()) return pinned_;
    if (requested.empty()) throw Error("the request names no model (\"model\")");
    const std::optional<std::string> path = resolve(requested);
    if (!path) {
        throw ModelNotFoundError("model '" + requested + "' is not in " + params_.models_dir +
                                 " (GET /v1/models lists them)");
    }
    const std::string name = model_name(*path);
    const auto find = [&]() -> std::shared_ptr<LoadedModel> {
        std::lock_guard lock(mutex_);
        for (Entry& e : entries_) {
            if (e.name == name) {
                e.last_used = std::chrono::steady_clock::now();
                return e.model;
            }
        }
        return nullptr;
    };
    if (auto m = find()) return m;
    std::lock_guard load(load_mutex_);
    if (auto m = find()) return m;  // loaded by another request meanwhile
    // A file that cannot be loaded must not cost a healthy model its place: check it first
    // (mapped, every tensor and the vocabulary checked, nothing packed), then make room.
    try {
        ModelOptions check = params_.model_options;
        check.repack = false;
        const Model model(*path, check);
        const Tokenizer tokenizer(model.file());
    } catch (const std::exception& e) {
        throw ModelLoadError("model '" + name + "' cannot be loaded: " + e.what());
    }
    // Make room: unload the least recently used model that no request holds. A model whose
    // last response is still being written is held a moment longer: wait up to 2 s for one.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (;;) {
        std::unique_lock lock(mutex_);
        if (static_cast<int>(entries_.size()) < params_.max_resident) break;
        auto victim = entries_.end();
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->model.use_count() == 1 &&
                (victim == entries_.end() || it->last_used < victim->last_used)) {
                victim = it;
            }
        }
        if (victim == entries_.end()) {
            if (std::chrono::steady_clock::now() < give_up) {
                lock.unlock();
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                continue;
            }
            throw QueueFullError("--max-models " + std::to_string(params_.max_resident) +
                                 " models are loaded and busy");
        }
        std::shared_ptr<LoadedModel> unloading = std::move(victim->model);
        entries_.erase(victim);
        lock.unlock();
        unloading.reset();  // outside the lock: joins its scheduler
    }
    std::shared_ptr<LoadedModel> model;
    try {
        model = std::make_shared<LoadedModel>(name, *path, params_);
    } catch (const std::exception& e) {
        throw ModelLoadError("model '" + name + "' cannot be loaded: " + e.what());
    }
    std::lock_guard lock(mutex_);
    entries_.push_back({name, *path, model, std::chrono::steady_clock::now()});
    return model;
}

std::vector<ModelListing> ModelPool::list() const {
    std::vector<ModelListing> out;
    std::error_code ec;
    if (pinned_) {
        ModelListing m;
        m.name = pinned_->name();
        m.path = params_.model_path;
        m.size = fs::file_size(m.path, ec);
        m.modified = fs::last_write_time(m.path, ec);
        m.loaded = true;
        m.expires = std::chrono::steady_clock::time_point::max();
        out.push_back(m);
    }
    if (!params_.models_dir.empty()) {
        std::vector<ModelListing> found;
        for (const auto& entry : fs::directory_iterator(params_.models_dir, ec)) {
            if (entry.path().extension() != ".gguf" || !entry.is_regular_file(ec)) continue;
            ModelListing m;
            m.name = model_name(entry.path().string());
            if (!valid_model_name(m.name)) continue;  // could not be named in a request
            if (pinned_ && m.name == pinned_->name()) continue;
            m.path = entry.path().string();
            m.size = entry.file_size(ec);
            m.modified = entry.last_write_time(ec);
            found.push_back(m);
        }
        std::sort(found.begin(), found.end(),
                  [](const auto& a, const auto& b) { return a.name < b.name; });
        std::lock_guard lock(mutex_);
        for (ModelListing& m : found) {
            for (const Entry& e : entries_) {
                if (e.name == m.name) {
                    m.loaded = true;
                    m.expires = e.last_used + params_.keep_alive;
                }
            }
            out.push_back(m);
        }
    }
    return out;
}

std::vector<std::shared_ptr<LoadedModel>> ModelPool::loaded() const {
    std::vector<std::shared_ptr<LoadedModel>> out;
    if (pinned_) out.push_back(pinned_);
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_) out.push_back(e.model);
    return out;
}

void ModelPool::unload_idle() {
    std::vector<std::shared_ptr<LoadedModel>> unloading;
    {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (it->model.use_count() == 1 && now - it->last_used > params_.keep_alive) {
                unloading.push_back(std::move(it->model));
                it = entries_.erase(it);
            } else {
                ++it;
            }
        }
    }
    // Destroyed here, outside the lock.
}

void ModelPool::drain(std::chrono::steady_clock::time_point deadline) {
    for (const auto& m : loaded()) {
        if (m->generates_text()) m->scheduler().drain(deadline);
    }
}

}  // namespace ember::serve

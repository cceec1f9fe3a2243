// OpenAI's HTTP API (https://platform.openai.com/docs/api-reference): chat completions and
// completions, streamed as server-sent events, embeddings, models; llama-server's /tokenize and
// /detokenize.
#include <charconv>
#include <cstring>
#include <random>

#include "tools/serve/api.h"

namespace ember::serve {
namespace {

struct Usage {
    int prompt = 0, cached = 0, completion = 0;
    json to_json() const {
        return {{"prompt_tokens", prompt},
                {"completion_tokens", completion},
                {"total_tokens", prompt + completion},
                {"prompt_tokens_details", {{"cached_tokens", cached}}}};
    }
};

// A chat message's content: a string, or an array of parts of which only text is understood.
std::string message_content(const json& message, size_t index) {
    const auto it = message.find("content");
    if (it == message.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    const std::string where = "messages[" + std::to_string(index) + "].content";
    if (!it->is_array()) throw HttpError(400, where + " must be a string or an array of parts");
    std::string text;
    for (const json& part : *it) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
            throw HttpError(400, where +
                                     ": only text parts ({\"type\": \"text\", \"text\": ...}) "
                                     "are supported");
        }
        text += part["text"].get<std::string>();
    }
    return text;
}

}  // namespace

json chat_message_objects(const json& body) {
    const auto it = body.find("messages");
    if (it == body.end() || !it->is_array() || it->empty()) {
        throw HttpError(400, "'messages' must be a non-empty array");
    }
    json out = json::array();
    for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
            throw HttpError(400, where + " needs a string 'role'");
        }
        std::string role = m["role"].get<std::string>();
        if (role == "developer") role = "system";
        if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
            throw HttpError(400,
                            where + ".role '" + role +
                                "' is not supported (system, developer, user, assistant, tool)");
        }
        json message = {{"role", role}};
        // A missing or null content (an assistant turn of tool calls) goes to the template as "",
        // as llama.cpp passes it: most templates test or concatenate it as a string.
        message["content"] = message_content(m, i);
        for (const auto& [key, value] : m.items()) {
            if (key == "role" || key == "content") continue;
            if (key == "name" && value.is_string()) {
                message["name"] = value;
            } else if (key == "tool_call_id" && role == "tool" && value.is_string()) {
                message["tool_call_id"] = value;
            } else if (key == "tool_calls" && role == "assistant" && value.is_array()) {
                message["tool_calls"] = template_tool_calls(value, where);
            } else {
                refuse_unless_off(m, key.c_str(),
                                  "messages[] hold text, tool calls and tool results only");
            }
        }
        if (role == "tool" && !message.contains("tool_call_id")) {
            throw HttpError(400, where + ": a tool message needs a string 'tool_call_id'");
        }
        out.push_back(std::move(message));
    }
    return out;
}

ToolRequest tool_request(const json& body) {
    ToolRequest r;
    const auto tools = body.find("tools");
    if (tools == body.end() || tools->is_null() || (tools->is_array() && tools->empty())) {
        if (body.contains("tool_choice") && !body["tool_choice"].is_null() &&
            body["tool_choice"] != "none" && body["tool_choice"] != "auto") {
            throw HttpError(400,
                            "'tool_choice' asks for a tool call, but the request has no 'tools'");
        }
        return r;
    }
    if (!tools->is_array()) throw HttpError(400, "'tools' must be an array");
    for (const json& tool : *tools) {
        if (!tool.is_object() || tool.value("type", "") != "function" ||
            !tool.contains("function") || !tool["function"].is_object() ||
            !tool["function"].contains("name") || !tool["function"]["name"].is_string()) {
            throw HttpError(
                400,
                "each of 'tools' must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
        }
        if (tool["function"].value("strict", false) == true) r.strict = true;
    }
    r.tools = *tools;
    r.parse = true;
    if (const auto choice = body.find("tool_choice"); choice != body.end() && !choice->is_null()) {
        if (*choice == "none") {
            r.parse = false;
        } else if (*choice == "required") {
            r.required = true;
        } else if (choice->is_object() && choice->value("type", "") == "function" &&
                   choice->contains("function") && (*choice)["function"].is_object() &&
                   (*choice)["function"].contains("name") &&
                   (*choice)["function"]["name"].is_string()) {
            r.required = true;
            r.only = (*choice)["function"]["name"].get<std::string>();
        } else if (*choice != "auto") {
            throw HttpError(400,
                            "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": "
                            "\"function\", "
                            "\"function\": {\"name\": ...}}");
        }
    }
    if (const auto parallel = bool_field(body, "parallel_tool_calls")) r.parallel = *parallel;
    return r;
}

std::string tool_call_id() {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string id;
    for (int i = 0; i < 9; ++i) id += kChars[rng() % 62];
    return id;
}

// Structured output: response_format {"type": "text" | "json_object" | "json_schema",
// "json_schema": {"name", "schema", "strict"}} (OpenAI's two forms; json_object may carry a
// "schema", as llama-server allows), or llama-server's "grammar" (GBNF text).
std::shared_ptr<const Grammar> response_format_grammar(const json& body) {
    const json* grammar =
        body.contains("grammar") && !body["grammar"].is_null() ? &body["grammar"] : nullptr;
    const json* format = body.contains("response_format") && !body["response_format"].is_null()
                             ? &body["response_format"]
                             : nullptr;
    if (grammar != nullptr) {
        if (!grammar->is_string()) throw HttpError(400, "'grammar' must be a string (GBNF)");
        if (format != nullptr && format->value("type", "text") != "text") {
            throw HttpError(400, "give 'grammar' or a JSON 'response_format', not both");
        }
        return grammar_from_gbnf(grammar->get<std::string>(), "grammar");
    }
    if (format == nullptr) return nullptr;
    if (!format->is_object() || !format->contains("type") || !(*format)["type"].is_string()) {
        throw HttpError(400, "'response_format' must be an object with a string 'type'");
    }
    const std::string type = (*format)["type"].get<std::string>();
    if (type == "text") return nullptr;
    if (type == "json_object") {
        if (format->contains("schema") && !(*format)["schema"].is_null()) {
            return grammar_from_schema((*format)["schema"], "response_format.schema");
        }
        return grammar_any_json_object();
    }
    if (type == "json_schema") {
        const auto it = format->find("json_schema");
        if (it == format->end() || !it->is_object() || !it->contains("schema")) {
            throw HttpError(400,
                            "response_format 'json_schema' needs \"json_schema\": {\"name\": "
                            "..., \"schema\": {...}}");
        }
        return grammar_from_schema((*it)["schema"], "response_format.json_schema.schema");
    }
    throw HttpError(400, "response_format type '" + type +
                             "' is not one of \"text\", \"json_object\", \"json_schema\"");
}

// The fields chat and completions share: limits, stops, sampling. n must be 1.
GenerationRequest generation_fields(const json& body) {
    GenerationRequest request;
    request.sampling = sampling_from(body);
    std::optional<int64_t> max_tokens = integer_field(body, "max_completion_tokens", 0, 1 << 30);
    if (!max_tokens) max_tokens = integer_field(body, "max_tokens", -1, 1 << 30);
    request.rules.max_tokens = max_tokens ? static_cast<int>(*max_tokens) : -1;
    request.rules.stop_strings = stop_field(body, "stop");
    request.rules.ignore_eos = bool_field(body, "ignore_eos").value_or(false);  // llama-server's
    request.rules.n_keep = static_cast<int>(integer_field(body, "n_keep", 0, 1 << 30).value_or(0));
    request.rules.grammar = response_format_grammar(body);
    // logit_bias: {"token id": bias in -100..100} (the ids checked against the model's
    // vocabulary by the route).
    if (const auto it = body.find("logit_bias"); it != body.end() && !it->is_null()) {
        if (!it->is_object())
            throw HttpError(400, "'logit_bias' must be an object of token ids and biases");
        for (const auto& [key, value] : it->items()) {
            int32_t id = -1;
            const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
            if (ec != std::errc() || end != key.data() + key.size() || id < 0) {
                throw HttpError(400, "'logit_bias' key '" + key + "' is not a token id");
            }
            if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100) {
                throw HttpError(400, "'logit_bias' values must be numbers from -100 to 100");
            }
            request.sampling.logit_bias.emplace_back(id, value.get<float>());
        }
    }
    return request;
}

namespace {

enum class Kind { Chat, Completion };

// Fields of the two routes besides the sampling ones: read, accepted without effect (docs),
// and refused unless off.
void check_completion_fields(const json& body, Kind kind) {
    // Read by generation_fields() and response_format_grammar(), besides the sampling ones.
    constexpr std::string_view kCommon =
        "model n max_tokens stop ignore_eos n_keep grammar response_format stream "
        "stream_options logit_bias logprobs";
    if (kind == Kind::Chat) {
        check_fields(body,
                     std::string(kSamplingFields) + " " + std::string(kCommon) +
                         " messages max_completion_tokens top_logprobs tools tool_choice "
                         "functions function_call audio prediction modalities reasoning_effort "
                         "chat_template_kwargs "
                         "web_search_options parallel_tool_calls",
                     "user store metadata service_tier cache_prompt");
        refuse_unless_off(body, "functions", "ember serve does not call functions");
        refuse_unless_off(body, "function_call", "ember serve does not call functions");
        refuse_unless_off(body, "audio", "ember serve makes text only");
        refuse_unless_off(body, "prediction", "predicted outputs are not used");
        refuse_unless_off(body, "web_search_options", "ember serve does not search the web");
        if (const auto it = body.find("modalities");
            it != body.end() && !it->is_null() && *it != json::array({"text"})) {
            throw HttpError(400, "'modalities' is not supported: ember serve makes text only");
        }
    } else {
        check_fields(body,
                     std::string(kSamplingFields) + " " + std::string(kCommon) +
                         " prompt max_completion_tokens echo suffix best_of",
                     "user cache_prompt");
        refuse_unless_off(body, "suffix", "ember serve does not fill in the middle");
        if (auto b = integer_field(body, "best_of", 1, 1 << 20); b && *b != 1) {
            throw HttpError(400, "'best_of' must be 1 (one completion per request)");
        }
    }
}

// A prompt and the text `echo` gives back before its completion.
struct PromptText {
    std::vector<int32_t> tokens;
    std::string echo;
};
// The most choices one request makes (prompts x n): each takes a slot or waits for one.
constexpr int kMaxChoices = 16;

// A completion's prompts: a string, token ids, or a batch of either (an array of strings or of
// token arrays). A prompt's text is the caller's whole text, control tokens included (as
// llama-server reads it): no chat format stands between it and the model.
std::vector<PromptText> completion_prompts(const json& body, const Tokenizer& tokenizer) {
    const std::string message =
        "'prompt' must be a string, token ids, or an array of strings or of token arrays";
    const auto it = body.find("prompt");
    if (it == body.end() || !(it->is_string() || (it->is_array() && !it->empty()))) {
        throw HttpError(400, message);
    }
    const auto of_ids = [&](const json& ids) {
        PromptText p;
        for (const json& t : ids) {
            if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
                t.get<int64_t>() >= tokenizer.vocab().size()) {
                throw HttpError(400, "'prompt': token ids must be integers inside the vocabulary");
            }
            p.tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
        }
        p.echo = tokenizer.decode(p.tokens);
        return p;
    };
    const auto of_text = [&](const json& text) {
        return PromptText{tokenizer.encode(text.get<std::string>(), true, true),
                          text.get<std::string>()};
    };
    std::vector<PromptText> prompts;
    if (it->is_string()) {
        prompts.push_back(of_text(*it));
    } else if ((*it)[0].is_number_integer()) {
        prompts.push_back(of_ids(*it));
    } else {
        if (it->size() > kMaxChoices) {
            throw HttpError(400, "'prompt': at most " + std::to_string(kMaxChoices) +
                                     " prompts in one request");
        }
        for (const json& one : *it) {
            if (one.is_string()) {
                prompts.push_back(of_text(one));
            } else if (one.is_array()) {
                prompts.push_back(of_ids(one));
            } else {
                throw HttpError(400, message);
            }
        }
    }
    const bool echo = bool_field(body, "echo").value_or(false);
    for (PromptText& p : prompts) {
        if (p.tokens.empty()) throw HttpError(400, "the prompt is empty");
        if (!echo) p.echo.clear();
    }
    return prompts;
}

void completion_route(ServerState& state, Kind kind, const http::Request& http,
                      http::Response& response) {
    const json body = parse_body(http);
    check_completion_fields(body, kind);
    std::shared_ptr<LoadedModel> model = state.pool.get(string_field(body, "model").value_or(""));
    GenerationRequest request = generation_fields(body);
    for (const auto& [token, bias] : request.sampling.logit_bias) {
        if (token >= model->tokenizer().vocab().size()) {
            throw HttpError(
                400, "'logit_bias': token " + std::to_string(token) + " is outside the vocabulary");
        }
    }
    // Log-probabilities: chat's logprobs (a flag) and top_logprobs (0-20); completions' legacy
    // logprobs (the number of alternatives).
    if (kind == Kind::Chat) {
        const std::optional<int64_t> top = integer_field(body, "top_logprobs", 0, 20);
        if (bool_field(body, "logprobs").value_or(false)) {
            request.top_logprobs = static_cast<int>(top.value_or(0));
        } else if (top && *top > 0) {
            throw HttpError(400, "'top_logprobs' needs \"logprobs\": true");
        }
    } else if (const std::optional<int64_t> n = integer_field(body, "logprobs", 0, 20)) {
        request.top_logprobs = static_cast<int>(*n);
    }
    const int top_logprobs = request.top_logprobs;
    std::vector<PromptText> prompts;  // a chat's one, a completion's one or a batch
    ToolRequest tools;
    bool thinking = false;  // the prompt leaves the model inside a thinking block
    if (kind == Kind::Chat) {
        tools = tool_request(body);
        // chat_template_kwargs (llama-server's; e.g. enable_thinking) and reasoning_effort reach
        // the template as variables.
        json variables = json::object();
        if (const auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
            if (!it->is_object()) throw HttpError(400, "'chat_template_kwargs' must be an object");
            variables = *it;
        }
        if (const auto it = body.find("reasoning_effort"); it != body.end() && !it->is_null()) {
            if (!it->is_string()) throw HttpError(400, "'reasoning_effort' must be a string");
            variables["reasoning_effort"] = *it;
        }
        prepare_chat(*model, chat_message_objects(body), tools, variables,
                     state.special_tokens_in_messages, "a 'response_format' or 'grammar'", request,
                     &thinking);
    } else {
        prompts = completion_prompts(body, model->tokenizer());
    }
    if (kind == Kind::Chat) prompts.push_back({request.prompt, ""});
    const bool stream = bool_field(body, "stream").value_or(false);
    bool include_usage = false;
    if (body.contains("stream_options") && !body["stream_options"].is_null()) {
        if (!body["stream_options"].is_object()) {
            throw HttpError(400, "'stream_options' must be an object");
        }
        include_usage = bool_field(body["stream_options"], "include_usage").value_or(false);
    }
    // n choices of each prompt (choice p * n + j: prompt p's j-th), each its own generation;
    // choice j samples with seed + j. The scheduler copies a prompt's rows from the slot that
    // evaluated it to the others (scheduler.h), so the n choices evaluate it once.
    const int n = static_cast<int>(integer_field(body, "n", 1, kMaxChoices).value_or(1));
    if (prompts.size() * n > kMaxChoices) {
        throw HttpError(400, "prompts x n: " + std::to_string(prompts.size() * n) +
                                 " choices; one request makes at most " +
                                 std::to_string(kMaxChoices));
    }
    auto generations = std::make_shared<std::vector<std::shared_ptr<Generation>>>();
    // Whatever happens to this response, generations nobody reads must not keep their slots.
    const auto cancel_on_drop = std::shared_ptr<void>(nullptr, [generations](void*) {
        for (const auto& g : *generations) g->cancel();
    });
    for (const PromptText& prompt : prompts) {
        for (int j = 0; j < n; ++j) {
            GenerationRequest r = request;
            r.prompt = prompt.tokens;
            r.sampling.seed = request.sampling.seed + static_cast<uint64_t>(j);
            generations->push_back(submit(state, *model, std::move(r)));
        }
    }
    const std::string id = random_id(kind == Kind::Chat ? "chatcmpl-" : "cmpl-");
    const int64_t created = unix_time();
    const std::string object = kind == Kind::Chat ? "chat.completion" : "text_completion";

    const auto choice = [kind](size_t index, const std::string& text, const json& finish) {
        json c = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", finish}};
        if (kind == Kind::Chat) {
            c["message"] = {{"role", "assistant"}, {"content", text}};
        } else {
            c["text"] = text;
        }
        return c;
    };
    // Usage over every choice: each prompt's tokens once, every choice's generated ones.
    const auto usage_of = [n](const std::vector<GenerationEvent>& lasts) {
        Usage u{0, 0, 0};
        for (size_t i = 0; i < lasts.size(); ++i) {
            if (i % n == 0) {
                u.prompt += lasts[i].n_prompt;
                u.cached += lasts[i].n_cached;
            }
            u.completion += lasts[i].n_generated;
        }
        return u;
    };
    // Log-probabilities as OpenAI writes them: chat's {"content": [{token, logprob, bytes,
    // top_logprobs}]}, completions' legacy {tokens, token_logprobs, top_logprobs, text_offset}.
    const auto logprobs_json = [model, kind, top_logprobs](const std::vector<TokenLogprob>& tokens,
                                                           size_t text_offset) -> json {
        if (top_logprobs < 0) return nullptr;
        const auto piece = [model](int32_t token) { return model->tokenizer().piece(token, true); };
        if (kind == Kind::Chat) {
            const auto entry = [&](int32_t token, float lp) {
                const std::string p = piece(token);
                json bytes = json::array();
                for (const char c : p) bytes.push_back(static_cast<unsigned char>(c));
                return json{{"token", p}, {"logprob", lp}, {"bytes", bytes}};
            };
            json content = json::array();
            for (const TokenLogprob& t : tokens) {
                json e = entry(t.token, t.logprob);
                json top = json::array();
                for (const auto& [token, lp] : t.top) top.push_back(entry(token, lp));
                e["top_logprobs"] = top;
                content.push_back(std::move(e));
            }
            return {{"content", content}};
        }
        json out = {{"tokens", json::array()},
                    {"token_logprobs", json::array()},
                    {"top_logprobs", json::array()},
                    {"text_offset", json::array()}};
        for (const TokenLogprob& t : tokens) {
            const std::string p = piece(t.token);
            out["tokens"].push_back(p);
            out["token_logprobs"].push_back(t.logprob);
            json top = json::object();
            for (const auto& [token, lp] : t.top) top[piece(token)] = lp;
            out["top_logprobs"].push_back(top);
            out["text_offset"].push_back(text_offset);
            text_offset += p.size();
        }
        return out;
    };
    // The reply's tool calls, as OpenAI writes them.
    const auto calls_json = [](const std::vector<ToolCall>& calls) {
        json out = json::array();
        for (const ToolCall& c : calls) {
            out.push_back({{"id", tool_call_id()},
                           {"type", "function"},
                           {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
        }
        return out;
    };

    if (!stream) {
        json choices = json::array();
        std::vector<GenerationEvent> lasts;
        for (size_t i = 0; i < generations->size(); ++i) {
            std::string text;
            std::vector<TokenLogprob> token_logprobs;
            const std::optional<GenerationEvent> last =
                collect(state, *(*generations)[i], client_gone_of(http), &text, &token_logprobs);
            if (!last) {  // the client is gone: nobody reads this
                response.close = true;
                return;
            }
            lasts.push_back(*last);
            const std::string& echo_text = prompts[i / n].echo;
            ReplyReader::Parts parts;
            if (kind == Kind::Chat) {
                parts = reply_reader(*model, tools, thinking).whole(text);
                text = parts.content;
            }
            json c = choice(i, echo_text + text, finish_reason(last->finish));
            c["logprobs"] = logprobs_json(token_logprobs, echo_text.size());
            if (!parts.reasoning.empty()) c["message"]["reasoning_content"] = parts.reasoning;
            if (!parts.calls.empty()) {
                c["message"]["content"] = text.empty() ? json(nullptr) : json(text);
                c["message"]["tool_calls"] = calls_json(parts.calls);
                if (ended_whole(last->finish)) c["finish_reason"] = "tool_calls";
            }
            choices.push_back(std::move(c));
        }
        const json reply = {{"id", id},           {"object", object},
                            {"created", created}, {"model", model->name()},
                            {"choices", choices}, {"usage", usage_of(lasts).to_json()}};
        response.set_content(dump(reply), "application/json");
        return;
    }

    // Server-sent events: one `data: {chunk}` per piece of text, then `data: [DONE]`.
    response.set_header("Cache-Control", "no-cache");
    response.set_header("X-Accel-Buffering", "no");      // nginx: pass events on at once
    auto in_flight = std::make_shared<InFlight>(state);  // until the last event is sent
    response.set_stream("text/event-stream", [&state, model, generations, cancel_on_drop, in_flight,
                                              id, created, kind, include_usage, usage_of, tools,
                                              calls_json, thinking, logprobs_json, prompts,
                                              n](http::StreamSink& sink) {
        const std::string chunk_object =
            kind == Kind::Chat ? "chat.completion.chunk" : "text_completion";
        const auto send = [&](const json& j) { return sink.write("data: " + dump(j) + "\n\n"); };
        // The choices one after another (the others' events wait in their queues meanwhile).
        std::vector<GenerationEvent> lasts;
        for (size_t index = 0; index < generations->size(); ++index) {
            const std::string& echo_text = prompts[index / n].echo;
            // Log-probabilities of the tokens since the last chunk go with the next one.
            std::vector<TokenLogprob> pending;
            size_t text_offset = echo_text.size();
            const auto chunk = [&](const json& delta_or_text, const json& finish) {
                json c = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", finish}};
                if (!pending.empty()) {
                    c["logprobs"] = logprobs_json(pending, text_offset);
                    for (const TokenLogprob& t : pending)
                        text_offset += model->tokenizer().piece(t.token, true).size();
                    pending.clear();
                }
                if (kind == Kind::Chat) {
                    c["delta"] = delta_or_text;
                } else {
                    c["text"] = delta_or_text;
                }
                return json{{"id", id},
                            {"object", chunk_object},
                            {"created", created},
                            {"model", model->name()},
                            {"choices", json::array({c})}};
            };
            // The first delta carries the role (OpenAI sends it with empty content).
            if (kind == Kind::Chat &&
                !send(chunk({{"role", "assistant"}, {"content", ""}}, nullptr))) {
                return false;
            }
            if (!echo_text.empty() && !send(chunk(echo_text, nullptr))) return false;  // echo
            // The thinking goes out as reasoning_content; with tools, answer text that may
            // begin a call is held back until the reply shows what it is (ReplyReader).
            ReplyReader reader = reply_reader(*model, tools, thinking);
            const auto send_parts = [&](const ReplyReader::Parts& p) {
                return (p.reasoning.empty() ||
                        send(chunk({{"reasoning_content", p.reasoning}}, nullptr))) &&
                       (p.content.empty() || send(chunk({{"content", p.content}}, nullptr)));
            };
            const std::optional<GenerationEvent> last = follow(
                state, *(*generations)[index], [&sink] { return sink.client_gone(); },
                [&](const GenerationEvent& e) {
                    pending.insert(pending.end(), e.logprobs.begin(), e.logprobs.end());
                    if (e.text.empty()) return true;
                    if (kind != Kind::Chat) return send(chunk(e.text, nullptr));
                    return send_parts(reader.add(e.text));
                });
            if (!last) return false;
            lasts.push_back(*last);
            if (!ended_whole(last->finish)) {
                return send(error_body(finish_message(*last), "server_error",
                                       finish_reason(last->finish))) &&
                       sink.write("data: [DONE]\n\n");
            }
            json finish = finish_reason(last->finish);
            if (kind == Kind::Chat) {
                const ReplyReader::Parts rest = reader.finish();
                if (!send_parts(rest)) return false;
                if (!rest.calls.empty()) {
                    json calls = calls_json(rest.calls);
                    for (size_t i = 0; i < calls.size(); ++i) calls[i]["index"] = i;
                    if (!send(chunk({{"tool_calls", calls}}, nullptr))) return false;
                    finish = "tool_calls";
                }
            }
            if (!send(chunk(kind == Kind::Chat ? json::object() : json(""), finish))) return false;
        }
        if (include_usage) {
            json u = {{"id", id},
                      {"object", chunk_object},
                      {"created", created},
                      {"model", model->name()},
                      {"choices", json::array()},
                      {"usage", usage_of(lasts).to_json()}};
            if (!send(u)) return false;
        }
        return sink.write("data: [DONE]\n\n");
    });
}

json model_entry(const ModelListing& m) {
    return {{"id", m.name}, {"object", "model"}, {"created", unix_time()}, {"owned_by", "ember"}};
}

// Inputs of /v1/embeddings: a string, an array of strings, or token arrays (one or many).
std::vector<std::string> embedding_inputs(const json& body, const Tokenizer& tokenizer) {
    const auto it = body.find("input");
    const std::string message =
        "'input' must be a string, an array of strings, or an array of token arrays";
    if (it == body.end()) throw HttpError(400, message);
    std::vector<std::string> texts;
    const auto tokens_text = [&](const json& ids) {
        std::vector<int32_t> tokens;
        for (const json& id : ids) {
            if (!id.is_number_integer()) throw HttpError(400, message);
            const int64_t t = id.get<int64_t>();
            if (t < 0 || t >= tokenizer.vocab().size()) {
                throw HttpError(400, "token " + std::to_string(t) + " is outside the vocabulary");
            }
            tokens.push_back(static_cast<int32_t>(t));
        }
        return tokenizer.decode(tokens);
    };
    if (it->is_string()) {
        texts.push_back(it->get<std::string>());
    } else if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) {
        texts.push_back(tokens_text(*it));
    } else if (it->is_array() && !it->empty()) {
        for (const json& x : *it) {
            if (x.is_string()) {
                texts.push_back(x.get<std::string>());
            } else if (x.is_array()) {
                texts.push_back(tokens_text(x));
            } else {
                throw HttpError(400, message);
            }
        }
    } else {
        throw HttpError(400, message);
    }
    if (texts.size() > 2048) throw HttpError(400, "at most 2048 inputs per request");
    return texts;
}

std::string base64(const void* data, size_t n) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = static_cast<const unsigned char*>(data);
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t v = (uint32_t(p[i]) << 16) | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0) |
                           (i + 2 < n ? uint32_t(p[i + 2]) : 0);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += i + 1 < n ? table[(v >> 6) & 63] : '=';
        out += i + 2 < n ? table[v & 63] : '=';
    }
    return out;
}

// /tokenize and /detokenize read at most this much text or this many ids (bounded memory:
// the reply is written as text, never as a document of objects).
constexpr size_t kMaxTokenizeBytes = 1 << 20;
constexpr size_t kMaxDetokenizeIds = 1 << 18;

}  // namespace

void add_openai_routes(Routes& routes, ServerState& state) {
    routes.post("/v1/chat/completions", ErrorShape::OpenAI, [&state](const auto& req, auto& res) {
        completion_route(state, Kind::Chat, req, res);
    });
    routes.post("/v1/completions", ErrorShape::OpenAI, [&state](const auto& req, auto& res) {
        completion_route(state, Kind::Completion, req, res);
    });
    routes.post("/v1/embeddings", ErrorShape::OpenAI, [&state](const auto& req, auto& res) {
        const json body = parse_body(req);
        check_fields(body, "model input encoding_format dimensions", "user");
        std::shared_ptr<LoadedModel> model =
            state.pool.get(string_field(body, "model").value_or(""));
        const std::vector<std::string> texts = embedding_inputs(body, model->tokenizer());
        const std::string format = string_field(body, "encoding_format").value_or("float");
        if (format != "float" && format != "base64") {
            throw HttpError(400, "'encoding_format' must be \"float\" or \"base64\"");
        }
        if (integer_field(body, "dimensions", 1, 1 << 20)) {
            throw HttpError(400, "'dimensions' is not supported (the model's own size is used)");
        }
        const std::vector<Embedding> embeddings = embed_texts(
            state, *model, texts, /*truncate=*/false, client_gone_of(req));  // as OpenAI: 400
        json data = json::array();
        int tokens = 0;
        for (size_t i = 0; i < embeddings.size(); ++i) {
            const std::vector<float>& v = embeddings[i].values;
            tokens += embeddings[i].n_tokens;
            json e = {{"object", "embedding"}, {"index", i}};
            if (format == "base64") {
                e["embedding"] = base64(v.data(), v.size() * sizeof(float));
            } else {
                e["embedding"] = v;
            }
            data.push_back(std::move(e));
        }
        const json reply = {{"object", "list"},
                            {"data", std::move(data)},
                            {"model", model->name()},
                            {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
        res.set_content(dump(reply), "application/json");
    });
    routes.get("/v1/models/*", ErrorShape::OpenAI, [&state](const auto& req, auto& res) {
        const std::string id = req.path.substr(std::string_view("/v1/models/").size());
        for (const ModelListing& m : state.pool.list()) {
            if (m.name == id) {
                res.set_content(dump(model_entry(m)), "application/json");
                return;
            }
        }
        throw HttpError(404, "The model '" + id + "' does not exist", "invalid_request_error",
                        "model_not_found");
    });
    routes.get("/v1/models", ErrorShape::OpenAI, [&state](const auto&, auto& res) {
        json data = json::array();
        for (const ModelListing& m : state.pool.list()) data.push_back(model_entry(m));
        res.set_content(dump(json{{"object", "list"}, {"data", data}}), "application/json");
    });
    // llama-server's /tokenize and /detokenize.
    routes.post("/tokenize", ErrorShape::OpenAI, [&state](const auto& req, auto& res) {
        const json body = parse_body(req);
        check_fields(body, "model content add_special with_pieces parse_special");
        std::shared_ptr<LoadedModel> model =
            state.pool.get(string_field(body, "model").value_or(""));
        const std::optional<std::string> content = string_field(body, "content");
        if (!content) throw HttpError(400, "'content' must be a string");
        if (content->size() > kMaxTokenizeBytes) {
            throw HttpError(400, "'content' is longer than " + std::to_string(kMaxTokenizeBytes) +
                                     " bytes (tokenize it in parts)");
        }
        const bool add_special = bool_field(body, "add_special").value_or(false);
        const bool with_pieces = bool_field(body, "with_pieces").value_or(false);
        const bool parse_special = bool_field(body, "parse_special").value_or(true);
        const std::vector<int32_t> ids =
            model->tokenizer().encode(*content, add_special, parse_special);
        std::string out = "{\"tokens\":[";
        for (size_t i = 0; i < ids.size(); ++i) {
            if (i > 0) out += ',';
            if (with_pieces) {
                out += "{\"id\":" + std::to_string(ids[i]) +
                       ",\"piece\":" + dump(json(model->tokenizer().piece(ids[i], true))) + "}";
            } else {
                out += std::to_string(ids[i]);
            }
        }
        out += "]}";
        res.set_content(std::move(out), "application/json");
    });
    routes.post("/detokenize", ErrorShape::OpenAI, [&state](const auto& req, auto& res) {
        const json body = parse_body(req);
        check_fields(body, "model tokens");
        std::shared_ptr<LoadedModel> model =
            state.pool.get(string_field(body, "model").value_or(""));
        const auto it = body.find("tokens");
        if (it == body.end() || !it->is_array()) throw HttpError(400, "'tokens' must be an array");
        if (it->size() > kMaxDetokenizeIds) {
            throw HttpError(
                400, "'tokens' holds more than " + std::to_string(kMaxDetokenizeIds) + " ids");
        }
        std::vector<int32_t> ids;
        for (const json& id : *it) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() >= model->tokenizer().vocab().size()) {
                throw HttpError(
                    400, "'tokens' holds " + dump(id) + ", not a token id of the vocabulary");
            }
            ids.push_back(id.get<int32_t>());
        }
        res.set_content(dump(json{{"content", model->tokenizer().decode(ids)}}),
                        "application/json");
    });
}

}  // namespace ember::serve

// OpenAI's Responses API, POST /v1/responses: what OpenAI's newer clients and agent SDKs send.
// The input is a string or a list of items (messages, the model's earlier function calls and
// their outputs, its reasoning), with instructions and function tools; the reply is a list of
// output items (reasoning, a message, function calls), whole or streamed as typed events
// (`event: response.output_text.delta` ...). Underneath it is the chat route: the model's
// template, one ReplyReader (engine/generate/reply_reader.h) for thinking and calls, the grammar of
// required calls. ember keeps no responses: previous_response_id, conversation and background are
// refused; store is accepted and nothing is stored (docs/serve.md).
#include <algorithm>
#include <utility>

#include "tools/serve/api.h"
#include "tools/serve/connection.h"

namespace ember::serve {
namespace {

// A message item's content: a string, or text parts (input_text, output_text).
std::string content_text(const json& item, const std::string& where) {
    const auto it = item.find("content");
    if (it == item.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_array()) throw HttpError(400, where + ".content must be a string or parts");
    std::string text;
    for (const json& part : *it) {
        const std::string type =
            part.is_object() && part.contains("type") && part["type"].is_string()
                ? part["type"].get<std::string>()
                : "";
        if ((type != "input_text" && type != "output_text") || !part.contains("text") ||
            !part["text"].is_string()) {
            throw HttpError(400, where + ".content: parts of type '" + type +
                                     "' are not supported (input_text and output_text only)");
        }
        text += part["text"].get<std::string>();
    }
    return text;
}

const std::string& string_of(const json& item, const char* name, const std::string& where) {
    const auto it = item.find(name);
    if (it == item.end() || !it->is_string()) {
        throw HttpError(400, where + " needs a string '" + name + "'");
    }
    return it->get_ref<const std::string&>();
}

// instructions and input as the template's message objects: instructions as the system
// message; message items; function_call items as an assistant message's tool_calls (calls in a
// row join one message); function_call_output items as tool messages; reasoning items as the
// next assistant message's reasoning_content.
json template_messages(const json& body) {
    json out = json::array();
    if (const auto it = body.find("instructions"); it != body.end() && !it->is_null()) {
        if (!it->is_string()) throw HttpError(400, "'instructions' must be a string");
        out.push_back({{"role", "system"}, {"content", *it}});
    }
    const auto input = body.find("input");
    if (input == body.end() || (!input->is_string() && !input->is_array())) {
        throw HttpError(400, "'input' must be a string or an array of items");
    }
    if (input->is_string()) {
        out.push_back({{"role", "user"}, {"content", *input}});
        return out;
    }
    std::string reasoning;  // of the next assistant message
    const auto assistant = [&]() -> json& {
        if (out.empty() || out.back()["role"] != "assistant" || out.back().contains("tool_calls")) {
            out.push_back({{"role", "assistant"}, {"content", ""}});
        }
        if (!reasoning.empty()) out.back()["reasoning_content"] = std::exchange(reasoning, "");
        return out.back();
    };
    for (size_t i = 0; i < input->size(); ++i) {
        const json& item = (*input)[i];
        const std::string where = "input[" + std::to_string(i) + "]";
        if (!item.is_object()) throw HttpError(400, where + " must be an object");
        const std::string type = item.contains("type") && item["type"].is_string()
                                     ? item["type"].get<std::string>()
                                     : "message";  // {"role", "content"} alone is a message
        if (type == "message") {
            std::string role = string_of(item, "role", where);
            if (role == "developer") role = "system";
            if (role != "system" && role != "user" && role != "assistant") {
                throw HttpError(400, where + ".role '" + role +
                                         "' is not supported (system, developer, user, assistant)");
            }
            const std::string text = content_text(item, where);
            if (role == "assistant") {
                json& message = assistant();
                message["content"] = message["content"].get<std::string>() + text;
            } else {
                out.push_back({{"role", role}, {"content", text}});
            }
        } else if (type == "function_call") {
            json arguments = json::parse(string_of(item, "arguments", where), nullptr, false);
            if (arguments.is_discarded()) throw HttpError(400, where + ".arguments is not JSON");
            json& message = assistant();
            message["tool_calls"] = message.value("tool_calls", json::array());
            message["tool_calls"].push_back(
                {{"id", string_of(item, "call_id", where)},
                 {"type", "function"},
                 {"function",
                  {{"name", string_of(item, "name", where)}, {"arguments", arguments}}}});
        } else if (type == "function_call_output") {
            const auto output = item.find("output");
            std::string text;
            if (output != item.end() && output->is_string()) {
                text = output->get<std::string>();
            } else if (output != item.end() && output->is_array()) {
                text = content_text({{"content", *output}}, where + ".output");
            } else {
                throw HttpError(400, where + ".output must be a string or text parts");
            }
            out.push_back({{"role", "tool"},
                           {"tool_call_id", string_of(item, "call_id", where)},
                           {"content", text}});
        } else if (type == "reasoning") {
            // Its text: content's reasoning_text parts, else the summary's texts.
            for (const char* field : {"content", "summary"}) {
                const auto parts = item.find(field);
                if (parts == item.end() || !parts->is_array() || !reasoning.empty()) continue;
                for (const json& part : *parts) {
                    if (part.is_object() && part.contains("text") && part["text"].is_string())
                        reasoning += part["text"].get<std::string>();
                }
            }
        } else {
            throw HttpError(400, where + ": items of type '" + type +
                                     "' are not supported (message, function_call, "
                                     "function_call_output, reasoning)");
        }
    }
    return out;
}

// The Responses API's tools ({"type": "function", "name", "parameters", ...}) and tool_choice
// ({"type": "function", "name"}) in the chat route's shapes, read by tool_request.
ToolRequest responses_tools(const json& body) {
    json chat = json::object();
    if (const auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
        if (!tools->is_array()) throw HttpError(400, "'tools' must be an array");
        chat["tools"] = json::array();
        for (const json& tool : *tools) {
            const std::string type = tool.is_object() ? tool.value("type", "") : "";
            if (type != "function") {
                throw HttpError(400, "tools of type '" + type +
                                         "' are not supported (function tools only: ember "
                                         "serve does not search, browse or run code)");
            }
            json function = {{"name", string_of(tool, "name", "tools[]")}};
            for (const char* key : {"description", "parameters", "strict"}) {
                if (tool.contains(key) && !tool[key].is_null()) function[key] = tool[key];
            }
            chat["tools"].push_back({{"type", "function"}, {"function", function}});
        }
    }
    if (const auto choice = body.find("tool_choice"); choice != body.end() && !choice->is_null()) {
        if (choice->is_object() && choice->value("type", "") == "function") {
            chat["tool_choice"] = {
                {"type", "function"},
                {"function", {{"name", string_of(*choice, "name", "tool_choice")}}}};
        } else {
            chat["tool_choice"] = *choice;
        }
    }
    if (body.contains("parallel_tool_calls"))
        chat["parallel_tool_calls"] = body["parallel_tool_calls"];
    return tool_request(chat);
}

// text.format: {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "name",
// "schema", "strict"}.
std::shared_ptr<const Grammar> text_format_grammar(const json& body) {
    const auto text = body.find("text");
    if (text == body.end() || text->is_null()) return nullptr;
    if (!text->is_object()) throw HttpError(400, "'text' must be an object");
    check_fields(*text, "format", "verbosity");
    const auto format = text->find("format");
    if (format == text->end() || format->is_null()) return nullptr;
    const std::string type = format->is_object() ? format->value("type", "") : "";
    if (type == "text") return nullptr;
    if (type == "json_object") return grammar_any_json_object();
    if (type == "json_schema" && format->contains("schema")) {
        return grammar_from_schema((*format)["schema"], "text.format.schema");
    }
    throw HttpError(400,
                    "'text.format' must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or "
                    "{\"type\": \"json_schema\", \"schema\": {...}}");
}

// One output item of a finished reply.
json reasoning_item(const std::string& id, const std::string& text) {
    return {{"type", "reasoning"},
            {"id", id},
            {"summary", json::array()},
            {"content", json::array({{{"type", "reasoning_text"}, {"text", text}}})}};
}
json message_item(const std::string& id, const std::string& text, const char* status) {
    return {{"type", "message"},
            {"id", id},
            {"status", status},
            {"role", "assistant"},
            {"content", json::array({{{"type", "output_text"},
                                      {"text", text},
                                      {"annotations", json::array()},
                                      {"logprobs", json::array()}}})}};
}
json call_item(const ToolCall& call, const char* status) {
    // call_id: 9 letters and digits (tool_call_id), which every template accepts back.
    return {{"type", "function_call"}, {"id", random_id("fc_")},      {"call_id", tool_call_id()},
            {"name", call.name},       {"arguments", call.arguments}, {"status", status}};
}

void responses_route(ServerState& state, const http::Request& http, http::Response& response) {
    const json body = parse_body(http);
    check_fields(body,
                 std::string(kSamplingFields) +
                     " model input instructions tools tool_choice parallel_tool_calls "
                     "max_output_tokens stream text reasoning previous_response_id conversation "
                     "background include prompt max_tool_calls top_logprobs truncation",
                 "store metadata user service_tier safety_identifier prompt_cache_key");
    refuse_unless_off(body, "previous_response_id",
                      "ember serve keeps no responses: send the whole conversation as 'input'");
    refuse_unless_off(body, "conversation", "ember serve keeps no conversations");
    refuse_unless_off(body, "background", "responses run while the request waits");
    refuse_unless_off(body, "include", "ember serve adds nothing to the output items");
    refuse_unless_off(body, "prompt", "ember serve keeps no prompt templates");
    refuse_unless_off(body, "max_tool_calls", "the tools' calls are not counted");
    refuse_unless_off(body, "top_logprobs", "log-probabilities are on /v1/chat/completions");
    if (const auto t = string_field(body, "truncation"); t && *t != "disabled") {
        throw HttpError(400,
                        "'truncation' must be \"disabled\" (a prompt that does not fit is "
                        "refused)");
    }
    std::shared_ptr<LoadedModel> model = state.pool.get(string_field(body, "model").value_or(""));

    GenerationRequest request;
    request.sampling = sampling_from(body);
    const std::optional<int64_t> max_tokens = integer_field(body, "max_output_tokens", 1, 1 << 30);
    request.rules.max_tokens = max_tokens ? static_cast<int>(*max_tokens) : -1;
    request.rules.grammar = text_format_grammar(body);
    json variables = json::object();
    if (const auto it = body.find("reasoning"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) throw HttpError(400, "'reasoning' must be an object");
        check_fields(*it, "effort", "summary generate_summary");
        if (const auto effort = string_field(*it, "effort"))
            variables["reasoning_effort"] = *effort;
    }
    const ToolRequest tools = responses_tools(body);
    bool thinking = false;
    prepare_chat(*model, template_messages(body), tools, variables,
                 state.special_tokens_in_messages, "a 'text.format'", request, &thinking);
    const bool stream = bool_field(body, "stream").value_or(false);
    const std::shared_ptr<Generation> generation = submit(state, *model, std::move(request));
    const auto cancel_on_drop =
        std::shared_ptr<void>(nullptr, [generation](void*) { generation->cancel(); });

    // The response object, as it stands: what the request asked, and (once known) the output,
    // the status and the usage.
    const json shell = {
        {"id", random_id("resp_")},
        {"object", "response"},
        {"created_at", unix_time()},
        {"status", "in_progress"},
        {"error", nullptr},
        {"incomplete_details", nullptr},
        {"instructions", body.value("instructions", json(nullptr))},
        {"max_output_tokens", max_tokens ? json(*max_tokens) : json(nullptr)},
        {"model", model->name()},
        {"output", json::array()},
        {"parallel_tool_calls", tools.parallel},
        {"previous_response_id", nullptr},
        {"reasoning",
         {{"effort", variables.value("reasoning_effort", json(nullptr))}, {"summary", nullptr}}},
        {"store", false},
        {"temperature", body.value("temperature", json(nullptr))},
        {"text",
         body.contains("text") && body["text"].is_object() && body["text"].contains("format")
             ? body["text"]
             : json{{"format", {{"type", "text"}}}}},
        {"tool_choice", body.value("tool_choice", json("auto"))},
        {"tools", body.value("tools", json::array())},
        {"top_p", body.value("top_p", json(nullptr))},
        {"truncation", "disabled"},
        {"usage", nullptr},
        {"metadata", body.value("metadata", json::object())},
    };
    const auto finished = [shell](json output, const GenerationEvent& last) {
        json r = shell;
        r["output"] = std::move(output);
        if (last.finish == StopReason::Limit || last.finish == StopReason::ContextFull) {
            r["status"] = "incomplete";
            r["incomplete_details"] = {{"reason", "max_output_tokens"}};
        } else {
            r["status"] = "completed";
        }
        r["usage"] = {{"input_tokens", last.n_prompt},
                      {"input_tokens_details", {{"cached_tokens", last.n_cached}}},
                      {"output_tokens", last.n_generated},
                      {"output_tokens_details", {{"reasoning_tokens", 0}}},
                      {"total_tokens", last.n_prompt + last.n_generated}};
        return r;
    };

    if (!stream) {
        std::string text;
        const std::optional<GenerationEvent> last =
            collect(state, *generation, client_gone_of(http), &text);
        if (!last) {
            response.close = true;
            return;
        }
        const ReplyReader::Parts parts = reply_reader(*model, tools, thinking).whole(text);
        json output = json::array();
        if (!parts.reasoning.empty())
            output.push_back(reasoning_item(random_id("rs_"), parts.reasoning));
        if (!parts.content.empty() || parts.calls.empty()) {
            output.push_back(message_item(random_id("msg_"), parts.content, "completed"));
        }
        for (const ToolCall& call : parts.calls) output.push_back(call_item(call, "completed"));
        response.set_content(dump(finished(std::move(output), *last)), "application/json");
        return;
    }

    response.set_header("Cache-Control", "no-cache");
    response.set_header("X-Accel-Buffering", "no");
    auto in_flight = std::make_shared<InFlight>(state);
    auto reader = std::make_shared<ReplyReader>(reply_reader(*model, tools, thinking));
    response.set_stream("text/event-stream", [&state, generation, cancel_on_drop, in_flight, reader,
                                              shell, finished](http::StreamSink& sink) {
        int sequence = 0;
        const auto event = [&](const std::string& type, json data) {
            data["type"] = type;
            data["sequence_number"] = sequence++;
            return sink.write("event: " + type + "\ndata: " + dump(data) + "\n\n");
        };
        json output = json::array();  // the items so far, each as it stands
        // The open item (reasoning or message) takes the deltas of its kind; another kind of
        // text closes it first.
        enum class Open { None, Reasoning, Message } open = Open::None;
        std::string open_text;
        const auto close = [&]() {
            if (open == Open::None) return true;
            const int index = static_cast<int>(output.size()) - 1;
            json& item = output[index];
            const bool reasoning = open == Open::Reasoning;
            const json part = reasoning ? json{{"type", "reasoning_text"}, {"text", open_text}}
                                        : message_item("", open_text, "")["content"][0];
            const json where = {
                {"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}};
            json done = where;
            done["text"] = open_text;
            item = reasoning ? reasoning_item(item["id"], open_text)
                             : message_item(item["id"], open_text, "completed");
            json part_done = where;
            part_done["part"] = part;
            open = Open::None;
            if (!reasoning) done["logprobs"] = json::array();
            return event(reasoning ? "response.reasoning_text.done" : "response.output_text.done",
                         done) &&
                   event("response.content_part.done", part_done) &&
                   event("response.output_item.done", {{"output_index", index}, {"item", item}});
        };
        const auto text = [&](Open kind, const std::string& delta) {
            if (delta.empty()) return true;
            if (open != kind) {
                if (!close()) return false;
                const bool reasoning = kind == Open::Reasoning;
                json item = reasoning ? reasoning_item(random_id("rs_"), "")
                                      : message_item(random_id("msg_"), "", "in_progress");
                item["content"] = json::array();
                output.push_back(item);
                const int index = static_cast<int>(output.size()) - 1;
                const json part = reasoning ? json{{"type", "reasoning_text"}, {"text", ""}}
                                            : message_item("", "", "")["content"][0];
                open = kind;
                open_text.clear();
                if (!event("response.output_item.added",
                           {{"output_index", index}, {"item", item}}) ||
                    !event("response.content_part.added", {{"item_id", item["id"]},
                                                           {"output_index", index},
                                                           {"content_index", 0},
                                                           {"part", part}})) {
                    return false;
                }
            }
            open_text += delta;
            const int index = static_cast<int>(output.size()) - 1;
            json d = {{"item_id", output[index]["id"]},
                      {"output_index", index},
                      {"content_index", 0},
                      {"delta", delta}};
            if (kind == Open::Message) d["logprobs"] = json::array();
            return event(kind == Open::Reasoning ? "response.reasoning_text.delta"
                                                 : "response.output_text.delta",
                         d);
        };
        const auto parts = [&](const ReplyReader::Parts& p) {
            return text(Open::Reasoning, p.reasoning) && text(Open::Message, p.content);
        };
        json created = shell;
        if (!event("response.created", {{"response", created}}) ||
            !event("response.in_progress", {{"response", created}})) {
            return false;
        }
        const std::optional<GenerationEvent> last = follow(
            state, *generation, [&sink] { return sink.client_gone(); },
            [&](const GenerationEvent& e) { return e.text.empty() || parts(reader->add(e.text)); });
        if (!last) return false;
        if (!ended_whole(last->finish)) {
            json failed = shell;
            failed["status"] = "failed";
            failed["error"] = {{"code", "server_error"}, {"message", finish_message(*last)}};
            return event("response.failed", {{"response", failed}});
        }
        const ReplyReader::Parts rest = reader->finish();
        if (!parts(rest)) return false;
        if (!close()) return false;
        const bool answered = std::any_of(output.begin(), output.end(), [](const json& item) {
            return item["type"] == "message";
        });
        if (rest.calls.empty() && !answered) {  // no answer and no calls: an empty message
            const json item = message_item(random_id("msg_"), "", "completed");
            output.push_back(item);
            const int index = static_cast<int>(output.size()) - 1;
            if (!event("response.output_item.added", {{"output_index", index}, {"item", item}}) ||
                !event("response.output_item.done", {{"output_index", index}, {"item", item}})) {
                return false;
            }
        }
        for (const ToolCall& call : rest.calls) {
            json item = call_item(call, "in_progress");
            item["arguments"] = "";
            output.push_back(item);
            const int index = static_cast<int>(output.size()) - 1;
            const json where = {{"item_id", item["id"]}, {"output_index", index}};
            json delta = where, done = where;
            delta["delta"] = call.arguments;
            done["arguments"] = call.arguments;
            item["arguments"] = call.arguments;
            item["status"] = "completed";
            output[index] = item;
            json added = output[index];
            added["arguments"] = "";
            added["status"] = "in_progress";
            if (!event("response.output_item.added", {{"output_index", index}, {"item", added}}) ||
                !event("response.function_call_arguments.delta", delta) ||
                !event("response.function_call_arguments.done", done) ||
                !event("response.output_item.done", {{"output_index", index}, {"item", item}})) {
                return false;
            }
        }
        const json ended = finished(output, *last);
        return event(ended["status"] == "completed" ? "response.completed" : "response.incomplete",
                     {{"response", ended}});
    });
}

}  // namespace

void add_responses_route(Routes& routes, ServerState& state) {
    routes.post("/v1/responses", ErrorShape::OpenAI,
                [&state](const auto& req, auto& res) { responses_route(state, req, res); });
}

}  // namespace ember::serve

// Structured output end to end: the bundled model sampling under a JSON schema (every reply
// parses with nlohmann-json and validates against the schema), grammars that end the turn or
// run out of tokens, the sampler's mask, and the C API.
#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "ember.h"
#include "engine/generate/sampler.h"
#include "engine/generate/session.h"
#include "engine/generate/turn.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/token_grammar.h"
#include "engine/model/model.h"
#include "engine/text/chat_format.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tests/broken_gguf.h"

namespace ember {
namespace {

using nlohmann::json;

std::string bundled_model() {
    return std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf";
}

size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// Whether s has the shape: 'x' a hex digit, 'd' a decimal digit, anything else itself.
// (Not std::regex: GCC 12 warns inside it under the sanitizer build's -O2.)
bool shaped(const std::string& s, std::string_view shape) {
    if (s.size() != shape.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const bool ok = shape[i] == 'x'   ? std::isxdigit(static_cast<unsigned char>(s[i])) != 0
                        : shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(s[i])) != 0
                                          : s[i] == shape[i];
        if (!ok) return false;
    }
    return true;
}

// A validator for the keywords the tests' schemas use, written from the JSON Schema
// specification (draft 2020-12): an independent check of what the grammar lets through.
bool valid(const json& schema, const json& value, const json& root, std::string& why) {
    const auto fail = [&](const std::string& what) {
        why = what + " at " + value.dump();
        return false;
    };
    if (schema.contains("$ref")) {
        const std::string ref = schema["$ref"];
        return valid(root.at(json::json_pointer(ref.substr(1))), value, root, why);
    }
    if (schema.contains("anyOf") || schema.contains("oneOf")) {
        const json& options = schema.contains("anyOf") ? schema["anyOf"] : schema["oneOf"];
        int matched = 0;
        for (const json& o : options) {
            std::string ignored;
            matched += valid(o, value, root, ignored);
        }
        if (matched == 0 || (schema.contains("oneOf") && matched > 1)) return fail("anyOf/oneOf");
    }
    if (schema.contains("type")) {
        const std::string type = schema["type"];
        const bool ok = type == "object"    ? value.is_object()
                        : type == "array"   ? value.is_array()
                        : type == "string"  ? value.is_string()
                        : type == "integer" ? value.is_number_integer()
                        : type == "number"  ? value.is_number()
                        : type == "boolean" ? value.is_boolean()
                                            : value.is_null();
        if (!ok) return fail("type " + type);
    }
    if (schema.contains("enum")) {
        const json& e = schema["enum"];
        if (std::find(e.begin(), e.end(), value) == e.end()) return fail("enum");
    }
    if (schema.contains("const") && schema["const"] != value) return fail("const");
    if (value.is_string()) {
        const std::string s = value;
        if (schema.contains("minLength") && code_points(s) < schema["minLength"]) {
            return fail("minLength");
        }
        if (schema.contains("maxLength") && code_points(s) > schema["maxLength"]) {
            return fail("maxLength");
        }
        if (schema.value("format", "") == "uuid" &&
            !shaped(s, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")) {
            return fail("uuid");
        }
        if (schema.value("format", "") == "date" &&
            (!shaped(s, "dddd-dd-dd") || s.substr(5, 2) < "01" || s.substr(5, 2) > "12" ||
             s.substr(8, 2) < "01" || s.substr(8, 2) > "31")) {
            return fail("date");
        }
    }
    if (value.is_number()) {
        const double x = value;
        if (schema.contains("minimum") && x < schema["minimum"].get<double>()) return fail("min");
        if (schema.contains("maximum") && x > schema["maximum"].get<double>()) return fail("max");
    }
    if (value.is_array()) {
        if (schema.contains("minItems") && value.size() < schema["minItems"])
            return fail("minItems");
        if (schema.contains("maxItems") && value.size() > schema["maxItems"])
            return fail("maxItems");
        if (schema.contains("items")) {
            for (const json& item : value) {
                if (!valid(schema["items"], item, root, why)) return false;
            }
        }
    }
    if (value.is_object()) {
        const json properties = schema.value("properties", json::object());
        for (const json& name : schema.value("required", json::array())) {
            if (!value.contains(name.get<std::string>())) return fail("required " + name.dump());
        }
        for (const auto& [key, member] : value.items()) {
            if (properties.contains(key)) {
                if (!valid(properties[key], member, root, why)) return false;
            } else if (schema.contains("additionalProperties")) {
                const json& extra = schema["additionalProperties"];
                if (extra == false) return fail("additional property " + key);
                if (extra.is_object() && !valid(extra, member, root, why)) return false;
            }
        }
    }
    return true;
}

const char* kPersonSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 20},
    "age": {"type": "integer", "minimum": 1, "maximum": 120},
    "score": {"type": "number", "minimum": 0, "maximum": 1},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 8},
             "minItems": 1, "maxItems": 3},
    "pet": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/pet"}]},
    "color": {"enum": ["red", "green", "blue"]},
    "id": {"type": "string", "format": "uuid"},
    "born": {"type": "string", "format": "date"}
  },
  "required": ["name", "age", "tags", "color"],
  "additionalProperties": false,
  "$defs": {
    "pet": {"type": "object",
            "properties": {"kind": {"const": "cat"},
                           "lives": {"type": "integer", "minimum": 0, "maximum": 9}},
            "required": ["kind"]}
  }
})";

class StructuredOutput : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        model_ = new Model(bundled_model());
        tokenizer_ = new Tokenizer(model_->file());
    }
    static void TearDownTestSuite() {
        delete tokenizer_;
        delete model_;
    }
    static Session session(uint64_t seed) {
        SessionParams params;
        params.context.n_ctx = 2048;
        params.context.n_threads = 1;
        params.sampling.seed = seed;
        return Session(*model_, *tokenizer_, params);
    }
    static Model* model_;
    static Tokenizer* tokenizer_;
};
Model* StructuredOutput::model_ = nullptr;
Tokenizer* StructuredOutput::tokenizer_ = nullptr;

// 200 replies of the bundled model (random seeds, ember run's default sampling): every one
// ends by itself, parses as JSON and is valid under the schema.
TEST_F(StructuredOutput, TwoHundredSamplesAreValidJson) {
    const json schema = json::parse(kPersonSchema);
    const auto grammar = Grammar::parse(json_schema_to_gbnf(kPersonSchema));
    const uint64_t first_seed = std::random_device{}();
    std::set<std::string> distinct;
    for (int i = 0; i < 200; ++i) {
        const uint64_t seed = first_seed + static_cast<uint64_t>(i);
        SCOPED_TRACE("seed " + std::to_string(seed));
        Session s = session(seed);
        TurnOptions turn;
        turn.max_tokens = 1500;
        turn.grammar = grammar;
        const TurnResult r =
            s.generate("Once upon a time", turn, [](std::string_view) { return true; });
        ASSERT_EQ(r.reason, StopReason::EndOfSequence) << r.text;
        json value;
        ASSERT_NO_THROW(value = json::parse(r.text)) << r.text;
        std::string why;
        EXPECT_TRUE(valid(schema, value, schema, why)) << why << "\n" << r.text;
        distinct.insert(r.text);
    }
    EXPECT_GT(distinct.size(), 150u);  // sampled, not one reply over and over
}

// End-of-sequence comes only where the grammar may end; a finished grammar ends the turn.
TEST_F(StructuredOutput, TheGrammarDecidesWhereTheTextEnds) {
    const auto grammar = Grammar::parse(R"(root ::= " there was a " ("cat" | "dog") "." )");
    for (uint64_t seed = 0; seed < 20; ++seed) {
        Session s = session(seed);
        TurnOptions turn;
        turn.grammar = grammar;
        const TurnResult r =
            s.generate("Once upon a time", turn, [](std::string_view) { return true; });
        EXPECT_EQ(r.reason, StopReason::EndOfSequence);
        EXPECT_TRUE(r.text == " there was a cat." || r.text == " there was a dog.") << r.text;
        // The session goes on after the constrained turn, free again.
        TurnOptions free_turn;
        free_turn.max_tokens = 5;
        EXPECT_EQ(s.generate("", free_turn, [](std::string_view) { return true; }).n_generated, 5);
    }
}

// A grammar that cannot finish inside n_predict stops at the limit, text still inside it.
TEST_F(StructuredOutput, AGrammarThatCannotFinishStopsAtTheLimit) {
    Session s = session(1);
    TurnOptions turn;
    turn.max_tokens = 16;
    turn.grammar = Grammar::parse(R"(root ::= [a-z ]{300} ".")");
    const TurnResult r = s.generate("Once", turn, [](std::string_view) { return true; });
    EXPECT_EQ(r.reason, StopReason::Limit);
    EXPECT_EQ(r.n_generated, 16);
    EXPECT_TRUE(Grammar::parse("root ::= [a-z ]+")->matches(r.text)) << r.text;
}

// A lazy grammar (TurnRules::grammar_trigger): the text is free until the trigger appears in
// it, then held to the grammar from the trigger on (what a strict tool call under tool_choice
// auto needs: free text, then a call of the schema from its marker).
TEST_F(StructuredOutput, ALazyGrammarHoldsTheTextFromItsTriggerOn) {
    // Greedy, the bundled model continues "Once upon a time," with "there was a little girl
    // named Lily"; from " little" on the grammar takes over and ends the text.
    TurnOptions free_turn;
    free_turn.max_tokens = 24;
    free_turn.ignore_eos = true;
    const auto greedy = [] {
        SessionParams params;
        params.context.n_ctx = 256;
        params.context.n_threads = 1;
        params.sampling.temperature = 0;
        return Session(*model_, *tokenizer_, params);
    };
    Session plain = greedy();
    const std::string free_text =
        plain.generate("Once upon a time,", free_turn, [](std::string_view) { return true; }).text;
    const size_t at = free_text.find(" little");
    ASSERT_NE(at, std::string::npos) << free_text;
    TurnOptions lazy = free_turn;
    lazy.grammar = Grammar::parse(R"(root ::= " little " ("robot" | "dragon") " who sang.")");
    lazy.grammar_trigger = " little";
    Session held = greedy();
    const TurnResult r =
        held.generate("Once upon a time,", lazy, [](std::string_view) { return true; });
    EXPECT_EQ(r.reason, StopReason::EndOfSequence) << r.text;
    ASSERT_GE(r.text.size(), at) << r.text;
    EXPECT_EQ(r.text.substr(0, at), free_text.substr(0, at));  // free before the trigger
    const std::string tail = r.text.substr(at);
    EXPECT_TRUE(tail == " little robot who sang." || tail == " little dragon who sang.") << r.text;
    // A trigger that never appears leaves the whole text free.
    lazy.grammar_trigger = "<tool_call>";
    Session never = greedy();
    EXPECT_EQ(never.generate("Once upon a time,", lazy, [](std::string_view) { return true; }).text,
              free_text);
}

// A chat format's call markers that the vocabulary has as control tokens (Mistral's
// [TOOL_CALLS], LFM2's <|tool_call_start|>) are part of the reply, as llama.cpp's preserved
// tokens: printed, and allowed to a grammar; other control tokens print nothing.
TEST(ChatMarkers, ControlTokensOfTheCallMarkersAreShown) {
    const std::string file = ::testing::TempDir() + "control-markers.gguf";
    constexpr int32_t kMarker = 500;  // becomes the control token [TOOL_CALLS]
    {
        const gguf::File original(bundled_model());
        const gguf::Value& tokens =
            original.get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING);
        const gguf::Value& types =
            original.get_array("tokenizer.ggml.token_type", gguf::ValueType::I32);
        std::vector<std::string> texts;
        std::vector<int32_t> kinds;
        for (uint64_t i = 0; i < tokens.array_size(); ++i) {
            texts.emplace_back(tokens.string_at(i));
            kinds.push_back(static_cast<int32_t>(types.int_at(i)));
        }
        texts[kMarker] = "[TOOL_CALLS]";
        kinds[kMarker] = 3;  // control
        test::copy_with(bundled_model(), file, [&](gguf::Writer& w) {
            w.set_array_strings("tokenizer.ggml.tokens", texts);
            w.set_array_i32("tokenizer.ggml.token_type", kinds);
            w.set_string("tokenizer.chat_template",
                         "{% for m in messages %}[INST]{{ m.content }}[/INST]{% endfor %}"
                         "{# [TOOL_CALLS] #}");
        });
    }
    const Model model(file);
    const Tokenizer tokenizer(model.file());
    const ChatFormat format = ChatFormat::for_model(model.file(), tokenizer, "");
    TurnOptions rules;
    add_chat_ends(rules, format, tokenizer);
    ASSERT_EQ(rules.shown_tokens, std::vector<int32_t>{kMarker});
    rules.max_tokens = 6;
    SessionParams params;
    params.context.n_ctx = 128;
    params.context.n_threads = 1;
    params.sampling.temperature = 0;
    params.sampling.logit_bias = {{kMarker, 100.0f}};  // the model writes the marker first
    Session shown(model, tokenizer, params);
    EXPECT_EQ(shown.generate("Hi", rules, [](std::string_view) { return true; }).text.substr(0, 12),
              "[TOOL_CALLS]");
    // A grammar may write the marker as its control token.
    rules.grammar = Grammar::parse(R"(root ::= "[TOOL_CALLS]" [a-z ]+)");
    Session held(model, tokenizer, params);
    const TurnResult r = held.generate("Hi", rules, [](std::string_view) { return true; });
    EXPECT_EQ(r.text.substr(0, 12), "[TOOL_CALLS]");
    ASSERT_GT(held.tokens().size(), static_cast<size_t>(r.n_prompt));
    EXPECT_EQ(held.tokens()[r.n_prompt], kMarker);
    // Without the chat's rules the control token prints nothing.
    TurnOptions plain;
    plain.max_tokens = 1;
    Session quiet(model, tokenizer, params);
    EXPECT_EQ(quiet.generate("Hi", plain, [](std::string_view) { return true; }).text, "");
    std::remove(file.c_str());
}

// The sampler draws first and masks only a refused token: greedy then gives the best allowed.
TEST(GrammarSampling, MasksOnlyWhenTheDrawnTokenIsRefused) {
    const auto vocabulary =
        std::make_shared<GrammarVocabulary>(std::vector<std::string>{"", "a", "b", "ab", "c"});
    TokenGrammar grammar(Grammar::parse(R"(root ::= ("a" | "b")+)"), vocabulary, {0});
    SamplerParams greedy;
    greedy.temperature = 0;
    Sampler sampler(greedy);
    const std::vector<float> logits = {5, 1, 2, 0.5f, 9};      // end, a, b, ab, c
    EXPECT_EQ(sampler.sample(logits.data(), 5, &grammar), 2);  // "c" and the end are refused
    grammar.accept(2);
    EXPECT_EQ(sampler.sample(logits.data(), 5, &grammar), 0);  // now the text may end
    // Sampling with a temperature never gives a refused token.
    SamplerParams warm;
    warm.temperature = 1.5f;
    warm.top_k = 0;
    warm.top_p = 1;
    warm.min_p = 0;
    TokenGrammar fresh(Grammar::parse(R"(root ::= ("a" | "b")+)"), vocabulary, {0});
    for (uint64_t seed = 0; seed < 200; ++seed) {
        warm.seed = seed;
        Sampler s(warm);
        const int32_t t = s.sample(logits.data(), 5, &fresh);
        EXPECT_TRUE(t == 1 || t == 2 || t == 3) << t;
    }
    // Nothing allowed: -1.
    TokenGrammar dead(Grammar::parse(R"(root ::= "z")"), vocabulary, {});
    EXPECT_EQ(sampler.sample(logits.data(), 5, &dead), -1);
}

// The shortcut (the best top_k allowed tokens found among the best few hundred) draws what
// masking the whole vocabulary first would: compared with a sampler on pre-masked logits whose
// random generator took the same first draw.
TEST(GrammarSampling, TheShortcutDrawsWhatAMaskWould) {
    std::mt19937 rng(3);
    std::vector<std::string> texts = {""};
    for (int i = 1; i < 600; ++i) {
        std::string t;
        for (int k = 0; k <= i % 3; ++k) t += static_cast<char>('a' + rng() % 26);
        texts.push_back(t);
    }
    const auto vocabulary = std::make_shared<GrammarVocabulary>(texts);
    const auto grammar = Grammar::parse("root ::= [a-m]+");
    std::normal_distribution<float> normal(0, 3);
    int refused = 0;
    for (int top_k : {0, 1, 5, 40}) {
        for (float temperature : {0.0f, 0.7f}) {
            for (uint64_t seed = 0; seed < 40; ++seed) {
                std::vector<float> logits(texts.size());
                for (float& l : logits) l = normal(rng);
                SamplerParams p;
                p.top_k = top_k;
                p.temperature = temperature;
                p.seed = seed;
                Sampler a(p), b(p);
                TokenGrammar g(grammar, vocabulary, {0});
                const int32_t token = a.sample(logits.data(), static_cast<int>(logits.size()), &g);
                const int32_t first = b.sample(logits.data(), static_cast<int>(logits.size()));
                if (g.allows(first)) {
                    EXPECT_EQ(token, first);
                    continue;
                }
                ++refused;
                std::vector<float> masked = logits;
                for (size_t t = 0; t < masked.size(); ++t) {
                    if (!g.allows(static_cast<int32_t>(t))) masked[t] = -INFINITY;
                }
                EXPECT_EQ(token, b.sample(masked.data(), static_cast<int>(masked.size())))
                    << "top_k " << top_k << " temperature " << temperature << " seed " << seed;
            }
        }
    }
    EXPECT_GT(refused, 100);
}

// The C API: a JSON schema per generate call, errors checked up front.
TEST(StructuredOutputCApi, JsonSchemaAndGrammarPerCall) {
    ember_model* model = nullptr;
    ASSERT_EQ(ember_model_load(bundled_model().c_str(), nullptr, &model, nullptr, 0), EMBER_OK);
    ember_session* session = nullptr;
    ember_session_params sp = ember_session_default_params();
    sp.sampling.seed = 11;
    sp.n_threads = 1;
    ASSERT_EQ(ember_session_create(model, &sp, &session, nullptr, 0), EMBER_OK);

    ember_generate_params gp = ember_generate_default_params();
    gp.n_predict = 1000;
    gp.json_schema = R"({"type": "object", "properties": {"ok": {"type": "boolean"}},
                         "required": ["ok"], "additionalProperties": false})";
    std::string text;
    const auto collect = [](const char* t, size_t n, void* user) {
        static_cast<std::string*>(user)->append(t, n);
        return true;
    };
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once", &gp, collect, &text, &stats), EMBER_OK);
    EXPECT_EQ(stats.stop_reason, 0);
    const json value = json::parse(text);
    ASSERT_TRUE(value.is_object()) << text;
    EXPECT_TRUE(value["ok"].is_boolean()) << text;

    char error[256] = "";
    EXPECT_EQ(ember_grammar_check("root ::= \"a\"\nx ::= (", nullptr, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(error, "grammar: line 2, column 8: a '(' without its ')'");
    EXPECT_EQ(ember_grammar_check(nullptr, R"({"type": "string", "pattern": "a+"})", error,
                                  sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(error).find("pattern"), std::string::npos) << error;
    EXPECT_EQ(ember_grammar_check("root ::= \"a\"", "{}", error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_grammar_check("root ::= \"a\"", nullptr, error, sizeof(error)), EMBER_OK);

    // A bad schema fails the call before anything is evaluated.
    const int32_t before = ember_session_n_tokens(session);
    gp.json_schema = R"({"type": "number", "multipleOf": 2})";
    EXPECT_EQ(ember_generate(session, " more", &gp, collect, &text, &stats),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_session_n_tokens(session), before);
    gp.json_schema = nullptr;
    gp.grammar = "root ::= \" yes\" | \" no\"";
    text.clear();
    ASSERT_EQ(ember_generate(session, " Answer:", &gp, collect, &text, &stats), EMBER_OK);
    EXPECT_TRUE(text == " yes" || text == " no") << text;

    ember_session_free(session);
    ember_model_free(model);
}

}  // namespace
}  // namespace ember

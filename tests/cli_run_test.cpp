// `ember run`, `ember logits`, `ember perplexity` and `ember tokenize` as a user runs them.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "tests/cli_run.h"
#include "tests/shared_data.h"

namespace ember::test {
namespace {

std::string bundled_model() {
    return std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf";
}

TEST(CliRun, GreedyIdsFromPromptIdsMatchLlamaCpp) {
    const auto result = run_ember("run -m " + bundled_model() +
                                  " --prompt-ids 1,403,407,261,378 -n 200 --temp 0 --print-ids");
    ASSERT_EQ(result.status, 0) << result.err;
    const auto ref = nlohmann::json::parse(
        read_file(shared_path("reference/stories260K/stories260K-once.json")));
    std::string expected;
    for (int id : ref["greedy_ids"]) expected += (expected.empty() ? "" : " ") + std::to_string(id);
    EXPECT_EQ(result.out, expected + "\n");
    EXPECT_NE(result.err.find("tokens/s"), std::string::npos);
}

TEST(CliRun, GreedyTextFromATextPromptMatchesLlamaCpp) {
    const auto result =
        run_ember("run -m " + bundled_model() + " -p 'Once upon a time' -n 200 --temp 0");
    ASSERT_EQ(result.status, 0) << result.err;
    const auto expected = read_file(shared_path("reference/stories260K/stories260K-once.txt"));
    EXPECT_EQ(result.out, std::string(expected.begin(), expected.end()));
}

TEST(CliRun, SameSeedSameText) {
    const std::string cmd = "run -m " + bundled_model() + " -p 'Once upon a time' -n 40 --seed 7";
    const auto a = run_ember(cmd), b = run_ember(cmd);
    ASSERT_EQ(a.status, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_FALSE(a.out.empty());
}

// Speculative decoding from the command line: llama.cpp's story, token for token, with
// stories-5M's Q4_0 file drafting for the bundled stories260K (the same vocabulary), and
// by lookup; the guesses counted on stderr; a model with recurrent layers refused in one line.
TEST(CliRun, SpeculationPrintsTheSameStory) {
    const auto expected = read_file(shared_path("reference/stories260K/stories260K-once.txt"));
    const std::string draft =
        shared_path("models/ember-stories-5M/ember-stories-5M-Q4_0.gguf").string();
    for (const std::string& how :
         std::vector<std::string>{" --draft-model " + draft + " --draft-max 4", " --lookup 6"}) {
        const auto result =
            run_ember("run -m " + bundled_model() + " -p 'Once upon a time' -n 200 --temp 0" + how);
        ASSERT_EQ(result.status, 0) << result.err;
        EXPECT_EQ(result.out, std::string(expected.begin(), expected.end())) << how;
        EXPECT_NE(result.err.find("draft: "), std::string::npos) << result.err;
    }
    const auto refused =
        run_ember("run -m " + shared_path("arch2/models/mini-lfm2-F32.gguf").string() +
                  " -p a -n 4 --lookup 4");
    EXPECT_EQ(refused.status, 1);
    EXPECT_EQ(refused.err.rfind("ember: error: ", 0), 0u) << refused.err;
    EXPECT_EQ(refused.err.find('\n'), refused.err.size() - 1) << refused.err;
    EXPECT_NE(refused.err.find("recurrent state"), std::string::npos) << refused.err;
    // Draft sizes with nothing to draft are refused, not ignored.
    for (const std::string& alone : {std::string(" --draft-max 4"), std::string(" --draft-min 2"),
                                     std::string(" --lookup 4 --draft-p-min 0.5")}) {
        const auto r = run_ember("run -m " + bundled_model() + " -p a -n 4" + alone);
        EXPECT_EQ(r.status, 2) << alone << ": " << r.err;
        EXPECT_NE(r.err.find("--draft-"), std::string::npos) << r.err;
    }
}

// --prompt-cache: the first run evaluates the prompt and saves it; the second evaluates none of
// it and prints the same text; a longer prompt reuses the cached start; a damaged, truncated
// or foreign file is reported and the prompt evaluated afresh (same text again).
TEST(CliRun, PromptCacheSkipsAPromptItHasSeen) {
    const auto dir = temp_dir("prompt-cache");
    const std::string cache = (dir / "story.session").string();
    const std::string cmd = "run -m " + bundled_model() +
                            " -p 'Once upon a time, there was a little girl' -n 40 --seed 3 "
                            "--prompt-cache " +
                            cache;
    const auto first = run_ember(cmd);
    ASSERT_EQ(first.status, 0) << first.err;
    ASSERT_TRUE(std::filesystem::exists(cache));
    EXPECT_NE(first.err.find("prompt: 13 tokens in"), std::string::npos) << first.err;
    const auto second = run_ember(cmd);
    ASSERT_EQ(second.status, 0) << second.err;
    EXPECT_EQ(second.out, first.out);
    EXPECT_NE(second.err.find("prompt: 0 tokens (+13 from the prompt cache)"), std::string::npos)
        << second.err;
    const auto longer = run_ember("run -m " + bundled_model() +
                                  " -p 'Once upon a time, there was a little girl named Lily' "
                                  "-n 10 --seed 3 --prompt-cache " +
                                  cache);
    ASSERT_EQ(longer.status, 0) << longer.err;
    EXPECT_NE(longer.err.find("(+13 from the prompt cache)"), std::string::npos) << longer.err;

    run_ember(cmd);  // the cache holds the first prompt again
    const auto bytes = read_file(cache);
    const auto write = [&](const std::vector<uint8_t>& b) {
        std::ofstream(cache, std::ios::binary)
            .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    };
    std::vector<uint8_t> damaged = bytes;
    damaged[damaged.size() / 2] ^= 1;
    write(damaged);
    auto again = run_ember(cmd);
    EXPECT_EQ(again.status, 0);
    EXPECT_EQ(again.out, first.out);
    EXPECT_NE(again.err.find("prompt cache not used: " + cache + ": the state is damaged"),
              std::string::npos)
        << again.err;
    EXPECT_NE(again.err.find("prompt: 13 tokens in"), std::string::npos) << again.err;
    write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100));
    again = run_ember(cmd);
    EXPECT_EQ(again.out, first.out);
    EXPECT_NE(again.err.find("truncated"), std::string::npos) << again.err;
    // Another model's state (ember-stories-5M writes it).
    const auto other = run_ember(
        "run -m " + shared_path("models/ember-stories-5M/ember-stories-5M-Q8_0.gguf").string() +
        " -p 'Once upon a time' -n 4 --prompt-cache " + cache);
    ASSERT_EQ(other.status, 0) << other.err;
    again = run_ember(cmd);
    EXPECT_EQ(again.out, first.out);
    EXPECT_NE(again.err.find("belongs to another model"), std::string::npos) << again.err;
    std::filesystem::remove_all(dir);
}

// ember chat --prompt-cache: a conversation ended and started again goes on where it was (the
// next reply equals the one an uninterrupted chat gives).
// --prompt-cache never writes over one of the command's inputs (the model, directly or through
// a link; a grammar file) and refuses what is not a regular file (a directory, /dev/zero that
// would be read until memory runs out, a FIFO that would block): before the model loads.
TEST(CliRun, PromptCacheNeverTakesAnInputOrASpecialFile) {
    const auto dir = temp_dir("prompt-cache-inputs");
    const std::string model = (dir / "model.gguf").string();
    std::filesystem::copy_file(bundled_model(), model);
    const std::string link = (dir / "link.session").string();
    std::filesystem::create_symlink(model, link);
    const std::string grammar = (dir / "yes.gbnf").string();
    std::ofstream(grammar) << "root ::= \"yes\"";
    const std::string fifo = (dir / "fifo").string();
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const auto before = read_file(model);
    const std::string run = "run -m " + model + " -p 'Once' -n 4 --prompt-cache ";
    const std::string chat = "chat -m " + model + " -n 4 --prompt-cache ";
    for (const std::string& cmd : {run + model, run + link, chat + model, chat + link,
                                   run + grammar + " --grammar-file " + grammar}) {
        const auto r = run_ember(cmd, "Hello\n");
        EXPECT_EQ(r.status, 2) << cmd;
        EXPECT_NE(r.err.find("is one of the command's inputs"), std::string::npos) << r.err;
    }
    EXPECT_EQ(read_file(model), before);
    for (const std::string& path : {std::string("/dev/zero"), fifo}) {
        for (const std::string& cmd : {run + path, chat + path}) {
            const auto r = run_ember(cmd, "Hello\n");
            EXPECT_EQ(r.status, 2) << cmd;
            EXPECT_NE(r.err.find("is not a regular file"), std::string::npos) << r.err;
        }
    }
    const auto r = run_ember(run + dir.string());
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
    std::filesystem::remove_all(dir);
}

TEST(CliChat, PromptCacheResumesTheConversation) {
    const auto dir = temp_dir("chat-cache");
    const std::string cache = (dir / "chat.session").string();
    const std::string cmd =
        "chat -m " + bundled_model() + " --temp 0 -n 20 --prompt-cache " + cache;
    const auto whole = run_ember("chat -m " + bundled_model() + " --temp 0 -n 20",
                                 "Hello there\nTell me a story\n");
    ASSERT_EQ(whole.status, 0) << whole.err;
    const auto part1 = run_ember(cmd, "Hello there\n");
    ASSERT_EQ(part1.status, 0) << part1.err;
    const auto part2 = run_ember(cmd, "Tell me a story\n");
    ASSERT_EQ(part2.status, 0) << part2.err;
    EXPECT_NE(part2.err.find("resumed a conversation of 2 messages"), std::string::npos)
        << part2.err;
    EXPECT_EQ(part1.out + part2.out, whole.out);
    std::filesystem::remove_all(dir);
}

// The memory budget from the command line: inspect --memory's table (quantized cache columns
// only where the heads allow them), the load line, a default context lowered to fit, a given
// one refused.
TEST(CliRun, MemoryReportAndBudget) {
    const auto inspect = run_ember("inspect " + bundled_model() + " --memory");
    ASSERT_EQ(inspect.status, 0) << inspect.err;
    EXPECT_NE(inspect.out.find("KV cache by context and type"), std::string::npos);
    EXPECT_NE(inspect.out.find("2048*"), std::string::npos) << inspect.out;
    EXPECT_EQ(inspect.out.find("Q8_0 "), std::string::npos);  // heads of 8 values: no Q8_0 cache
    const auto five = run_ember(
        "inspect " + shared_path("models/ember-stories-5M/ember-stories-5M-Q8_0.gguf").string() +
        " --memory -c 1024");
    ASSERT_EQ(five.status, 0) << five.err;
    EXPECT_NE(five.out.find("Q4_0"), std::string::npos) << five.out;
    EXPECT_NE(five.out.find("1024"), std::string::npos);

    const auto full = run_ember("run -m " + bundled_model() + " -p Once -n 4");
    EXPECT_NE(full.err.find("memory: weights 1.2 MB + KV cache 1.3 MB (F16)"), std::string::npos)
        << full.err;
    const auto lowered = run_ember("run -m " + bundled_model() + " -p Once -n 4 --max-memory 2M");
    ASSERT_EQ(lowered.status, 0) << lowered.err;
    EXPECT_NE(lowered.err.find("memory: context lowered from 2048 to"), std::string::npos)
        << lowered.err;
    const auto refused =
        run_ember("run -m " + bundled_model() + " -p Once -n 4 --max-memory 2M -c 2048");
    EXPECT_EQ(refused.status, 1);
    EXPECT_NE(refused.err.find("tokens fit (lower -c"), std::string::npos) << refused.err;
    EXPECT_EQ(run_ember("run -m " + bundled_model() + " -p Once --max-memory lots").status, 2);
}

// Failures while running exit with 1, usage errors with 2 (tests/cli_bad_input_test.cpp has
// the whole table of options).
TEST(CliRun, ErrorsAreOneLine) {
    for (const auto& [args, status] : std::vector<std::pair<std::string, int>>{
             {"run -m /nonexistent.gguf -p hi", 1},
             {"run -m " + bundled_model() + " --prompt-ids 1,99999", 1},
             {"run -m " + bundled_model() + " -p hi -n 5000 -c 64 --no-context-shift", 2},
             {"run -m " + bundled_model() + " --prompt-ids 1,x", 2}}) {
        SCOPED_TRACE(args);
        const auto result = run_ember(args);
        EXPECT_EQ(result.status, status);
        EXPECT_EQ(result.err.rfind("ember: error: ", 0), 0u) << result.err;
    }
}

// Structured output from the command line: the bundled model writes JSON valid under the
// schema; a grammar that cannot be used is one line naming where, before the model loads.
TEST(CliRun, JsonSchemaAndGrammar) {
    const std::string schema =
        R"('{"type": "object", "properties": {"hero": {"type": "string", "maxLength": 10},
             "age": {"type": "integer", "minimum": 1, "maximum": 9}},
             "required": ["hero", "age"], "additionalProperties": false}')";
    for (int seed = 1; seed <= 5; ++seed) {
        const auto result =
            run_ember("run -m " + bundled_model() + " -p 'Once upon a time' -n 500" + " --seed " +
                      std::to_string(seed) + " --json-schema " + schema);
        ASSERT_EQ(result.status, 0) << result.err;
        const nlohmann::json value = nlohmann::json::parse(result.out);
        EXPECT_EQ(value.size(), 2u) << result.out;
        EXPECT_LE(value["hero"].get<std::string>().size(), 10u) << result.out;
        EXPECT_GE(value["age"].get<int>(), 1);
        EXPECT_LE(value["age"].get<int>(), 9);
    }
    const auto dir = temp_dir("CliRunGrammar");
    std::ofstream(dir / "yes.gbnf") << "# yes or no\nroot ::= \" \" (\"yes\" | \"no\")\n";
    const auto answer = run_ember("run -m " + bundled_model() + " -p 'Was it' --grammar-file " +
                                  (dir / "yes.gbnf").string());
    EXPECT_EQ(answer.status, 0) << answer.err;
    EXPECT_TRUE(answer.out == " yes" || answer.out == " no") << answer.out;
    for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
             {"--grammar 'root ::= [a-'",
              "ember: error: grammar: line 1, column 10: a character class without its ']'\n"},
             {"--json-schema '{\"type\": \"string\", \"pattern\": \"a+\"}'", "pattern"},
             {"--json-schema '{\"type\": '", "json: line 1"},
             {"--grammar-file /nonexistent.gbnf", "cannot read /nonexistent.gbnf"},
         }) {
        const auto result = run_ember("run -m /nonexistent.gguf -p hi " + args);
        EXPECT_EQ(result.status, 1) << args;
        EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    }
    EXPECT_EQ(run_ember("run -m " + bundled_model() + " -p hi --grammar 'root ::= \"a\"' " +
                        "--json-schema '{}'")
                  .status,
              2);  // one constraint at a time
}

TEST(CliChat, HoldsAMultiTurnConversationThroughAPipe) {
    const auto result =
        run_ember("chat -m " + bundled_model() + " --seed 1 -n 30 --system 'Be kind'",
                  "Hello there\nTell me a story\n/reset\nWho are you\n");
    ASSERT_EQ(result.status, 0) << result.err;
    const size_t first = result.out.find("> Hello there\n");
    const size_t second = result.out.find("> Tell me a story\n");
    const size_t reset = result.out.find("(history cleared)");
    const size_t third = result.out.find("> Who are you\n");
    ASSERT_NE(first, std::string::npos) << result.out;
    EXPECT_LT(first, second);
    EXPECT_LT(second, reset);
    EXPECT_LT(reset, third);
    EXPECT_GT(second - first, 30u) << "no reply to the first message";
    EXPECT_NE(result.err.find("template chatml"), std::string::npos) << result.err;
    const auto bad = run_ember("chat -m " + bundled_model() + " --chat-template nope", "hi\n");
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("unknown chat template 'nope'"), std::string::npos);
}

// `ember run` and `ember chat` on a file of each architecture: greedy ids as llama.cpp's, and
// the chat format of the family when the file names none.
TEST(CliRunChat, EveryArchitecture) {
    for (const auto& [dir, name, chat_format] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"arch", "mini-llama3-F32", "chatml"},
             {"arch", "mini-qwen2-F32", "chatml"},
             {"arch", "mini-phi3-F16", "phi3"},
             {"arch", "mini-gemma2-F16", "gemma"},
             {"arch2", "mini-qwen3-F32", "chatml"},
             {"arch2", "mini-gemma3-F16", "gemma"},
             {"arch2", "mini-smollm3-F32", "chatml"},
             {"arch2", "mini-qwen3moe-F32", "chatml"},
             {"arch2", "mini-lfm2-F32", "chatml"},
             {"arch2", "mini-qwen35-F32", "chatml"}}) {
        SCOPED_TRACE(name);
        const auto ref =
            nlohmann::json::parse(read_file(shared_path(dir + "/reference/" + name + ".json")));
        const std::string model = shared_path(dir + "/models/" + name + ".gguf").string();
        std::string prompt, expected;
        for (int id : ref["prompt_ids"]) prompt += (prompt.empty() ? "" : ",") + std::to_string(id);
        for (int i = 0; i < 16; ++i) {
            expected +=
                (expected.empty() ? "" : " ") + std::to_string(ref["greedy_ids"][i].get<int>());
        }
        const auto run = run_ember("run -m " + model + " --prompt-ids " + prompt +
                                   " -n 16 --temp 0 --print-ids --ignore-eos");
        ASSERT_EQ(run.status, 0) << run.err;
        EXPECT_EQ(run.out, expected + "\n");
        const auto chat = run_ember("chat -m " + model + " --seed 1 -n 8", "Hello\nAgain\n");
        ASSERT_EQ(chat.status, 0) << chat.err;
        EXPECT_NE(chat.out.find("> Again\n"), std::string::npos) << chat.out;
        EXPECT_NE(chat.err.find("template " + chat_format), std::string::npos) << chat.err;
    }
}

// `ember embed`: texts from -p, a file or standard input, in every output format.
TEST(CliEmbed, EveryFormatFromEveryInput) {
    const std::string model = shared_path("arch/models/mini-bert-Q8_0.gguf").string();
    const std::string texts = "The cat sat on the mat.\nIt's \"quoted\", isn't it?\n";
    auto jsonl = run_ember("embed -m " + model, texts);
    ASSERT_EQ(jsonl.status, 0) << jsonl.err;
    std::vector<nlohmann::json> rows;
    for (size_t at = 0; at < jsonl.out.size();) {
        const size_t end = jsonl.out.find('\n', at);
        rows.push_back(nlohmann::json::parse(jsonl.out.substr(at, end - at)));
        at = end + 1;
    }
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1]["index"], 1);
    EXPECT_EQ(rows[1]["text"], "It's \"quoted\", isn't it?");
    EXPECT_EQ(rows[0]["n_tokens"], 9);
    EXPECT_EQ(rows[0]["embedding"].size(), 128u);
    EXPECT_NE(jsonl.err.find("2 texts, 128 dimensions, pooling mean, L2-normalised"),
              std::string::npos);

    const auto dir = temp_dir("cli-embed");
    const auto file = (dir / "texts.txt").string();
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fputs(texts.c_str(), f);
    std::fclose(f);
    const auto json = run_ember("embed -m " + model + " -f " + file + " --format json");
    ASSERT_EQ(json.status, 0) << json.err;
    const auto response = nlohmann::json::parse(json.out);
    EXPECT_EQ(response["object"], "list");
    EXPECT_EQ(response["data"].size(), 2u);
    EXPECT_EQ(response["data"][1]["object"], "embedding");
    EXPECT_EQ(response["data"][0]["embedding"], rows[0]["embedding"]);  // same digits
    EXPECT_GT(response["usage"]["prompt_tokens"].get<int>(), 9);

    const auto csv = run_ember("embed -m " + model + " -p 'a, \"b\"' --format csv");
    ASSERT_EQ(csv.status, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("index,n_tokens,text,embedding\n0,", 0), 0u) << csv.out;
    EXPECT_NE(csv.out.find(",\"a, \"\"b\"\"\",\"["), std::string::npos) << csv.out;

    const auto sql = run_ember("embed -m " + model + " -f " + file +
                               " --format pgvector --table docs --normalize none");
    ASSERT_EQ(sql.status, 0) << sql.err;
    EXPECT_NE(sql.out.find("embedding vector(128) NOT NULL"), std::string::npos);
    EXPECT_NE(sql.out.find("(1, 'It''s \"quoted\", isn''t it?', '["), std::string::npos) << sql.out;

    const auto empty = run_ember("embed -m " + model + " -p ''");  // a text: [CLS] [SEP]
    ASSERT_EQ(empty.status, 0) << empty.err;
    EXPECT_EQ(nlohmann::json::parse(empty.out)["n_tokens"], 2);
    const auto none = run_ember("embed -m " + model + " -p hi --pooling none");
    ASSERT_EQ(none.status, 0) << none.err;
    EXPECT_EQ(nlohmann::json::parse(none.out)["embedding"].size(), 3u);  // [CLS] hi [SEP]
    for (const auto& [args, status] : std::vector<std::pair<std::string, int>>{
             {"embed -m " + model + " -p hi --pooling none --format json", 2},
             {"embed -m " + model + " -p hi --format pgvector --table 'x; drop'", 2},
             {"embed -m " + model + " -p hi --pooling max", 2},
             {"embed -m " + model + " -f /nonexistent.txt", 1},
             {"embed -m " + model + " -p 'many words here' -c 4 --no-truncate", 1}}) {
        SCOPED_TRACE(args);
        const auto result = run_ember(args);
        EXPECT_EQ(result.status, status) << result.err;
        EXPECT_EQ(result.err.rfind("ember: error: ", 0), 0u) << result.err;
    }
    const auto cut = run_ember("embed -m " + model + " -p 'many words here' -c 4");
    EXPECT_EQ(cut.status, 0);
    EXPECT_NE(cut.err.find("warning: text 0 is longer than the context"), std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(CliLogits, WritesOneRowPerPromptToken) {
    const auto dir = temp_dir("cli-logits");
    const auto out = (dir / "logits.f32").string();
    const auto result =
        run_ember("logits -m " + bundled_model() + " --prompt-ids 1,403,407 -o " + out);
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(std::filesystem::file_size(out), 3u * 512 * sizeof(float));
    std::filesystem::remove_all(dir);
}

TEST(CliPerplexity, PrintsTheFinalEstimate) {
    const auto result = run_ember("perplexity -m " + bundled_model() + " -f " +
                                  shared_path("text/story.txt").string() + " -c 128");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out.rfind("PPL = 4.46", 0), 0u) << result.out;
    EXPECT_NE(result.err.find("7/7"), std::string::npos);
}

TEST(CliPerplexity, KlDivergenceAgainstASavedBase) {
    const auto dir = temp_dir("cli-kld");
    const auto base = (dir / "base.kld").string();
    const std::string story = shared_path("text/story.txt").string();
    auto result = run_ember("perplexity -m " + bundled_model() + " -f " + story +
                            " -c 128 --kl-divergence-base " + base);
    ASSERT_EQ(result.status, 0) << result.err;
    result = run_ember("perplexity -m " + bundled_model() + " --kl-divergence-base " + base +
                       " --kl-divergence");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("Mean PPL(base)                :   4.46"), std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("Same top p: 100.000"), std::string::npos) << result.out;
    result = run_ember("perplexity -m " + bundled_model() + " --kl-divergence");
    EXPECT_EQ(result.status, 2);
    EXPECT_NE(result.err.find("--kl-divergence-base"), std::string::npos) << result.err;
    std::filesystem::remove_all(dir);
}

// A user's path to a K-quant benchmark file: synth an F32 model, quantize it to a mix, run it.
// (SmolLM's rows of 576 values do not fit 256-value super-blocks: those tensors fall back.)
TEST(CliSynthQuantize, MixOfARealShapeLoadsAndRuns) {
    const auto dir = temp_dir("cli-synth-quantize");
    const auto f32 = (dir / "f32.gguf").string(), q = (dir / "q4_k_m.gguf").string();
    auto result = run_ember("synth --shape smollm-135m --layers 1 --type F32 -o " + f32);
    ASSERT_EQ(result.status, 0) << result.err;
    result = run_ember("quantize " + f32 + " " + q + " Q4_K_M --threads 2");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.err.find("quantize Q4_K_M"), std::string::npos);  // the progress bar
    result = run_ember("inspect " + q);
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("by type:   F32 3, Q5_0 5, Q6_K 1, Q8_0 2"), std::string::npos)
        << result.out;
    result = run_ember("run -m " + q + " --prompt-ids 1,2,3 -n 4 --temp 0 --print-ids");
    ASSERT_EQ(result.status, 0) << result.err;
    result = run_ember("quantize " + f32 + " " + q + " Q7_K");
    EXPECT_EQ(result.status, 2);
    EXPECT_NE(result.err.find("unknown type 'Q7_K'"), std::string::npos) << result.err;
    // Below 2.5 bits a mix needs an importance matrix (as llama-quantize); the file already there
    // is left as it was.
    const auto before = std::filesystem::file_size(q);
    result = run_ember("quantize " + f32 + " " + q + " IQ2_M");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("becomes IQ2_S in this mix, which needs an importance matrix"),
              std::string::npos)
        << result.err;
    EXPECT_EQ(std::filesystem::file_size(q), before);
    std::filesystem::remove_all(dir);
}

// `ember bench -o jsonl`: one object per test with llama-bench's field names, the run times
// (ns) beside the rates (t/s) as llama-bench gives both.
TEST(CliBench, JsonlHasLlamaBenchFieldsTimesAndRates) {
    const auto result = run_ember("bench -m " + bundled_model() + " -t 1 -p 16 -n 8 -r 3 -o jsonl");
    ASSERT_EQ(result.status, 0) << result.err;
    std::vector<nlohmann::json> tests;
    size_t start = 0;
    for (size_t end; (end = result.out.find('\n', start)) != std::string::npos; start = end + 1)
        tests.push_back(nlohmann::json::parse(result.out.substr(start, end - start)));
    ASSERT_EQ(tests.size(), 2u) << result.out;
    for (int i = 0; i < 2; ++i) {
        const nlohmann::json& t = tests[i];
        SCOPED_TRACE(t.dump());
        for (const char* key : {"model_type", "model_size", "model_n_params", "n_threads", "type_k",
                                "type_v", "read_bandwidth_gbs", "roofline_fraction"})
            EXPECT_TRUE(t.contains(key)) << key;
        EXPECT_EQ(t["n_prompt"].get<int>(), i == 0 ? 16 : 0);
        EXPECT_EQ(t["n_gen"].get<int>(), i == 0 ? 0 : 8);
        EXPECT_EQ(t["n_threads"].get<int>(), 1);
        const double avg_ts = t["avg_ts"], sd_ts = t["stddev_ts"];
        const double avg_ns = t["avg_ns"], sd_ns = t["stddev_ns"];
        ASSERT_GT(avg_ts, 0);
        // The mean time is at least the time of the mean rate (means of x and of 1/x), and the
        // times vary where the rates do.
        EXPECT_GE(avg_ns, 1e9 * (i == 0 ? 16 : 8) / avg_ts * (1 - 1e-6));
        EXPECT_GE(sd_ns, 0);
        if (sd_ts > 0) {
            EXPECT_GT(sd_ns, 0);
        }
    }
}

// -d: the cache holds that many tokens before each test (llama-bench's n_depth).
TEST(CliBench, DepthFillsTheCacheFirst) {
    const auto result =
        run_ember("bench -m " + bundled_model() + " -t 1 -p 0 -n 4 -d 32 -r 1 --kv-type f32");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("tg4 @ d32"), std::string::npos) << result.out;
    const auto jsonl =
        run_ember("bench -m " + bundled_model() + " -t 1 -p 0 -n 4 -d 32 -r 1 -o jsonl");
    ASSERT_EQ(jsonl.status, 0) << jsonl.err;
    EXPECT_EQ(nlohmann::json::parse(jsonl.out)["n_depth"].get<int>(), 32);
}

// --threads-sweep: each test at 1, 2, ... threads, and the curve in a line per test.
TEST(CliBench, ThreadsSweepRunsEveryCount) {
    const auto result =
        run_ember("bench -m " + bundled_model() + " -p 8 -n 4 -r 1 --threads-sweep -t 3 -o jsonl");
    ASSERT_EQ(result.status, 0) << result.err;
    std::vector<int> threads;
    size_t start = 0;
    for (size_t end; (end = result.out.find('\n', start)) != std::string::npos; start = end + 1)
        threads.push_back(
            nlohmann::json::parse(result.out.substr(start, end - start))["n_threads"]);
    EXPECT_EQ(threads, (std::vector<int>{1, 1, 2, 2, 3, 3}));
    const auto table =
        run_ember("bench -m " + bundled_model() + " -p 8 -n 4 -r 1 --threads-sweep -t 2");
    ASSERT_EQ(table.status, 0) << table.err;
    EXPECT_NE(table.out.find("generation tokens/s by threads: 1: "), std::string::npos)
        << table.out;
    EXPECT_NE(table.out.find("prompt tokens/s by threads: 1: "), std::string::npos);
}

// --no-roofline (bench/arm-count.sh under qemu): no bandwidth measurement, no roofline column.
TEST(CliBench, NoRooflineSkipsTheBandwidth) {
    const auto table = run_ember("bench -m " + bundled_model() + " -p 8 -n 4 -r 1 --no-roofline");
    ASSERT_EQ(table.status, 0) << table.err;
    EXPECT_NE(table.out.find("tg4"), std::string::npos) << table.out;
    EXPECT_EQ(table.out.find("read bandwidth"), std::string::npos) << table.out;
    EXPECT_EQ(table.out.find("GB/s"), std::string::npos) << table.out;
    const auto jsonl =
        run_ember("bench -m " + bundled_model() + " -p 0 -n 4 -r 1 --no-roofline -o jsonl");
    ASSERT_EQ(jsonl.status, 0) << jsonl.err;
    const auto row = nlohmann::json::parse(jsonl.out);
    EXPECT_EQ(row["read_bandwidth_gbs"].get<double>(), 0.0);
    EXPECT_EQ(row["roofline_fraction"].get<double>(), 0.0);
}

TEST(CliTokenize, IdsAndPiecesOfAVocabularyOnlyFile) {
    const std::string vocab = shared_path("vocab/ggml-vocab-llama-spm.gguf").string();
    auto result = run_ember("tokenize -m " + vocab + " -p 'Hello world'");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, "1 15043 3186\n");
    result = run_ember("tokenize -m " + vocab + " -p 'Hello world' --no-bos --pieces");
    EXPECT_EQ(result.out, " 15043 ' Hello'\n  3186 ' world'\n");
}

}  // namespace
}  // namespace ember::test

// Bad input, as a new user types it: it never costs a file, never takes the machine, and never
// runs silently wrong. Each case ends with one `ember: error: ...` line (usage errors exit 2,
// failures while running 1) or the sensible behaviour its test names.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tests/broken_gguf.h"
#include "tests/cli_run.h"
#include "tests/shared_data.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;

std::string bundled_model() {
    return std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf";
}

bool is_one_error_line(const std::string& err) {
    return err.rfind("ember: error: ", 0) == 0 && err.find('\n') == err.size() - 1;
}

// Names in `dir` other than `keep`: temporary files left behind.
std::vector<std::string> others_in(const fs::path& dir, const std::vector<std::string>& keep) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (std::find(keep.begin(), keep.end(), name) == keep.end()) found.push_back(name);
    }
    return found;
}

TEST(BadInput, QuantizeRefusesToWriteOverItsInput) {
    const fs::path dir = temp_dir("bad-input-quantize");
    const fs::path model = dir / "m.gguf", link = dir / "link.gguf", hard = dir / "hard.gguf";
    fs::copy_file(shared_path("models/mini/mini-F32.gguf"), model);
    fs::create_symlink(model.filename(), link);
    fs::create_hard_link(model, hard);
    const auto before = read_file(model);
    for (const fs::path& out : {model, link, hard}) {
        SCOPED_TRACE(out.string());
        const auto r = run_ember("quantize " + model.string() + " " + out.string() + " Q8_0");
        EXPECT_EQ(r.status, 1);
        EXPECT_TRUE(is_one_error_line(r.err)) << r.err;
        EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
        EXPECT_EQ(read_file(model), before) << "the input changed";
    }
    // The input through the link, the output the file itself: the same.
    const auto r = run_ember("quantize " + link.string() + " " + model.string() + " Q8_0");
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(read_file(model), before);
    EXPECT_EQ(others_in(dir, {"m.gguf", "link.gguf", "hard.gguf"}), std::vector<std::string>{});
    fs::remove_all(dir);
}

TEST(BadInput, AFailedWriteLeavesNothingUnderTheFinalName) {
    const fs::path dir = temp_dir("bad-input-failed-write");
    const fs::path out = dir / "out.gguf";
    // Quantized weights cannot be quantized again: the run fails part-way through the tensors.
    auto r = run_ember("quantize " + shared_path("models/mini/mini-Q8_0.gguf").string() + " " +
                       out.string() + " Q4_0");
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(is_one_error_line(r.err)) << r.err;
    EXPECT_FALSE(fs::exists(out));
    // A file already there stays as it was.
    fs::copy_file(bundled_model(), out);
    r = run_ember("quantize " + shared_path("models/mini/mini-Q8_0.gguf").string() + " " +
                  out.string() + " Q4_0");
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(read_file(out), read_file(bundled_model()));
    EXPECT_EQ(others_in(dir, {"out.gguf"}), std::vector<std::string>{});
    // A folder is no output; a device is written in place, and a full one is an error.
    r = run_ember("logits -m " + bundled_model() + " --prompt-ids 1,2 -o " + dir.string());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
    r = run_ember("logits -m " + bundled_model() + " --prompt-ids 1,2 -o /dev/full");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
    EXPECT_TRUE(is_one_error_line(r.err)) << r.err;
    fs::remove_all(dir);
}

TEST(BadInput, AnInterruptedWriteLeavesNoFileBehind) {
    const fs::path dir = temp_dir("bad-input-interrupted");
    const fs::path out = dir / "big.gguf";
    // A 7B-shaped synthetic model takes many seconds to write; SIGINT after one.
    const auto r = run_shell("$EMBER synth --shape llama2-7b --type Q4_0 -o " + out.string() +
                             " & pid=$!; sleep 1; kill -INT $pid; wait $pid; echo status=$?");
    EXPECT_NE(r.out.find("status=130"), std::string::npos) << r.out << r.err;
    EXPECT_FALSE(fs::exists(out));
    EXPECT_EQ(others_in(dir, {}), std::vector<std::string>{}) << "a temporary file was left";
    fs::remove_all(dir);
}

TEST(BadInput, OptionsOutsideTheirDomainAreRefused) {
    const std::string run = "run -m " + bundled_model() + " -p hi ";
    for (const std::string& args : std::vector<std::string>{
             run + "-c -5",
             run + "--temp -1",
             run + "--temp nan",
             run + "--top-p 2",
             run + "--top-k -3",
             run + "--min-p 5",
             run + "--repeat-penalty 0",
             run + "--repeat-last-n -4",
             run + "--frequency-penalty inf",
             run + "-n -2",
             run + "--n-predict=-5",
             run + "-t -1",
             run + "-t 100000",
             run + "--seed -7",
             "bench -m " + bundled_model() + " -r 0",
             "bench -m " + bundled_model() + " -p 0 -n 0",
             "synth --shape tinyllama-1.1b --layers 100 -o /tmp/never.gguf",
             "synth --shape tinyllama-1.1b --layers -1 -o /tmp/never.gguf",
             "perplexity -m " + bundled_model() + " -f " + bundled_model() + " -c 1",
             "imatrix -m " + bundled_model() + " -f " + bundled_model(),  // no -o
             "imatrix -m " + bundled_model() + " -f x -o /tmp/never.gguf --chunks -2",
             "quantize a.gguf b.gguf Q4_0 -t 100000",
             "frobnicate",
             ""}) {
        SCOPED_TRACE(args);
        const auto r = run_ember(args);
        EXPECT_EQ(r.status, 2);
        EXPECT_TRUE(is_one_error_line(r.err)) << r.err;
        EXPECT_EQ(r.out, "");
    }
    EXPECT_FALSE(fs::exists("/tmp/never.gguf"));
    EXPECT_NE(run_ember("frobnicate").err.find("unknown command 'frobnicate'"), std::string::npos);
    EXPECT_NE(run_ember(run + "-t 100000").err.find("CPUs this process may use"),
              std::string::npos);
}

// -1 runs until the context is full: 64 positions hold the 2 prompt tokens and 62 generated
// ones, and the 63rd is sampled from the last position's logits. Without a context shift an
// explicit -n may ask for exactly that many, not more; with one (the default), any number: 300
// tokens through 64 positions.
TEST(BadInput, NPredictMinusOneRunsToTheContextAndOnlyMinusOne) {
    const std::string run = "run -m " + bundled_model() +
                            " --prompt-ids 1,403 --temp 0 --ignore-eos -c 64 --print-ids ";
    auto r = run_ember(run + "-n -1");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ' ') + 1, 63) << r.out;
    EXPECT_EQ(run_ember(run + "-n 63").out, r.out);
    r = run_ember(run + "-n 64 --no-context-shift");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("exceeds the context size 64 and --no-context-shift"), std::string::npos)
        << r.err;
    r = run_ember(run + "-n 300 --keep 4");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ' ') + 1, 300) << r.out;
    // Up to the shift (the first 63 tokens) it is the run that stopped at the full context.
    const std::string until_full = run_ember(run + "-n -1").out;
    EXPECT_EQ(r.out.substr(0, until_full.size() - 1), until_full.substr(0, until_full.size() - 1));
}

TEST(BadInput, AClosedPipeEndsQuietlyAndAFullDiskIsAnError) {
    auto r = run_shell("{ $EMBER run -m " + bundled_model() +
                       " -p Once -n -1 --ignore-eos; echo status=$? >&2; } | head -c 10");
    EXPECT_EQ(r.out.size(), 10u);
    EXPECT_NE(r.err.find("status=0"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
    r = run_shell("$EMBER run -m " + bundled_model() + " -p Once -n 50 > /dev/full");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("ember: error: cannot write standard output: No space left on device"),
              std::string::npos)
        << r.err;
    r = run_shell("$EMBER inspect " + bundled_model() + " > /dev/full");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
}

TEST(BadInput, TheDefaultContextIsAtMost4096AndAContextThatCannotFitIsRefused) {
    const fs::path dir = temp_dir("bad-input-context");
    const std::string long_ctx = (dir / "long.gguf").string();
    copy_with(bundled_model(), long_ctx,
              [](gguf::Writer& w) { w.set_u32("llama.context_length", 131072); });
    auto r = run_ember("run -m " + long_ctx + " --prompt-ids 1 -n 1");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("context 4096"), std::string::npos) << r.err;
    // 2^30 positions of mini's KV cache: hundreds of GB.
    r = run_ember("run -m " + shared_path("models/mini/mini-Q8_0.gguf").string() +
                  " --prompt-ids 1 -n 1 -c 1073741824");
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(is_one_error_line(r.err)) << r.err;
    EXPECT_NE(r.err.find("needs"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("available"), std::string::npos) << r.err;
    fs::remove_all(dir);
}

TEST(BadInput, AnUnrecognisedChatTemplateIsNamedAsSuch) {
    const fs::path dir = temp_dir("bad-input-template");
    const std::string odd = (dir / "odd.gguf").string();
    copy_with(bundled_model(), odd, [](gguf::Writer& w) {
        w.set_string("tokenizer.chat_template", "{{ messages | some_unknown_format }}");
    });
    const auto r = run_ember("chat -m " + odd + " -n 4 --seed 1", "hi\n");
    ASSERT_EQ(r.status, 0) << r.err;
    // It does not parse (no such filter): the format its markers suggest, and why.
    EXPECT_NE(r.err.find("template chatml (the model's chat template cannot be read"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("no filter named 'some_unknown_format'"), std::string::npos) << r.err;
    fs::remove_all(dir);
}

TEST(BadInput, ThreadsDefaultToTheCpusThisProcessMayUse) {
    const auto r =
        run_shell("taskset -c 0 $EMBER run -m " + bundled_model() + " --prompt-ids 1 -n 1");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find(", 1 threads,"), std::string::npos) << r.err;
    // More threads than CPUs (up to 4x) still run, and give the same tokens.
    const std::string greedy =
        "run -m " + bundled_model() + " --prompt-ids 1,403,407 -n 40 --temp 0 --print-ids";
    const auto one = run_ember(greedy + " -t 1");
    const auto many = run_shell("taskset -c 0 $EMBER " + greedy + " -t 4");
    ASSERT_EQ(many.status, 0) << many.err;
    EXPECT_EQ(one.out, many.out);
}

TEST(BadInput, InspectWithNoItemsAndBenchLabels) {
    auto r = run_ember("inspect " + bundled_model() + " --max-items 0");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find("[, "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("[512 items]"), std::string::npos) << r.out;
    r = run_ember("bench -m " +
                  shared_path("models/ember-stories-5M/ember-stories-5M-Q8_0.gguf").string() +
                  " -p 0 -n 4 -r 1 -t 1 -o jsonl");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\"model_type\": \"llama 5M Q8_0\""), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ember::test

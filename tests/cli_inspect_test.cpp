// `ember inspect` as a user runs it: a table for a good file; for each broken file exit
// status 1 and exactly one line on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/broken_gguf.h"
#include "tests/cli_run.h"
#include "tests/shared_data.h"

namespace ember::test {
namespace {

TEST(CliInspect, ShowsAllTensorsOfMiniQ4KM) {
    const auto result =
        run_ember("inspect " + shared_path("models/mini/mini-Q4_K_M.gguf").string());
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("tensors:   30"), std::string::npos);
    EXPECT_NE(result.out.find("output.weight"), std::string::npos);
    EXPECT_NE(result.out.find("blk.2.ffn_down.weight"), std::string::npos);
    EXPECT_NE(result.out.find("[768, 256]"), std::string::npos);
    EXPECT_NE(result.out.find("by type:   F32 7, Q4_K 20, Q6_K 3"), std::string::npos);
    EXPECT_NE(result.out.find("arr[str,512]"), std::string::npos);
    EXPECT_TRUE(result.err.empty()) << result.err;
}

// A mixture of experts: what one token reads, counted by hand for mini-qwen3moe (2 layers of
// attention 150,528 + norms 640 + router 2,048 + 2 of 8 experts 49,152; the tied 512 x 256
// embedding table, which is also the output head; the final norm 256).
TEST(CliInspect, MixtureOfExpertsShowsActiveParameters) {
    const auto result =
        run_ember("inspect " + shared_path("arch2/models/mini-qwen3moe-Q4_K_M.gguf").string());
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("active:    562,688 parameters, 429,056 bytes per token (2 of 8 "
                              "experts"),
              std::string::npos)
        << result.out;
    // --memory: what a budget counts when the experts stay mapped (memory_budget_test checks
    // the bytes).
    const auto memory = run_ember("inspect --memory " +
                                  shared_path("arch2/models/mini-qwen3moe-Q4_K_M.gguf").string());
    EXPECT_NE(memory.out.find("under --max-memory 0.4 MB (the experts stay mapped, counted as the "
                              "2 of 8 a token reads)"),
              std::string::npos)
        << memory.out;
    const auto dense = run_ember("inspect " + shared_path("models/mini/mini-Q4_K_M.gguf").string());
    EXPECT_EQ(dense.out.find("active:"), std::string::npos);
}

TEST(CliInspect, EveryBrokenFileGivesStatus1AndOneLine) {
    const auto dir = temp_dir("cli-broken");
    for (const auto& c : broken_gguf_cases()) {
        SCOPED_TRACE(c.name);
        const auto path = dir / (c.name + ".gguf");
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(c.bytes.data()),
                   static_cast<std::streamsize>(c.bytes.size()));
        const auto result = run_ember("inspect " + path.string());
        EXPECT_EQ(result.status, 1);
        EXPECT_TRUE(result.out.empty()) << result.out;
        ASSERT_FALSE(result.err.empty());
        EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
        EXPECT_EQ(result.err.rfind("ember: error: " + path.string() + ": ", 0), 0u) << result.err;
        EXPECT_NE(result.err.find(c.expected), std::string::npos) << result.err;
    }
    std::filesystem::remove_all(dir);
}

TEST(CliInspect, MissingFileAndBadUsage) {
    auto result = run_ember("inspect /nonexistent.gguf");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("cannot open /nonexistent.gguf"), std::string::npos);
    result = run_ember("inspect");
    EXPECT_NE(result.status, 0);
    result = run_ember("no-such-command");
    EXPECT_NE(result.status, 0);
}

}  // namespace
}  // namespace ember::test

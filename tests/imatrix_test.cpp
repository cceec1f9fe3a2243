// `ember imatrix` against llama-imatrix (../shared/imatrix: c392e50 on the F32 files of
// ember-stories-5M and mini, text/story.txt, -c 128), and the importance-matrix file reader
// (formats/imatrix.h) against truncated and hostile files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "formats/error.h"
#include "formats/gguf.h"
#include "formats/imatrix.h"
#include "tests/cli_run.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

using test::run_ember;
using test::shared_path;

// Same entries, calls and value counts; each entry's values within 1e-4 of llama-imatrix's as
// a vector (L2, relative), and each value within 1e-3. (The activations ember and llama.cpp
// compute from the same F32 weights differ in float rounding; the attention outputs' columns
// move most: up to 7e-4 for single values, 5e-5 for whole entries.)
void check_against_llama(const std::string& model, const std::string& reference) {
    const auto out = std::filesystem::temp_directory_path() /
                     ("ember-imatrix-" + std::to_string(::getpid()) + ".imatrix");
    const auto result =
        run_ember("imatrix -m " + shared_path(model).string() + " -f " +
                  shared_path("text/story.txt").string() + " -c 128 -o " + out.string());
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.err.find("imatrix ["), std::string::npos) << "no progress bar";
    const Imatrix ours = read_imatrix(out.string());
    std::filesystem::remove(out);
    const Imatrix theirs = read_imatrix(shared_path(reference).string());
    EXPECT_EQ(ours.chunks, theirs.chunks);
    ASSERT_EQ(ours.entries.size(), theirs.entries.size());
    std::map<std::string, const ImatrixEntry*> by_name;
    for (const ImatrixEntry& e : theirs.entries) by_name[e.name] = &e;
    for (const ImatrixEntry& e : ours.entries) {
        SCOPED_TRACE(e.name);
        ASSERT_TRUE(by_name.count(e.name));
        const ImatrixEntry& t = *by_name[e.name];
        EXPECT_EQ(e.ncall, t.ncall);
        ASSERT_EQ(e.values.size(), t.values.size());
        double diff2 = 0, norm2 = 0, worst = 0;
        for (size_t j = 0; j < e.values.size(); ++j) {
            const double d = e.values[j] - t.values[j];
            diff2 += d * d;
            norm2 += static_cast<double>(t.values[j]) * t.values[j];
            worst = std::max(worst, std::fabs(d) / std::max(1e-30, std::fabs(double(t.values[j]))));
        }
        EXPECT_LE(std::sqrt(diff2 / norm2), 1e-4);
        EXPECT_LE(worst, 1e-3);
    }
}

TEST(Imatrix, Stories5MMatchesLlamaImatrix) {
    check_against_llama("models/ember-stories-5M/ember-stories-5M-F32.gguf",
                        "imatrix/ember-stories-5M.imatrix");
}

TEST(Imatrix, MiniMatchesLlamaImatrix) {
    check_against_llama("models/mini/mini-F32.gguf", "imatrix/mini.imatrix");
}

TEST(Imatrix, TooShortATextIsRefusedWithTheCount) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("ember-imatrix-short-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "short.txt") << "Once upon a time there was a cat.";
    const auto result = run_ember(
        "imatrix -m " + shared_path("models/ember-stories-5M/ember-stories-5M-F32.gguf").string() +
        " -f " + (dir / "short.txt").string() + " -c 128 -o " + (dir / "out.imatrix").string());
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("needs at least 256 (lower -c)"), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "out.imatrix"));
    std::filesystem::remove_all(dir);
}

// ember quantize --imatrix with llama-imatrix's file gives llama-quantize's i-quant, ternary
// and K-quant files (every type and mix of ../shared) tensor for tensor, byte for byte (every
// tensor: the blk.* ones through the importance matrix, the embedding and output without, as
// llama-quantize).
TEST(QuantizeWithImatrix, FilesEqualLlamaQuantizesByteForByte) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("ember-quantize-imatrix-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    for (const std::string model : {"ember-stories-5M", "mini"}) {
        // (The ternary types take no importance matrix; their files were made with one too.)
        for (const std::string type :
             {"IQ4_XS", "IQ4_NL", "Q4_K_M", "Q2_K", "TQ1_0", "TQ2_0", "IQ3_XXS", "IQ3_S", "IQ3_M",
              "IQ2_XXS", "IQ2_XS", "IQ2_M", "IQ1_S", "IQ1_M"}) {
            const bool k_quant = type[0] == 'Q';
            // shared/ holds these for ember-stories-5M only
            const bool five_m_only =
                k_quant || type == "IQ3_S" || type == "IQ3_M" || type == "IQ2_M";
            if (five_m_only && model == "mini") continue;
            SCOPED_TRACE(model + " " + type);
            const std::string base = "models/" + model + "/" + model + "-";
            const auto out = dir / (type + ".gguf");
            const auto result = run_ember("quantize " + shared_path(base + "F32.gguf").string() +
                                          " " + out.string() + " " + type + " --imatrix " +
                                          shared_path("imatrix/" + model + ".imatrix").string());
            ASSERT_EQ(result.status, 0) << result.err;
            const gguf::File ours(out.string());
            const gguf::File theirs(
                shared_path(base + type + (k_quant ? "-imat" : "") + ".gguf").string());
            ASSERT_EQ(ours.tensors().size(), theirs.tensors().size());
            for (const gguf::TensorInfo& t : theirs.tensors()) {
                const gguf::TensorInfo* o = ours.find_tensor(t.name);
                ASSERT_NE(o, nullptr) << t.name;
                EXPECT_EQ(o->type, t.type) << t.name;
                ASSERT_EQ(o->n_bytes, t.n_bytes) << t.name;
                EXPECT_EQ(std::memcmp(o->data, t.data, t.n_bytes), 0) << t.name;
            }
        }
    }
    std::filesystem::remove_all(dir);
}

TEST(ImatrixFile, WritesWhatItReadsAndRefusesBrokenFiles) {
    const Imatrix shared = read_imatrix(shared_path("imatrix/mini.imatrix").string());
    EXPECT_EQ(shared.entries.size(), 21u);
    EXPECT_EQ(shared.chunks, 7);
    EXPECT_EQ(shared.dataset, "text/story.txt");
    const auto path =
        std::filesystem::temp_directory_path() / ("ember-imatrix-rt-" + std::to_string(::getpid()));
    write_imatrix(path.string(), shared);
    std::ifstream a(path, std::ios::binary),
        b(shared_path("imatrix/mini.imatrix"), std::ios::binary);
    const std::string written{std::istreambuf_iterator<char>(a), {}};
    const std::string original{std::istreambuf_iterator<char>(b), {}};
    EXPECT_EQ(written, original);  // byte for byte
    // Every truncation, and counts that promise more than the file holds: an Error each.
    for (size_t cut : {size_t{0}, size_t{3}, size_t{9}, original.size() / 2, original.size() - 9}) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << original.substr(0, cut);
        EXPECT_THROW(read_imatrix(path.string()), Error) << "cut at " << cut;
    }
    std::string huge = original;
    const int32_t many = 0x7fffffff;
    std::memcpy(huge.data(), &many, 4);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << huge;
    EXPECT_THROW(read_imatrix(path.string()), Error);
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace ember

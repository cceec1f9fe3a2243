// Embeddings against llama.cpp (c392e50) on ../shared/arch's encoders: the token ids of 16
// texts (WordPiece, [CLS] ... [SEP]) exactly, and their pooled vectors by cosine similarity
// (the references are not normalised; llama.cpp's own F16 and Q8_0 files agree to >= 0.999).
// Then what the embedder adds: packing, pooling choices, normalisation, truncation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/embed/embedder.h"
#include "formats/error.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

struct EmbeddingReference {
    std::string model_path;
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> token_ids;
    int n_embd = 0;
    std::vector<float> vectors;  // texts.size() x n_embd, not normalised
};

EmbeddingReference load_embedding_reference(const std::string& name) {
    EmbeddingReference r;
    const auto json = nlohmann::json::parse(
        test::read_file(test::shared_path("arch/reference/" + name + ".json")));
    r.model_path = test::shared_path("arch/models/" + name + ".gguf").string();
    r.texts = json["texts"].get<std::vector<std::string>>();
    r.token_ids = json["token_ids"].get<std::vector<std::vector<int32_t>>>();
    r.n_embd = json["n_embd"].get<int>();
    const auto bytes = test::read_file(test::shared_path("arch/reference/" + name + ".embd.f32"));
    r.vectors.resize(bytes.size() / sizeof(float));
    std::memcpy(r.vectors.data(), bytes.data(), r.vectors.size() * sizeof(float));
    if (r.vectors.size() != r.texts.size() * static_cast<size_t>(r.n_embd)) {
        throw std::runtime_error(name + ": embedding count does not match the texts");
    }
    return r;
}

double cosine(const float* a, const float* b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; ++i) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

class EncoderReference : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderReference, TokenIdsAndPooledVectorsMatchLlamaCpp) {
    const EmbeddingReference ref = load_embedding_reference(GetParam());
    const Model model(ref.model_path);
    const Tokenizer tokenizer(model.file());
    Embedder embedder(model, tokenizer, {});
    ASSERT_EQ(embedder.dimension(), ref.n_embd);
    EXPECT_EQ(embedder.pooling(), Pooling::Mean);  // the file's pooling_type
    for (size_t i = 0; i < ref.texts.size(); ++i) {
        EXPECT_EQ(embedder.tokenize(ref.texts[i]), ref.token_ids[i]) << ref.texts[i];
    }
    // All 16 texts in one forward pass, each attending to itself only.
    const std::vector<Embedding> out = embedder.embed(ref.texts);
    ASSERT_EQ(out.size(), ref.texts.size());
    double worst = 1;
    for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_EQ(out[i].values.size(), static_cast<size_t>(ref.n_embd));
        const double c =
            cosine(out[i].values.data(), ref.vectors.data() + i * ref.n_embd, ref.n_embd);
        worst = std::min(worst, c);
        EXPECT_GE(c, 0.999) << "text " << i << ": " << ref.texts[i];
        double norm = 0;
        for (float v : out[i].values) norm += static_cast<double>(v) * v;
        EXPECT_NEAR(norm, 1.0, 1e-5);  // L2-normalised by default
    }
    RecordProperty("worst_cosine", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Arch, EncoderReference,
                         ::testing::Values("mini-bert-F16", "mini-bert-Q8_0", "mini-nomic-F16",
                                           "mini-nomic-Q8_0"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                             std::string name = param.param;
                             for (char& ch : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             }
                             return name;
                         });

// All texts in one pass, or a few at a time: the same vectors (each attends to itself only).
TEST(Embedder, PackingDoesNotChangeTheVectors) {
    const EmbeddingReference ref = load_embedding_reference("mini-bert-F16");
    const Model model(ref.model_path);
    const Tokenizer tokenizer(model.file());
    Embedder packed(model, tokenizer, {});
    EmbedParams small;
    small.context.n_ctx = 32;  // the longest text (25 tokens) fits; one to four texts a pass
    Embedder few(model, tokenizer, small);
    const auto a = packed.embed(ref.texts), b = few.embed(ref.texts);
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_GE(cosine(a[i].values.data(), b[i].values.data(), ref.n_embd), 0.99999) << i;
    }
}

TEST(Embedder, PoolingChoicesAndNormalisation) {
    const EmbeddingReference ref = load_embedding_reference("mini-nomic-F16");
    const Model model(ref.model_path);
    const Tokenizer tokenizer(model.file());
    const std::vector<std::string> texts = {ref.texts[0]};
    const int d = ref.n_embd;
    EmbedParams none;
    none.pooling = Pooling::None;
    none.normalize = Normalization::None;
    const Embedding tokens = Embedder(model, tokenizer, none).embed(texts)[0];
    ASSERT_EQ(tokens.values.size(), static_cast<size_t>(tokens.n_tokens) * d);
    for (Pooling p : {Pooling::Mean, Pooling::Cls, Pooling::Last}) {
        SCOPED_TRACE(std::string(pooling_name(p)));
        EmbedParams params;
        params.pooling = p;
        params.normalize = Normalization::None;
        const Embedding e = Embedder(model, tokenizer, params).embed(texts)[0];
        std::vector<float> expected(d, 0.0f);
        for (int i = 0; i < d; ++i) {
            if (p == Pooling::Cls) expected[i] = tokens.values[i];
            if (p == Pooling::Last) expected[i] = tokens.values[(tokens.n_tokens - 1) * d + i];
            if (p == Pooling::Mean) {
                double sum = 0;
                for (int t = 0; t < tokens.n_tokens; ++t) sum += tokens.values[t * d + i];
                expected[i] = static_cast<float>(sum / tokens.n_tokens);
            }
        }
        for (int i = 0; i < d; ++i) EXPECT_NEAR(e.values[i], expected[i], 1e-5f);
    }
    EXPECT_EQ(pooling_from_name("cls"), Pooling::Cls);
    EXPECT_THROW(pooling_from_name("max"), Error);
}

// A text longer than the context is cut (keeping [SEP]) and marked, or refused on request.
TEST(Embedder, LongTextsAreTruncatedOrRefused) {
    const EmbeddingReference ref = load_embedding_reference("mini-bert-Q8_0");
    const Model model(ref.model_path);
    const Tokenizer tokenizer(model.file());
    std::string long_text;
    for (int i = 0; i < 40; ++i) long_text += "the cat sat on the mat ";
    EmbedParams params;
    params.context.n_ctx = 32;
    Embedder truncating(model, tokenizer, params);
    const std::vector<std::string> texts = {long_text, ref.texts[1]};
    const auto out = truncating.embed(texts);
    EXPECT_TRUE(out[0].truncated);
    EXPECT_EQ(out[0].n_tokens, 32);
    EXPECT_FALSE(out[1].truncated);
    params.overflow = Overflow::Error;
    Embedder strict(model, tokenizer, params);
    EXPECT_THROW(strict.embed(texts), Error);
    // BERT's learned positions end at its training context: a longer one is refused.
    EmbedParams too_long;
    too_long.context.n_ctx = 513;
    EXPECT_THROW(Embedder(model, tokenizer, too_long), Error);
}

// Decoder models embed too: the last token's final state (after the output norm).
TEST(Embedder, DecoderModelsPoolTheirFinalStates) {
    const Model model(test::shared_path("arch/models/mini-qwen2-Q8_0.gguf").string());
    const Tokenizer tokenizer(model.file());
    Embedder embedder(model, tokenizer, {});
    EXPECT_EQ(embedder.pooling(), Pooling::Last);
    const std::vector<std::string> texts = {"Once upon a time", "The robot", "Once upon a time"};
    const auto out = embedder.embed(texts);
    EXPECT_GE(cosine(out[0].values.data(), out[2].values.data(), embedder.dimension()), 0.99999);
    EXPECT_LT(cosine(out[0].values.data(), out[1].values.data(), embedder.dimension()), 0.999);
}

TEST(Embedder, EncodersRefuseToGenerateText) {
    const Model model(test::shared_path("arch/models/mini-bert-Q8_0.gguf").string());
    Context context(model, {});
    const int32_t tokens[] = {101, 1996, 102};
    try {
        context.decode(tokens);
        FAIL() << "decode on an encoder";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("encoder"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ember

// `ember bench -m FILE [-p 512] [-n 128] [-d 0] [-t N] [-r 3] [-o table|jsonl]`: prompt
// processing and generation speed, measured like llama-bench (a prompt of p tokens as one batch
// from an empty cache, or from a cache already holding d tokens with -d, untimed; n tokens
// generated one at a time), with llama-bench's JSON field names so
// tools that read llama-bench read ember. It also measures this machine's memory read
// bandwidth and reports generation as a fraction of that roofline: every weight byte (but the
// embedding table's, of which one row is read) is read once per generated token, so bytes x
// tokens/s cannot exceed the best rate at which this machine can read them. The bandwidth is the
// best of several measurements: the weights' own size (a small model is read from the caches)
// and 1 GiB, with one thread and with the test's threads.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "ember.h"
#include "engine/generate/session.h"
#include "engine/model/context.h"
#include "engine/runtime/thread_pool.h"
#include "kernels/cpu_features.h"
#include "tools/command.h"
#include "tools/model_options.h"
#include "tools/speculation_options.h"

namespace ember::cli {
namespace {

struct BenchOptions {
    ModelOptions model;
    int n_prompt = 512;
    int n_gen = 128;
    int n_depth = 0;  // tokens in the cache before each test (llama-bench's -d)
    int repetitions = 3;
    bool threads_sweep = false;  // every thread count from 1 up
    bool roofline = true;        // measure the memory-read bandwidth (--no-roofline: skip it)
    std::string output = "table";
    SpeculationOptions speculation;  // tgN: greedy generation through a Session, speculating
};

// What generation with speculation starts from: a text, so that the draft has something to
// guess from (random tokens would give it nothing).
constexpr const char* kSpeculationPrompt = "Once upon a time, there was a little girl named";

struct Stats {
    double mean = 0, sd = 0;
};

Stats stats_of(const std::vector<double>& v) {
    Stats s;
    for (double x : v) s.mean += x;
    s.mean /= static_cast<double>(v.size());
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0;
    return s;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Read bandwidth (GB/s) with n_threads threads over a buffer of `bytes`, read again and again
// for at least 1 GiB in all: the best of 3 such runs.
double measure_read_bandwidth(int n_threads, size_t bytes) {
    bytes = std::max<size_t>(bytes / 64 * 64, 1 << 16);
    const int passes = static_cast<int>(std::max<size_t>(1, (size_t{1} << 30) / bytes));
    std::vector<uint64_t> buffer(bytes / sizeof(uint64_t), 1);
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
        std::vector<std::thread> threads;
        std::vector<uint64_t> sums(static_cast<size_t>(n_threads));
        const auto start = std::chrono::steady_clock::now();
        for (int t = 0; t < n_threads; ++t) {
            threads.emplace_back([&, t] {
                const size_t n = buffer.size(), begin = n * t / n_threads,
                             end = n * (t + 1) / n_threads;
                uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (int pass = 0; pass < passes; ++pass) {
                    for (size_t i = begin; i + 4 <= end; i += 4) {
                        s0 += buffer[i];
                        s1 += buffer[i + 1];
                        s2 += buffer[i + 2];
                        s3 += buffer[i + 3];
                    }
                }
                sums[t] = s0 + s1 + s2 + s3;
            });
        }
        for (auto& th : threads) th.join();
        best = std::max(best, static_cast<double>(bytes) * passes / seconds_since(start) / 1e9);
    }
    return best;
}

// "5M", "135M", "1.1B", "7B": a parameter count as model names give it.
std::string params_label(uint64_t n) {
    char text[32];
    const double v = static_cast<double>(n);
    if (v >= 1e9) {
        std::snprintf(text, sizeof(text), v < 9.95e9 ? "%.1fB" : "%.0fB", v / 1e9);
    } else if (v >= 1e6) {
        std::snprintf(text, sizeof(text), "%.0fM", v / 1e6);
    } else {
        std::snprintf(text, sizeof(text), "%.0fK", v / 1e3);
    }
    return text;
}

// What llama-bench prints for a file's general.file_type (llama.cpp's LLAMA_FTYPE numbers); for
// an unknown one, the tensor type that holds the most bytes.
std::string file_type_name(const gguf::File& file) {
    static const std::pair<uint32_t, const char*> kNames[] = {
        {0, "all F32"},        {1, "F16"},
        {2, "Q4_0"},           {3, "Q4_1"},
        {7, "Q8_0"},           {8, "Q5_0"},
        {9, "Q5_1"},           {10, "Q2_K - Medium"},
        {11, "Q3_K - Small"},  {12, "Q3_K - Medium"},
        {13, "Q3_K - Large"},  {14, "Q4_K - Small"},
        {15, "Q4_K - Medium"}, {16, "Q5_K - Small"},
        {17, "Q5_K - Medium"}, {18, "Q6_K"},
        {32, "BF16"}};
    if (file.find("general.file_type") != nullptr) {
        const uint32_t ftype = file.get_u32("general.file_type");
        for (const auto& [id, name] : kNames) {
            if (id == ftype) return name;
        }
    }
    std::map<TensorType, uint64_t> bytes;
    for (const auto& t : file.tensors()) bytes[t.type] += t.n_bytes;
    TensorType most = TensorType::F32;
    for (const auto& [type, n] : bytes) {
        if (n > bytes[most]) most = type;
    }
    return std::string(tensor_type_name(most));
}

int run_bench(const BenchOptions& o) {
    if (o.n_prompt == 0 && o.n_gen == 0)
        throw UsageError("-p and -n are both 0: nothing to measure");
    const bool speculating = !o.speculation.draft_model.empty() || o.speculation.lookup > 0;
    if (speculating && o.n_depth > 0) {
        throw UsageError(
            "--draft-model and --lookup measure generation after a text prompt; "
            "-d is not taken with them");
    }
    const Model model(o.model.model_path, o.model.model_options());
    const std::unique_ptr<const Model> draft_model = o.speculation.load(o.model.model_options());
    // Bytes a generated token reads: every tensor but the embedding table, unless the output
    // head is that table (tied embeddings); of a mixture's experts only those a token chooses.
    const uint64_t weight_bytes = token_reads(model.config(), model.file()).bytes;
    uint64_t model_bytes = 0, n_params = 0;
    for (const auto& t : model.file().tensors()) {
        model_bytes += t.n_bytes;
        n_params += t.n_elements;
    }
    ContextParams params = o.model.context_params();
    params.n_ctx = o.n_depth + std::max(o.n_prompt, o.n_gen) + 1;
    params.n_batch = std::max({1, o.n_prompt, std::min(o.n_depth, 512)});
    // --threads-sweep: 1, 2, ... up to -t (default: the CPUs this process may use).
    std::vector<int> thread_counts;
    if (o.threads_sweep) {
        const int top = o.model.n_threads > 0 ? o.model.n_threads : usable_cpu_count();
        for (int t = 1; t <= top; ++t) thread_counts.push_back(t);
    } else {
        thread_counts.push_back(params.n_threads);  // 0: the default
    }
    std::mt19937 rng(1);
    std::vector<int32_t> tokens(std::max({o.n_prompt, o.n_depth, 1}));
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % model.config().n_vocab);

    const std::string type_name = file_type_name(model.file());
    char model_type[64];
    // llama-bench's model_type: the architecture, the size, the file type ("qwen35 752M Q4_0").
    std::snprintf(model_type, sizeof(model_type), "%s %s %s",
                  std::string(model.config().arch->name).c_str(), params_label(n_params).c_str(),
                  type_name.c_str());

    struct Result {
        int n_threads, n_prompt, n_gen;
        std::vector<double> ts;
        int64_t drafted = 0, accepted = 0;  // speculation, over the repetitions
    };
    std::optional<Tokenizer> tokenizer;
    std::vector<int32_t> text_prompt;
    if (speculating) {
        tokenizer.emplace(model.file());
        text_prompt = tokenizer->encode(kSpeculationPrompt, true, false);
        params.n_ctx = std::max(params.n_ctx, static_cast<int>(text_prompt.size()) + o.n_gen + 1);
    }
    std::vector<Result> results;
    std::unique_ptr<Context> context_ptr;
    // Generation with speculation: greedy from the text prompt, as ember run would.
    const auto run_speculative_test = [&](int n_gen) {
        SessionParams sp;
        sp.context = params;
        sp.sampling.temperature = 0;
        sp.speculation = o.speculation.params(draft_model.get());
        Session session(model, *tokenizer, sp);
        Result r{session.context().n_threads(), 0, n_gen, {}};
        for (int rep = -1; rep < o.repetitions; ++rep) {
            session.reset();
            session.append_tokens(text_prompt);
            TurnOptions turn;
            turn.max_tokens = n_gen;
            turn.ignore_eos = true;
            turn.context_shift = false;
            const TurnResult result =
                session.generate("", turn, [](std::string_view) { return true; });
            if (rep < 0) continue;
            r.ts.push_back(1000.0 * result.n_generated / result.generate_ms);
            r.drafted += result.n_drafted;
            r.accepted += result.n_accepted;
        }
        results.push_back(r);
    };
    const auto run_test = [&](int n_prompt, int n_gen) {
        if (n_gen > 0 && speculating) return run_speculative_test(n_gen);
        Context& context = *context_ptr;
        Result r{context.n_threads(), n_prompt, n_gen, {}};
        for (int rep = -1; rep < o.repetitions; ++rep) {  // rep -1 warms up
            context.truncate(0);
            if (o.n_depth > 0)
                context.decode(std::span(tokens.data(), static_cast<size_t>(o.n_depth)));
            const auto start = std::chrono::steady_clock::now();
            if (n_prompt > 0)
                context.decode(std::span(tokens.data(), static_cast<size_t>(n_prompt)));
            for (int i = 0; i < n_gen; ++i)
                context.decode(std::span(tokens.data() + (i % tokens.size()), 1));
            if (rep >= 0) r.ts.push_back((n_prompt + n_gen) / seconds_since(start));
        }
        results.push_back(r);
    };
    int max_threads = 1;
    for (int threads : thread_counts) {
        params.n_threads = threads;
        context_ptr.reset();  // one context at a time
        context_ptr = std::make_unique<Context>(model, params);
        max_threads = std::max(max_threads, context_ptr->n_threads());
        if (o.n_prompt > 0) run_test(o.n_prompt, 0);
        if (o.n_gen > 0) run_test(0, o.n_gen);
    }
    double bandwidth = 0;
    for (int threads : {1, max_threads}) {
        if (!o.roofline) break;
        for (size_t bytes : {static_cast<size_t>(weight_bytes), size_t{1} << 30})
            bandwidth = std::max(bandwidth, measure_read_bandwidth(threads, bytes));
        if (max_threads == 1) break;
    }

    if (o.output == "jsonl") {
        for (const Result& r : results) {
            const Stats s = stats_of(r.ts);
            // The run times, as llama-bench reports them beside the rates (mean and sd of each).
            std::vector<double> ns;
            for (double ts : r.ts) ns.push_back(1e9 * (r.n_prompt + r.n_gen) / ts);
            const Stats s_ns = stats_of(ns);
            std::printf(
                "{\"build_commit\": \"ember-%s\", \"cpu_info\": \"%s\", \"backends\": \"CPU\", "
                "\"model_filename\": \"%s\", \"model_type\": \"%s\", \"model_size\": %llu, "
                "\"model_n_params\": %llu, \"n_batch\": %d, \"n_ubatch\": %d, \"n_threads\": %d, "
                "\"type_k\": \"%s\", \"type_v\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, "
                "\"n_depth\": %d, "
                "\"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, "
                "\"read_bandwidth_gbs\": %.2f, \"roofline_fraction\": %.4f, "
                "\"n_drafted\": %lld, \"n_accepted\": %lld}\n",
                EMBER_VERSION_STRING, active_kernel_set().c_str(), o.model.model_path.c_str(),
                model_type, static_cast<unsigned long long>(model_bytes),
                static_cast<unsigned long long>(n_params), params.n_batch, params.n_batch,
                r.n_threads, o.model.kv_type.c_str(), o.model.kv_type.c_str(), r.n_prompt, r.n_gen,
                o.n_depth, s_ns.mean, s_ns.sd, s.mean, s.sd, bandwidth,
                r.n_gen > 0 && bandwidth > 0 ? weight_bytes * s.mean / 1e9 / bandwidth : 0.0,
                static_cast<long long>(r.drafted), static_cast<long long>(r.accepted));
        }
        return 0;
    }
    std::printf("| %-22s | %10s | %8s | %12s | %7s | %13s | %20s | %14s |\n", "model", "size",
                "params", "kernels", "threads", "test", "t/s", "roofline");
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", std::string(22, '-').c_str(),
                std::string(10, '-').c_str(), std::string(8, '-').c_str(),
                std::string(12, '-').c_str(), std::string(7, '-').c_str(),
                std::string(13, '-').c_str(), std::string(20, '-').c_str(),
                std::string(14, '-').c_str());
    for (const Result& r : results) {
        const Stats s = stats_of(r.ts);
        char test[40], ts[32], roof[32] = "";
        std::snprintf(test, sizeof(test), r.n_prompt > 0 ? "pp%d" : "tg%d",
                      r.n_prompt > 0 ? r.n_prompt : r.n_gen);
        if (o.n_depth > 0)  // llama-bench's label: "tg128 @ d1024"
            std::snprintf(test + std::strlen(test), sizeof(test) - std::strlen(test), " @ d%d",
                          o.n_depth);
        std::snprintf(ts, sizeof(ts), "%.2f ± %.2f", s.mean, s.sd);
        if (r.n_gen > 0 && bandwidth > 0) {
            const double gbs = weight_bytes * s.mean / 1e9;
            std::snprintf(roof, sizeof(roof), "%.1f GB/s %.0f%%", gbs, 100 * gbs / bandwidth);
        }
        std::printf("| %-22s | %6.2f MiB | %8s | %12s | %7d | %13s | %20s | %14s |\n", model_type,
                    model_bytes / 1048576.0, params_label(n_params).c_str(),
                    active_kernel_set().c_str(), r.n_threads, test, ts, roof);
    }
    for (const Result& r : results) {
        if (r.n_gen == 0 || !speculating) continue;
        std::printf(
            "\ntg%d speculating (greedy after \"%s\"): %lld drafted, %lld accepted (%.0f%%)",
            r.n_gen, kSpeculationPrompt, static_cast<long long>(r.drafted),
            static_cast<long long>(r.accepted),
            r.drafted > 0 ? 100.0 * r.accepted / r.drafted : 0.0);
    }
    if (speculating) std::printf("\n");
    if (o.threads_sweep) {
        // The curve in one line per test: tokens/s by thread count, and the best.
        for (const bool gen : {false, true}) {
            std::string line;
            double best = 0;
            int best_threads = 0;
            for (const Result& r : results) {
                if ((r.n_gen > 0) != gen) continue;
                const double ts = stats_of(r.ts).mean;
                char cell[48];
                std::snprintf(cell, sizeof(cell), "%s%d: %.1f", line.empty() ? "" : ", ",
                              r.n_threads, ts);
                line += cell;
                if (ts > best) best = ts, best_threads = r.n_threads;
            }
            if (!line.empty()) {
                std::printf("\n%s tokens/s by threads: %s (best: %d)",
                            gen ? "generation" : "prompt", line.c_str(), best_threads);
            }
        }
        std::printf("\n");
    }
    if (!o.roofline) return 0;
    std::printf(
        "\nread bandwidth: %.1f GB/s (the best of 1 and %d threads over the %.1f MiB a token "
        "reads and over 1 GiB)\n",
        bandwidth, max_threads, weight_bytes / 1048576.0);
    return 0;
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
    auto options = std::make_shared<BenchOptions>();
    CLI::App* sub =
        app.add_subcommand("bench", "Measure prompt and generation speed (llama-bench style)");
    options->model.add_to(*sub);
    sub->add_option("-p,--n-prompt", options->n_prompt, "Prompt tokens (0: skip)")
        ->check(number_in(0, 1 << 20, "0: skip"))
        ->capture_default_str();
    sub->add_option("-n,--n-gen", options->n_gen, "Generated tokens (0: skip)")
        ->check(number_in(0, 1 << 20, "0: skip"))
        ->capture_default_str();
    sub->add_option(
           "-d,--n-depth", options->n_depth,
           "Tokens already in the KV cache before each test (untimed), as llama-bench's -d")
        ->check(number_in(0, 1 << 20))
        ->capture_default_str();
    sub->add_flag("--threads-sweep", options->threads_sweep,
                  "Run every test with 1, 2, ... threads up to -t (default: the CPUs this "
                  "process may use) and print tokens/s by thread count");
    sub->add_flag("!--no-roofline", options->roofline,
                  "Skip the memory-read bandwidth measurement and the roofline column "
                  "(bench/arm-count.sh: it would only cost emulated time)");
    sub->add_option("-r,--repetitions", options->repetitions, "Repetitions per test")
        ->check(number_in(1, 1000))
        ->capture_default_str();
    options->speculation.add_to(*sub);
    sub->add_option("-o,--output", options->output, "table or jsonl")
        ->check(CLI::IsMember({"table", "jsonl"}))
        ->capture_default_str();
    return [options] { return run_bench(*options); };
}

}  // namespace ember::cli

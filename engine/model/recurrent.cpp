// The recurrent layers of the hybrid families, beside attention (forward.cpp dispatches on
// LayerSpec::kind): lfm2's gated short convolution and qwen35's Gated DeltaNet. Each keeps a
// state per sequence instead of a row per position (Context::state, context.h), so a batch
// goes through them in order, each token reading the state its predecessor in the same
// sequence left: the convolutions a run of one sequence's tokens at a time, the delta rule of
// a prompt in chunks of tokens (delta_rule.h). (llama.cpp d32676d runs its CPU prompts through the
// token-by-token recurrence: its fused gated_delta_net kernel; ../shared/arch2/SURVEY.md.)
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "engine/model/context.h"
#include "engine/model/delta_rule.h"

namespace ember {
namespace {

// The runs of one sequence's tokens in a batch, in order: body(seq, first, end).
template <typename Body>
void for_runs(const std::vector<int>& seqs, int n, Body&& body) {
    for (int t0 = 0, t1; t0 < n; t0 = t1) {
        for (t1 = t0 + 1; t1 < n && seqs[t1] == seqs[t0];) ++t1;
        body(seqs[t0], t0, t1);
    }
}

// A depthwise causal convolution of `width` channels over a run of n tokens of one sequence:
// out[t][c] = the channel's taps (oldest first) over its inputs t - taps + 1 .. t, where inputs
// before the run come from `state` ((taps - 1) rows, oldest first); then the run's last
// taps - 1 inputs become the state. Rows of in, out and state are in_stride, out_stride and
// state_stride floats apart, so a thread can take a slice of the channels.
void causal_conv(const float* in, size_t in_stride, int n, const float* kernel, int taps, int width,
                 float* state, size_t state_stride, float* out, size_t out_stride) {
    const size_t W = static_cast<size_t>(width);
    const int64_t kept = taps - 1;
    // The taps as (taps, width): rows the loop can run on. Kept per thread: this runs once per
    // layer and token, and a fresh vector each time cost a page-zeroing allocation (and the
    // heap's trim with its TLB shootdown) per call.
    thread_local std::vector<float> by_tap;
    by_tap.resize(taps * W);
    for (size_t ch = 0; ch < W; ++ch)
        for (int j = 0; j < taps; ++j) by_tap[j * W + ch] = kernel[ch * taps + j];
    const auto input = [&](int64_t s) {  // input s of the run; s < 0: from the state
        return s < 0 ? state + (s + kept) * state_stride : in + s * in_stride;
    };
    for (int t = 0; t < n; ++t) {
        float* __restrict y = out + static_cast<size_t>(t) * out_stride;
        for (size_t ch = 0; ch < W; ++ch) y[ch] = 0.0f;
        for (int j = 0; j < taps; ++j) {
            const float* __restrict x = input(t - kept + j);
            const float* __restrict k = &by_tap[j * W];
            for (size_t ch = 0; ch < W; ++ch) y[ch] += k[ch] * x[ch];
        }
    }
    // The new state: inputs n - kept .. n - 1, in place. Row r takes input n - kept + r, which
    // for a run shorter than the window is old state row r + n: later than r, not yet moved.
    for (int64_t r = 0; r < kept; ++r) {
        const float* x = input(n - kept + r);
        std::copy(x, x + W, state + r * state_stride);
    }
}

// causal_conv over all `channels` of a batch, a run of one sequence's tokens at a time, the
// channels split across the threads in slices of 64.
void causal_conv_batch(ThreadPool& pool, const std::vector<int>& seqs, int n, const float* in,
                       size_t in_stride, const float* kernel, int taps, int channels,
                       const std::function<float*(int seq)>& state_of, float* out,
                       size_t out_stride) {
    constexpr int kSlice = 64;
    const int slices = (channels + kSlice - 1) / kSlice;
    for_runs(seqs, n, [&](int seq, int t0, int t1) {
        float* state = state_of(seq);
        const auto body = [&](int64_t s0, int64_t s1) {
            const int c0 = static_cast<int>(s0) * kSlice;
            const int c1 = std::min(channels, static_cast<int>(s1) * kSlice);
            causal_conv(in + static_cast<size_t>(t0) * in_stride + c0, in_stride, t1 - t0,
                        kernel + static_cast<size_t>(c0) * taps, taps, c1 - c0, state + c0,
                        channels, out + static_cast<size_t>(t0) * out_stride + c0, out_stride);
        };
        if (t1 - t0 < kFewTokens)
            body(0, slices);
        else
            pool.parallel_for(slices, body);
    });
}

// Runs of a sequence's tokens at least this long go through the chunked form of the delta rule.
constexpr int kChunkedRun = 16;

// log(1 + e^x), linear past 20 as ggml's softplus.
float softplus(float x) {
    return x > 20.0f ? x : std::log1p(std::exp(x));
}

// x / max(||x||, eps), as ggml_l2_norm.
void l2_normalize(float* x, int n, float eps) {
    float sum = 0;
    for (int i = 0; i < n; ++i) sum += x[i] * x[i];
    const float scale = 1.0f / std::max(std::sqrt(sum), eps);
    for (int i = 0; i < n; ++i) x[i] *= scale;
}

}  // namespace

// x += W_out (C * conv(B * x')), with B, C, x' = W_in h and h = Norm(x): LFM2's gated short
// convolution (Liquid AI; llama.cpp's build_lfm2 shortconv block). conv mixes each channel's
// last n_conv values of B * x' with that channel's taps, the oldest first.
void Context::short_conv_block(int l, int n) {
    const ModelConfig& c = model_.config();
    const LayerWeights& w = model_.layers[l];
    const int d = c.n_embd;
    const float* in = block_input(w.attn_norm, n);
    // W_in (3d, d) @ in (n, d) -> bcx (n, 3d): B, C, x' side by side
    project(in, n, d, {{&w.conv_in, mix_in_.data()}});
    // bx = B * x' in B's place; conv(bx) -> mix_out_ (n, d); out = C * conv(bx)
    for (int t = 0; t < n; ++t) {
        float* b = &mix_in_[static_cast<size_t>(t) * 3 * d];
        const float* x = b + 2 * d;
        for (int ch = 0; ch < d; ++ch) b[ch] *= x[ch];
    }
    causal_conv_batch(
        pool_, seqs_, n, mix_in_.data(), 3 * d, w.conv_kernel, c.n_conv, d,
        [&](int seq) { return state(c.layers[l].slot, seq); }, mix_out_.data(), d);
    for (int t = 0; t < n; ++t) {
        const float* gate = &mix_in_[static_cast<size_t>(t) * 3 * d + d];
        float* out = &mix_out_[static_cast<size_t>(t) * d];
        for (int ch = 0; ch < d; ++ch) out[ch] *= gate[ch];
    }
    // W_out (d, d) @ out (n, d) -> proj (n, d)
    project(mix_out_.data(), n, d, {{&w.conv_out, proj_.data()}});
    add_block_output(n, nullptr, nullptr, nullptr, nullptr);
}

// x += W_out o, h = Norm(x): Qwen3.5's Gated DeltaNet (Yang et al., 2024, "Gated Delta
// Networks"; llama.cpp's qwen35 graph):
//   q, k, v = SiLU(causal conv(W_qkv h))           q, k: ssm_k_heads heads, v: ssm_v_heads
//   q, k = each head / its L2 norm
//   beta = sigmoid(W_beta h), g = softplus(W_alpha h + dt_bias) * a   per value head (a < 0)
//   per value head v_h, with key head kh = h mod ssm_k_heads and its state S (d_k, d_v):
//     S = exp(g) S;  S += k (beta (v - S^T k))^T;  o = S^T q / sqrt(d_k)
//   o = RMSNorm(o) * ssm_norm * silu(W_z h), head by head
void Context::delta_net_block(int l, int n) {
    const ModelConfig& c = model_.config();
    const LayerWeights& w = model_.layers[l];
    const int d = c.n_embd, channels = c.conv_channels, key_dim = c.ssm_key_dim();
    const int value_dim = c.ssm_value_dim(), hd = c.ssm_head_dim, n_v = c.ssm_v_heads;
    const int n_k = c.ssm_k_heads, slot = c.layers[l].slot;
    const size_t nn = static_cast<size_t>(n);
    float* qkv = mix_in_.data();          // (n, channels): raw, before the convolution
    float* z = qkv + nn * channels;       // (n, value_dim)
    float* beta = z + nn * value_dim;     // (n, n_v)
    float* alpha = beta + nn * n_v;       // (n, n_v): the log decay g once computed
    float* conv = mix_out_.data();        // (n, channels): after the convolution and SiLU
    float* heads = conv + nn * channels;  // (n, value_dim): the heads' outputs
    const float* in = block_input(w.attn_norm, n);
    // W_qkv (channels, d), W_z (value_dim, d), W_beta, W_alpha (n_v, d) @ in (n, d)
    project(in, n, d,
            {{&w.conv_in, qkv}, {&w.ssm_z, z}, {&w.ssm_beta, beta}, {&w.ssm_alpha, alpha}});
    // conv(qkv) -> conv (n, channels), run by run: each moves its sequence's window on
    causal_conv_batch(
        pool_, seqs_, n, qkv, channels, w.conv_kernel, c.n_conv, channels,
        [&](int seq) { return state(slot, seq); }, conv, channels);
    for_tokens(pool_, n, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            float* q = conv + static_cast<size_t>(t) * channels;
            silu(q, channels);
            for (int h = 0; h < 2 * n_k; ++h) l2_normalize(q + h * hd, hd, c.norm_eps);  // q, k
            for (int h = 0; h < n_v; ++h) {
                float* b = &beta[static_cast<size_t>(t) * n_v + h];
                float* a = &alpha[static_cast<size_t>(t) * n_v + h];
                *b = sigmoid(*b);
                *a = softplus(*a + w.ssm_dt_bias[h]) * w.ssm_a[h];
            }
        }
    });
    // The delta rule: heads apart on the threads, each going through its runs of one
    // sequence's tokens in order; a long run (a prompt) in chunks, a short one (generation,
    // a few tokens) token by token (delta_rule.h).
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const size_t matrices = static_cast<size_t>(c.n_conv - 1) * channels;  // past the window
    for_tokens(pool_, n_v, [&](int64_t h0, int64_t h1) {
        std::vector<float> scratch;
        for (int64_t h = h0; h < h1; ++h) {
            const int kh = static_cast<int>(h % n_k);
            for_runs(seqs_, n, [&](int seq, int t0, int t1) {
                DeltaRuleRun run;
                run.n = t1 - t0;
                run.dim = hd;
                run.q = conv + static_cast<size_t>(t0) * channels + kh * hd;
                run.k = run.q + key_dim;
                run.qk_stride = channels;
                run.v = conv + static_cast<size_t>(t0) * channels + 2 * key_dim + h * hd;
                run.v_stride = channels;
                run.g = &alpha[static_cast<size_t>(t0) * n_v + h];
                run.beta = &beta[static_cast<size_t>(t0) * n_v + h];
                run.gate_stride = n_v;
                run.out = heads + static_cast<size_t>(t0) * value_dim + h * hd;
                run.out_stride = value_dim;
                run.scale = scale;
                float* S = state(slot, seq) + matrices + static_cast<size_t>(h) * hd * hd;
                if (run.n >= kChunkedRun)
                    delta_rule_chunked(run, S, scratch);
                else
                    delta_rule_steps(run, S);
            });
        }
    });
    // The gated norm, head by head: RMSNorm(o) * ssm_norm * silu(z), into z's place
    for_tokens(pool_, n, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            for (int h = 0; h < n_v; ++h) {
                float* o = heads + static_cast<size_t>(t) * value_dim + h * hd;
                rms_norm(o, w.ssm_norm, o, hd, c.norm_eps);
            }
            silu_mul(z + static_cast<size_t>(t) * value_dim,
                     heads + static_cast<size_t>(t) * value_dim, value_dim);
        }
    });
    // W_out (d, value_dim) @ gated (n, value_dim) -> proj (n, d)
    project(z, n, value_dim, {{&w.conv_out, proj_.data()}});
    add_block_output(n, nullptr, nullptr, nullptr, nullptr);
}

}  // namespace ember

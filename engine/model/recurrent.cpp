// The recurrent layers of the hybrid families, beside attention (forward.cpp dispatches on
// LayerSpec::kind): lfm2's gated short convolution and qwen35's Gated DeltaNet. Each keeps a
// state per sequence instead of a row per position (Context::state, context.h), so a batch
// goes through them token by token in order, each token reading the state its predecessor in
// the same sequence left. (llama.cpp d32676d runs its prompts through the same sequential
// recurrence on the CPU: its fused gated_delta_net kernel; ../shared/arch2/SURVEY.md.)
#include <cmath>
#include <vector>

#include "engine/model/context.h"

namespace ember {
namespace {

// One step of a depthwise causal convolution over `channels`: out[c] = the channel's taps
// (oldest first) over its last taps - 1 inputs, kept in `state` ((taps - 1, channels), oldest
// row first), and in[c]; then in joins the state and its oldest row leaves.
void causal_conv_step(const float* in, const float* kernel, int taps, int channels, float* state,
                      float* out) {
    for (int ch = 0; ch < channels; ++ch) {
        const float* k = kernel + static_cast<size_t>(ch) * taps;
        float y = 0;
        for (int j = 0; j < taps - 1; ++j)
            y += k[j] * state[static_cast<size_t>(j) * channels + ch];
        y += k[taps - 1] * in[ch];
        for (int j = 0; j + 1 < taps - 1; ++j) {
            state[static_cast<size_t>(j) * channels + ch] =
                state[static_cast<size_t>(j + 1) * channels + ch];
        }
        state[static_cast<size_t>(taps - 2) * channels + ch] = in[ch];
        out[ch] = y;
    }
}

float silu(float x) {
    return x * sigmoid(x);
}
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
    std::vector<float> bx(d), y(d);
    for (int t = 0; t < n; ++t) {
        const float* b = &mix_in_[static_cast<size_t>(t) * 3 * d];
        const float* gate = b + d;
        const float* x = b + 2 * d;
        for (int ch = 0; ch < d; ++ch) bx[ch] = b[ch] * x[ch];
        causal_conv_step(bx.data(), w.conv_kernel, c.n_conv, d, state(c.layers[l].slot, seqs_[t]),
                         y.data());
        float* out = &mix_out_[static_cast<size_t>(t) * d];
        for (int ch = 0; ch < d; ++ch) out[ch] = gate[ch] * y[ch];
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
    float* alpha = beta + nn * n_v;       // (n, n_v): the decay exp(g) once computed
    float* conv = mix_out_.data();        // (n, channels): after the convolution and SiLU
    float* heads = conv + nn * channels;  // (n, value_dim): the heads' outputs
    const float* in = block_input(w.attn_norm, n);
    // W_qkv (channels, d), W_z (value_dim, d), W_beta, W_alpha (n_v, d) @ in (n, d)
    project(in, n, d,
            {{&w.conv_in, qkv}, {&w.ssm_z, z}, {&w.ssm_beta, beta}, {&w.ssm_alpha, alpha}});
    for (int t = 0; t < n; ++t) {  // in order: each token moves its sequence's window on
        float* out = conv + static_cast<size_t>(t) * channels;
        causal_conv_step(qkv + static_cast<size_t>(t) * channels, w.conv_kernel, c.n_conv, channels,
                         state(slot, seqs_[t]), out);
        for (int ch = 0; ch < channels; ++ch) out[ch] = silu(out[ch]);
    }
    for_tokens(pool_, n, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            float* q = conv + static_cast<size_t>(t) * channels;
            for (int h = 0; h < 2 * n_k; ++h) l2_normalize(q + h * hd, hd, c.norm_eps);  // q, k
            for (int h = 0; h < n_v; ++h) {
                float* b = &beta[static_cast<size_t>(t) * n_v + h];
                float* a = &alpha[static_cast<size_t>(t) * n_v + h];
                *b = sigmoid(*b);
                *a = std::exp(softplus(*a + w.ssm_dt_bias[h]) * w.ssm_a[h]);
            }
        }
    });
    // The delta rule: heads apart on the threads, each going through the tokens in order.
    // Each token needs two sweeps over S: decay it and read S^T k (for its delta), then add
    // k delta^T and read S^T q. Within a run of one sequence's tokens, token t's second sweep
    // and token t + 1's first go together, so S (64 KB a head in Qwen3.5) streams through the
    // cache once per token instead of twice; every element sees the same operations in the
    // same order as two sweeps would give it.
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const size_t matrices = static_cast<size_t>(c.n_conv - 1) * channels;  // past the window
    for_tokens(pool_, n_v, [&](int64_t h0, int64_t h1) {
        std::vector<float> delta(hd), next(hd), o(hd);
        for (int64_t h = h0; h < h1; ++h) {
            const int kh = static_cast<int>(h % n_k);
            const auto q_of = [&](int t) {
                return conv + static_cast<size_t>(t) * channels + kh * hd;
            };
            const auto k_of = [&](int t) { return q_of(t) + key_dim; };
            const auto v_of = [&](int t) {
                return conv + static_cast<size_t>(t) * channels + 2 * key_dim + h * hd;
            };
            const auto decay_of = [&](int t) { return alpha[static_cast<size_t>(t) * n_v + h]; };
            const auto beta_of = [&](int t) { return beta[static_cast<size_t>(t) * n_v + h]; };
            float* __restrict dl = delta.data();
            float* __restrict nx = next.data();
            float* __restrict ol = o.data();
            for (int t = 0; t < n; ++t) {
                float* S = state(slot, seqs_[t]) + matrices + static_cast<size_t>(h) * hd * hd;
                if (t == 0 || seqs_[t - 1] != seqs_[t]) {
                    // A run's first token: S = decay S; delta = beta (v - S^T k)
                    const float decay = decay_of(t);
                    const float* k = k_of(t);
                    for (int j = 0; j < hd; ++j) dl[j] = 0;
                    for (int i = 0; i < hd; ++i) {
                        float* __restrict s = S + static_cast<size_t>(i) * hd;
                        const float ki = k[i];
                        for (int j = 0; j < hd; ++j) {
                            const float sj = s[j] * decay;
                            s[j] = sj;
                            dl[j] += sj * ki;
                        }
                    }
                    const float* v = v_of(t);
                    const float b = beta_of(t);
                    for (int j = 0; j < hd; ++j) dl[j] = b * (v[j] - dl[j]);
                }
                // S += k delta^T and o = S^T q; with a next token in the same sequence, also
                // its S = decay S and S^T k.
                const bool more = t + 1 < n && seqs_[t + 1] == seqs_[t];
                const float* k = k_of(t);
                const float* q = q_of(t);
                for (int j = 0; j < hd; ++j) ol[j] = 0;
                if (more) {
                    const float decay = decay_of(t + 1);
                    const float* k1 = k_of(t + 1);
                    for (int j = 0; j < hd; ++j) nx[j] = 0;
                    for (int i = 0; i < hd; ++i) {
                        float* __restrict s = S + static_cast<size_t>(i) * hd;
                        const float ki = k[i], qi = q[i], k1i = k1[i];
                        for (int j = 0; j < hd; ++j) {
                            const float sj = s[j] + ki * dl[j];
                            ol[j] += sj * qi;
                            const float decayed = sj * decay;
                            s[j] = decayed;
                            nx[j] += decayed * k1i;
                        }
                    }
                } else {
                    for (int i = 0; i < hd; ++i) {
                        float* __restrict s = S + static_cast<size_t>(i) * hd;
                        const float ki = k[i], qi = q[i];
                        for (int j = 0; j < hd; ++j) {
                            const float sj = s[j] + ki * dl[j];
                            s[j] = sj;
                            ol[j] += sj * qi;
                        }
                    }
                }
                float* out = heads + static_cast<size_t>(t) * value_dim + h * hd;
                for (int j = 0; j < hd; ++j) out[j] = ol[j] * scale;
                if (more) {
                    const float* v = v_of(t + 1);
                    const float b = beta_of(t + 1);
                    for (int j = 0; j < hd; ++j) dl[j] = b * (v[j] - nx[j]);
                }
            }
        }
    });
    // The gated norm, head by head: RMSNorm(o) * ssm_norm * silu(z)
    for_tokens(pool_, n, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            for (int h = 0; h < n_v; ++h) {
                float* o = heads + static_cast<size_t>(t) * value_dim + h * hd;
                const float* gate = z + static_cast<size_t>(t) * value_dim + h * hd;
                rms_norm(o, w.ssm_norm, o, hd, c.norm_eps);
                for (int j = 0; j < hd; ++j) o[j] *= silu(gate[j]);
            }
        }
    });
    // W_out (d, value_dim) @ heads (n, value_dim) -> proj (n, d)
    project(heads, n, value_dim, {{&w.conv_out, proj_.data()}});
    add_block_output(n, nullptr, nullptr, nullptr, nullptr);
}

}  // namespace ember

#include "engine/model/model.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime/hash.h"
#include "engine/runtime/system_memory.h"
#include "engine/runtime/thread_pool.h"
#include "formats/error.h"

namespace ember {
namespace {

class TensorLookup {
  public:
    explicit TensorLookup(const gguf::File& file) : file_(file) {}

    // A vector (ne1 = 0), a matrix (ne2 = 0) or a stack of ne2 matrices.
    const gguf::TensorInfo& find(const std::string& name, uint64_t ne0, uint64_t ne1,
                                 uint64_t ne2 = 0) const {
        const gguf::TensorInfo* t = file_.find_tensor(name);
        if (t == nullptr) throw Error(file_.name() + ": missing tensor '" + name + "'");
        std::vector<uint64_t> want_ne = {ne0};
        if (ne1 != 0) want_ne.push_back(ne1);
        if (ne1 != 0 && ne2 != 0) want_ne.push_back(ne2);
        bool shape_ok = t->n_dims == want_ne.size();
        for (size_t d = 0; shape_ok && d < want_ne.size(); ++d) shape_ok = t->ne[d] == want_ne[d];
        if (!shape_ok) {
            std::string got = "[" + std::to_string(t->ne[0]);
            for (uint32_t d = 1; d < t->n_dims; ++d) got += ", " + std::to_string(t->ne[d]);
            got += "]";
            std::string want = "[" + std::to_string(want_ne[0]);
            for (size_t d = 1; d < want_ne.size(); ++d) want += ", " + std::to_string(want_ne[d]);
            want += "]";
            throw Error(file_.name() + ": tensor '" + name + "' has shape " + got + ", expected " +
                        want);
        }
        // Kernels read fp16 and f32 fields in place: the data must be at least 4-byte aligned,
        // which GGUF's default 32-byte alignment gives but an unusual general.alignment may not.
        if (reinterpret_cast<uintptr_t>(t->data) % 4 != 0) {
            throw Error(file_.name() + ": tensor '" + name + "' is not 4-byte aligned (alignment " +
                        std::to_string(file_.alignment()) + ")");
        }
        return *t;
    }

    // An optional F32 vector (a bias, a norm some files carry): nullptr when absent.
    const float* optional_vector(const std::string& name, uint64_t n) const {
        return file_.find_tensor(name) != nullptr ? vector(name, n) : nullptr;
    }

    // A norm weight or bias: F32 vector of n values.
    const float* vector(const std::string& name, uint64_t n) const { return floats(name, n, 0); }

    // F32 values read as they are: a vector (rows = 0), or a small matrix (a convolution's
    // taps, a channel per row).
    const float* floats(const std::string& name, uint64_t cols, uint64_t rows) const {
        const gguf::TensorInfo& t = find(name, cols, rows);
        if (t.type != TensorType::F32) {
            throw Error(file_.name() + ": tensor '" + name + "' has type " +
                        std::string(tensor_type_name(t.type)) + ", expected F32");
        }
        return reinterpret_cast<const float*>(t.data);
    }

    // Slice by slice, a 3-D tensor of `count` matrices (rows, cols): expert e is slice e.
    std::vector<WeightMatrix> matrices(const std::string& name, uint64_t cols, uint64_t rows,
                                       uint64_t count) const {
        const WeightMatrix all = checked_matrix(find(name, cols, rows, count), name, cols, rows);
        std::vector<WeightMatrix> slices(count, all);
        for (uint64_t e = 0; e < count; ++e) {
            slices[e].data = all.row(static_cast<int64_t>(e * rows));
        }
        return slices;
    }

    WeightMatrix matrix(const std::string& name, uint64_t cols, uint64_t rows) const {
        return checked_matrix(find(name, cols, rows), name, cols, rows);
    }

  private:
    WeightMatrix checked_matrix(const gguf::TensorInfo& t, const std::string& name, uint64_t cols,
                                uint64_t rows) const {
        const TypeKernels* k = kernels_for(t.type);
        if (k == nullptr || k->vec_dot == nullptr) {
            std::string supported;  // the types with a dot product, as kernels/ lists them
            const std::optional<KernelTable> reference = kernel_table("reference");
            for (const TypeKernels& type : reference->types) {
                if (type.vec_dot == nullptr) continue;
                supported +=
                    (supported.empty() ? "" : " ") + std::string(tensor_type_name(type.type));
            }
            throw Error(file_.name() + ": tensor '" + name + "' has type " +
                        std::string(tensor_type_name(t.type)) +
                        ", which ember cannot compute with (supported: " + supported + ")");
        }
        return {t.data,
                t.type,
                static_cast<int64_t>(rows),
                static_cast<int64_t>(cols),
                static_cast<size_t>(row_bytes(t.type, cols)),
                k,
                nullptr,
                t.name};
    }

    const gguf::File& file_;
};

// Rows first .. first + count - 1 of a matrix, as a matrix of their own: how a fused tensor
// (Q, K and V in one) becomes the separate projections the forward pass multiplies by.
WeightMatrix row_range(WeightMatrix m, int64_t first, int64_t count) {
    m.data = m.row(first);
    m.rows = count;
    return m;
}

}  // namespace

Model::Model(const std::string& path, const ModelOptions& options)
    : file_(path), config_(ModelConfig::from_gguf(file_)) {
    const ModelConfig& c = config_;
    const Architecture& arch = *c.arch;
    const TensorLookup tensors(file_);
    token_embd = tensors.matrix("token_embd.weight", c.n_embd, c.n_vocab);
    if (arch.encoder) {  // ARCH: embeddings plus token type and position, normalised; no head
        output_norm = nullptr;
        const gguf::TensorInfo* types = file_.find_tensor("token_types.weight");
        const uint64_t n_types = types != nullptr && types->n_dims == 2 ? types->ne[1] : 1;
        const WeightMatrix type_rows = tensors.matrix("token_types.weight", c.n_embd, n_types);
        token_type0.resize(c.n_embd);
        type_rows.kernels->dequantize_row(type_rows.row(0), token_type0.data(), c.n_embd);
        if (arch.position_embeddings) {
            position_embd = tensors.matrix("position_embd.weight", c.n_embd, c.n_ctx_train);
        }
        embd_norm = tensors.vector("token_embd_norm.weight", c.n_embd);
        embd_norm_b = tensors.vector("token_embd_norm.bias", c.n_embd);
    } else {
        output_norm = tensors.vector(std::string(arch.output_norm) + ".weight", c.n_embd);
        output = !arch.tied_output && file_.find_tensor("output.weight")
                     ? tensors.matrix("output.weight", c.n_embd, c.n_vocab)
                     : token_embd;  // tied embeddings
    }
    rope_freqs = tensors.optional_vector("rope_freqs.weight", c.n_rot / 2);
    rope_factors_short = tensors.optional_vector("rope_factors_short.weight", c.n_rot / 2);
    rope_factors_long = tensors.optional_vector("rope_factors_long.weight", c.n_rot / 2);
    layers.reserve(c.n_layer);
    for (int l = 0; l < c.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights w;
        // ARCH: pre-norm decoders normalise before each sub-layer, encoders after its residual.
        w.attn_norm = arch.encoder ? nullptr : tensors.vector(p + "attn_norm.weight", c.n_embd);
        w.ffn_norm = arch.encoder
                         ? nullptr
                         : tensors.vector(p + std::string(arch.ffn_norm) + ".weight", c.n_embd);
        if (arch.encoder) {
            w.attn_out_norm = tensors.vector(p + "attn_output_norm.weight", c.n_embd);
            w.attn_out_norm_b = tensors.vector(p + "attn_output_norm.bias", c.n_embd);
            w.ffn_out_norm = tensors.vector(p + "layer_output_norm.weight", c.n_embd);
            w.ffn_out_norm_b = tensors.vector(p + "layer_output_norm.bias", c.n_embd);
        }
        const bool attention = c.layers[l].kind == LayerKind::Attention;
        if (c.layers[l].kind == LayerKind::DeltaNet) {  // ARCH: qwen35
            w.conv_in = tensors.matrix(p + "attn_qkv.weight", c.n_embd, c.conv_channels);
            w.conv_kernel = tensors.floats(p + "ssm_conv1d.weight", c.n_conv, c.conv_channels);
            w.ssm_z = tensors.matrix(p + "attn_gate.weight", c.n_embd, c.ssm_value_dim());
            w.ssm_beta = tensors.matrix(p + "ssm_beta.weight", c.n_embd, c.ssm_v_heads);
            w.ssm_alpha = tensors.matrix(p + "ssm_alpha.weight", c.n_embd, c.ssm_v_heads);
            w.ssm_dt_bias = tensors.vector(p + "ssm_dt.bias", c.ssm_v_heads);
            w.ssm_a = tensors.vector(p + "ssm_a", c.ssm_v_heads);
            w.ssm_norm = tensors.vector(p + "ssm_norm.weight", c.ssm_head_dim);
            w.conv_out = tensors.matrix(p + "ssm_out.weight", c.ssm_value_dim(), c.n_embd);
        } else if (!attention) {  // ARCH: lfm2's short convolution
            w.conv_in = tensors.matrix(p + "shortconv.in_proj.weight", c.n_embd, 3 * c.n_embd);
            w.conv_kernel = tensors.floats(p + "shortconv.conv.weight", c.n_conv, c.n_embd);
            w.conv_out = tensors.matrix(p + "shortconv.out_proj.weight", c.n_embd, c.n_embd);
        }
        // ARCH: fused Q, K, V rows (phi3's files; any family's loader accepts them).
        const bool fused_qkv =
            attention && (file_.find_tensor(p + "attn_qkv.weight") != nullptr ||
                          (arch.fused_qkv && file_.find_tensor(p + "attn_q.weight") == nullptr));
        if (fused_qkv) {
            const WeightMatrix qkv =
                tensors.matrix(p + "attn_qkv.weight", c.n_embd, c.q_dim() + 2 * c.kv_dim());
            w.wq = row_range(qkv, 0, c.q_dim());
            w.wk = row_range(qkv, c.q_dim(), c.kv_dim());
            w.wv = row_range(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
        } else if (attention) {
            // ARCH: qwen35's attn_q also gives each head's gate rows
            w.wq = tensors.matrix(p + "attn_q.weight", c.n_embd,
                                  (arch.gated_attention ? 2 : 1) * c.q_dim());
            w.wk = tensors.matrix(p + "attn_k.weight", c.n_embd, c.kv_dim());
            w.wv = tensors.matrix(p + "attn_v.weight", c.n_embd, c.kv_dim());
        }
        if (attention) {
            w.wo = tensors.matrix(p + "attn_output.weight", c.q_dim(), c.n_embd);
            const auto bias = [&](const std::string& name, int n) {
                return arch.qkv_bias ? tensors.vector(name, n) : tensors.optional_vector(name, n);
            };
            w.bq = bias(p + "attn_q.bias", c.q_dim());
            w.bk = bias(p + "attn_k.bias", c.kv_dim());
            w.bv = bias(p + "attn_v.bias", c.kv_dim());
            w.bo = tensors.optional_vector(p + "attn_output.bias", c.n_embd);
            if (arch.qk_norm) {  // ARCH: qwen3, gemma3
                w.attn_q_norm = tensors.vector(p + "attn_q_norm.weight", c.head_dim);
                w.attn_k_norm = tensors.vector(p + "attn_k_norm.weight", c.head_dim);
            }
        }
        if (arch.experts) {  // ARCH: a mixture of experts (qwen3moe)
            w.router = tensors.matrix(p + "ffn_gate_inp.weight", c.n_embd, c.n_expert);
            const auto gates =
                tensors.matrices(p + "ffn_gate_exps.weight", c.n_embd, c.n_ff, c.n_expert);
            const auto ups =
                tensors.matrices(p + "ffn_up_exps.weight", c.n_embd, c.n_ff, c.n_expert);
            const auto downs =
                tensors.matrices(p + "ffn_down_exps.weight", c.n_ff, c.n_embd, c.n_expert);
            for (int e = 0; e < c.n_expert; ++e) w.experts.push_back({gates[e], ups[e], downs[e]});
        } else if (arch.fused_gate_up) {  // ARCH: ffn_up holds the gate rows, then the up rows
            const WeightMatrix gate_up = tensors.matrix(p + "ffn_up.weight", c.n_embd, 2 * c.n_ff);
            w.w_gate = row_range(gate_up, 0, c.n_ff);
            w.w_up = row_range(gate_up, c.n_ff, c.n_ff);
        } else {
            if (arch.gated_ffn) {
                w.w_gate = tensors.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
                w.b_gate = tensors.optional_vector(p + "ffn_gate.bias", c.n_ff);
            }
            w.w_up = tensors.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
            w.b_up = tensors.optional_vector(p + "ffn_up.bias", c.n_ff);
        }
        if (!arch.experts) {
            w.w_down = tensors.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
            w.b_down = tensors.optional_vector(p + "ffn_down.bias", c.n_embd);
        }
        if (arch.post_norms) {
            w.attn_post_norm = tensors.vector(p + "post_attention_norm.weight", c.n_embd);
            w.ffn_post_norm = tensors.vector(p + "post_ffw_norm.weight", c.n_embd);
        }
        layers.push_back(w);
    }
    experts_mapped_ = c.n_expert > 0 && !(options.repack && options.pack_experts);
    if (options.repack) pack_weights(options.pack_experts, options.unpack);
}

void Model::pack_weights(bool experts, bool unpack) {
    std::vector<WeightMatrix*> matrices;
    for (LayerWeights& l : layers) {
        for (WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down,
                                &l.conv_in, &l.conv_out, &l.ssm_z})
            if (m->data != nullptr) matrices.push_back(m);
        if (!experts) continue;
        for (ExpertWeights& e : l.experts) {  // each expert packed on its own
            for (WeightMatrix* m : {&e.gate, &e.up, &e.down}) matrices.push_back(m);
        }
    }
    if (output.data != nullptr) matrices.push_back(&output);
    const auto packed_bytes = [](const WeightMatrix& m) {
        const size_t bytes = static_cast<size_t>(m.rows / 8) * m.packed_group_bytes();
        return (bytes + 63) / 64 * 64;
    };
    const auto packs = [](const WeightMatrix& m) {
        return m.kernels->pack8 != nullptr && m.rows >= 8;
    };
    const auto unpacks = [](const WeightMatrix& m) { return m.kernels->packed_block_bytes != 0; };
    size_t total = 0;
    for (const WeightMatrix* m : matrices)
        if (packs(*m)) total += packed_bytes(*m);
    // The types that unpack (ModelOptions::unpack) stay mapped where that was turned off or
    // the packed copy would not fit what this machine has available.
    const uint64_t available = available_memory_bytes();
    if (!unpack || (available != 0 && total > available)) {
        std::erase_if(matrices, [&](const WeightMatrix* m) { return packs(*m) && unpacks(*m); });
        total = 0;
        for (const WeightMatrix* m : matrices)
            if (packs(*m)) total += packed_bytes(*m);
    }
    if (total == 0) return;
    try {
        packed_ = PageBuffer(total, PageSize::Huge);
    } catch (const Error& e) {
        throw Error(std::string(e.what()) +
                    " for the packed weights (loading without repacking needs none: "
                    "--no-repack, or ember_model_params.repack = 0)");
    }
    packed_.populate(0, total);  // every byte is written below: one call, not a fault a page
    uint8_t* next = packed_.data();
    std::vector<WeightMatrix*> to_pack;
    for (WeightMatrix* m : matrices) {
        if (!packs(*m)) continue;
        m->packed = next;
        next += packed_bytes(*m);
        unpacked_bytes_ +=
            static_cast<uint64_t>(m->rows / 8) * (m->packed_group_bytes() - 8 * m->row_bytes);
        to_pack.push_back(m);
    }
    // Packing is page faults and byte moves: one thread per core, a matrix at a time.
    std::atomic<size_t> next_matrix{0};
    const auto pack_some = [&] {
        for (size_t i; (i = next_matrix.fetch_add(1)) < to_pack.size();) {
            const WeightMatrix& m = *to_pack[i];
            uint8_t* out = const_cast<uint8_t*>(m.packed);
            for (int64_t g = 0; g < m.rows / 8; ++g) {
                m.kernels->pack8(m.cols, m.row(8 * g), m.row_bytes,
                                 out + static_cast<size_t>(g) * m.packed_group_bytes());
            }
            // The packed copy replaces the mapped rows for the matrix products; an embedding
            // table tied to the output still reads its rows from the mapping (faulted back in).
            file_.release(m.data, static_cast<size_t>(m.rows / 8) * 8 * m.row_bytes);
        }
    };
    std::vector<std::thread> helpers;
    for (int t = 1; t < default_thread_count(); ++t) helpers.emplace_back(pack_some);
    pack_some();
    for (std::thread& t : helpers) t.join();
    if (output.data != nullptr && output.data == token_embd.data) {
        token_embd.packed = output.packed;
    }
}

}  // namespace ember

namespace ember {

uint64_t Model::fingerprint() const {
    if (const uint64_t known = fingerprint_.load(); known != 0) return known;
    const uint64_t size = file_.file_size();
    uint64_t hash = fnv1a(&size, sizeof(size));
    hash = fnv1a(file_.bytes().data(), file_.data_offset(), hash);
    const auto& tensors = file_.tensors();
    const size_t step = std::max<size_t>(1, tensors.size() / 16);
    for (size_t i = 0; i < tensors.size(); i += step) {
        hash = fnv1a(tensors[i].data, std::min<uint64_t>(64, tensors[i].n_bytes), hash);
    }
    if (hash == 0) hash = 1;  // 0 means "not computed"
    fingerprint_.store(hash);
    return hash;
}

}  // namespace ember

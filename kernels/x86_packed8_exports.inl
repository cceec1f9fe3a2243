// The functions of the 8-row packed kernels (registered below), written out for every
// packed type: its packing and its 8-row kernel. Included inside the namespace of an ISA's
// file (x86_avx2_packed.cpp, x86_avxvnni_packed.cpp, x86_avx512_packed.cpp), after
// x86_packed.inl, so each definition is compiled once per instruction set.
// (No include guard: included once per translation unit, inside a namespace.)

void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ4_0, kQK, PackedQ4_0, pack_q4_0<0>>(n, w, w_stride, packed);
}
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ4_0>(n, packed, a, y, y_stride);
}
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ5_0, kQK, PackedQ5_0, pack_q5_0<false>>(n, w, w_stride, packed);
}
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ5_0>(n, packed, a, y, y_stride);
}
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ4_1, kQK, PackedQ4_1, pack_q4_1>(n, w, w_stride, packed);
}
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ4_1>(n, packed, a, y, y_stride);
}
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ5_1, kQK, PackedQ5_1, pack_q5_1<false>>(n, w, w_stride, packed);
}
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ5_1>(n, packed, a, y, y_stride);
}
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ8_0, kQK, PackedQ8_0, pack_q8_0<0x80>>(n, w, w_stride, packed);
}
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ8_0>(n, packed, a, y, y_stride);
}
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ2_K, kQK_K, PackedQ2_K, pack_q2_k>(n, w, w_stride, packed);
}
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ2_K>(n, packed, a, y, y_stride);
}
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ3_K, kQK_K, PackedQ3_K, pack_q3_k>(n, w, w_stride, packed);
}
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ3_K>(n, packed, a, y, y_stride);
}
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ4_K, kQK_K, PackedQ4_K, pack_q4_k>(n, w, w_stride, packed);
}
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ4_K>(n, packed, a, y, y_stride);
}
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ5_K, kQK_K, PackedQ5_K, pack_q5_k>(n, w, w_stride, packed);
}
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ5_K>(n, packed, a, y, y_stride);
}
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ6_K, kQK_K, PackedQ6_K, pack_q6_k>(n, w, w_stride, packed);
}
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ6_K>(n, packed, a, y, y_stride);
}

void pack8_iq4_xs(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockIQ4_XS, kQK_K, PackedIQ4_XS, pack_iq4_xs>(n, w, w_stride, packed);
}
void gemm_packed8_iq4_xs(int64_t n, const void* packed, const Q8Batch& a, float* y,
                         size_t y_stride) {
    gemm_k_packed<PackedIQ4_XS>(n, packed, a, y, y_stride);
}

// IQ1_M: unpacked into 2-bit codes (packed_layout.h, PackedIQ1_MCodes).
void pack8_iq1_m(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockIQ1_M, kQK_K, PackedIQ1_MCodes, pack_iq1_m_codes>(n, w, w_stride, packed);
}
void gemm_packed8_iq1_m(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_k_packed<PackedIQ1_MCodes>(n, packed, a, y, y_stride);
}

// The grid i-quants, IQ1_S and the ternary types: the 8 rows' blocks side by side.
template <typename Block>
void pack8_rows(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<Block, kQK_K, PackedRows8<Block>, pack_rows8<Block>>(n, w, w_stride, packed);
}
template <typename Block>
void gemm_packed8_rows(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedRows8<Block>>(n, packed, a, y, y_stride);
}

namespace {
template <typename Block>
void register_rows8(TypeKernels& k) {
    k.pack8 = pack8_rows<Block>;
    k.gemm_packed8 = gemm_packed8_rows<Block>;
}
// The packing and 8-row kernel of every packed type, into a table (the file's
// register_packed_kernels).
void register_packed8(KernelTable& t) {
    using T = TensorType;
    t[T::Q4_0].pack8 = pack8_q4_0, t[T::Q4_0].gemm_packed8 = gemm_packed8_q4_0;
    t[T::Q5_0].pack8 = pack8_q5_0, t[T::Q5_0].gemm_packed8 = gemm_packed8_q5_0;
    t[T::Q4_1].pack8 = pack8_q4_1, t[T::Q4_1].gemm_packed8 = gemm_packed8_q4_1;
    t[T::Q5_1].pack8 = pack8_q5_1, t[T::Q5_1].gemm_packed8 = gemm_packed8_q5_1;
    t[T::Q8_0].pack8 = pack8_q8_0, t[T::Q8_0].gemm_packed8 = gemm_packed8_q8_0;
    t[T::Q2_K].pack8 = pack8_q2_k, t[T::Q2_K].gemm_packed8 = gemm_packed8_q2_k;
    t[T::Q3_K].pack8 = pack8_q3_k, t[T::Q3_K].gemm_packed8 = gemm_packed8_q3_k;
    t[T::Q4_K].pack8 = pack8_q4_k, t[T::Q4_K].gemm_packed8 = gemm_packed8_q4_k;
    t[T::Q5_K].pack8 = pack8_q5_k, t[T::Q5_K].gemm_packed8 = gemm_packed8_q5_k;
    t[T::Q6_K].pack8 = pack8_q6_k, t[T::Q6_K].gemm_packed8 = gemm_packed8_q6_k;
    // IQ4_XS's values + 128 reach 241: vpmaddubsw pairs would saturate, so VNNI only.
    if constexpr (kVnni) {
        t[T::IQ4_XS].pack8 = pack8_iq4_xs, t[T::IQ4_XS].gemm_packed8 = gemm_packed8_iq4_xs;
        register_rows8<BlockIQ2_XXS>(t[T::IQ2_XXS]);
        register_rows8<BlockIQ2_XS>(t[T::IQ2_XS]);
        register_rows8<BlockIQ2_S>(t[T::IQ2_S]);
        register_rows8<BlockIQ3_XXS>(t[T::IQ3_XXS]);
        register_rows8<BlockIQ3_S>(t[T::IQ3_S]);
        register_rows8<BlockIQ1_S>(t[T::IQ1_S]);
        t[T::IQ1_M].pack8 = pack8_iq1_m, t[T::IQ1_M].gemm_packed8 = gemm_packed8_iq1_m;
        t[T::IQ1_M].packed_block_bytes = sizeof(PackedIQ1_MCodes);
        register_rows8<BlockTQ1_0>(t[T::TQ1_0]);
        register_rows8<BlockTQ2_0>(t[T::TQ2_0]);
    }
}
}  // namespace

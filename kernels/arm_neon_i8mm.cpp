// The NEON packed panel kernels (arm_packed.inl) built with the dot product and the 8-bit
// matrix multiply (+dotprod+i8mm): batches of tokens go through SMMLA, 2 rows x 2 tokens x 8
// values per instruction; one token still through SDOT. Used only when the CPU reports both
// extensions; the other kernels of the set are arm_neon_dotprod.cpp's.
#define EMBER_NEON_NAMESPACE neon_i8mm
#include "kernels/arm_packed.inl"

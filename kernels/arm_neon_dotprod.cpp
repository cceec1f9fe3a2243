// The NEON kernels again, built with the dot-product extension (+dotprod): dot16() becomes
// one SDOT instruction. Used only when the CPU reports the extension.
#define EMBER_NEON_NAMESPACE neon_dotprod
#include "kernels/arm_neon.inl"

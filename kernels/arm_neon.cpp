// The NEON kernels (arm_neon.inl) in namespace ember::neon, with the base aarch64 flags: the
// kernel set of CPUs without the dot-product extension (Cortex-A53/A72: Raspberry Pi 3 and 4).
#define EMBER_NEON_NAMESPACE neon
#include "kernels/arm_neon.inl"

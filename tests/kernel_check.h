// Comparing a dot-product kernel with the scalar reference on random rows and edge cases (all
// zero bits, all one bits, large scales; zero and saturated activations; odd lengths for the
// float types). Plain C++ without GoogleTest, so the cross-compiled NEON check can use it too.
#pragma once

#include <string>

#include "kernels/kernels.h"

namespace ember::test {

// Empty if `dot` agrees with the reference kernel of `type` on every case: bit for bit when
// `exact`, else within the float rounding bound (kernels_reference_test.cpp explains it).
// Otherwise a description of the first disagreement.
std::string check_dot_against_reference(TensorType type, VecDotFn dot, bool exact);

}  // namespace ember::test

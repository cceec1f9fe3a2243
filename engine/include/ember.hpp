// ember's C++ API: a thin layer over the C API in ember.h.
#pragma once

#include <string_view>

#include "ember.h"

namespace ember {

inline std::string_view version() { return ember_version(); }

}  // namespace ember

// The message of the ember::Error a call throws, for tests that check what an error says.
#pragma once

#include <functional>
#include <string>

#include "formats/error.h"

namespace ember::test {

// What f throws as ember::Error, or "(no error)" when it returns.
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace ember::test

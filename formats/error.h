// The one exception type ember's C++ layers throw. The C API catches it at the boundary and
// turns it into a status code and a message; nothing ever escapes into a caller's C code.
#pragma once

#include <stdexcept>
#include <string>

namespace ember {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A file that cannot be opened, read or written (as opposed to one with bad contents).
class FileError : public Error {
  public:
    explicit FileError(const std::string& message) : Error(message) {}
};

}  // namespace ember

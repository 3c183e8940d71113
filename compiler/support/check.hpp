// Internal errors: our bugs, never the user's. They abort the current command with a message
// asking for a bug report; user mistakes go through Diagnostics instead.
#pragma once

#include <stdexcept>
#include <string>

namespace vmc {

struct InternalError : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] void internal_error(const std::string& what, const char* file, int line);

#define VMC_ASSERT(cond, what)                                   \
  do {                                                           \
    if (!(cond)) ::vmc::internal_error((what), __FILE__, __LINE__); \
  } while (0)

}  // namespace vmc

#include "support/check.hpp"

namespace vmc {

void internal_error(const std::string& what, const char* file, int line) {
  throw InternalError(std::string("internal error at ") + file + ":" + std::to_string(line) +
                      ": " + what);
}

}  // namespace vmc

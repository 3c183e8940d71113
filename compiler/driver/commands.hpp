// The `vmc` sub-commands. Each returns the process exit status: 0 success, 1 user error.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vmc::driver {

struct CheckArgs {
  std::string model_path;
  std::vector<std::string> set;  // NAME=VALUE dim overrides
  std::optional<std::string> guide;
};

int run_check(const CheckArgs& args);
int run_emit_ast(const std::string& model_path);

}  // namespace vmc::driver

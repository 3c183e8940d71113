#include "driver/commands.hpp"

#include <charconv>
#include <iostream>

#include "driver/frontend.hpp"
#include "parse/ast_printer.hpp"

namespace vmc::driver {
namespace {

// Parses `--set NAME=VALUE` overrides; bad ones are reported with `--set` as their place.
bool parse_set(const std::vector<std::string>& items, std::map<std::string, std::int64_t>& out,
               Diagnostics& diags) {
  bool ok = true;
  for (const std::string& item : items) {
    auto eq = item.find('=');
    std::string name = item.substr(0, eq);
    std::int64_t value = 0;
    const char* first = eq == std::string::npos ? nullptr : item.data() + eq + 1;
    const char* last = item.data() + item.size();
    auto [ptr, ec] = first ? std::from_chars(first, last, value) : std::from_chars_result{};
    if (eq == std::string::npos || name.empty() || ec != std::errc() || ptr != last) {
      diags.error("--set", "expected NAME=INTEGER, got '" + item + "'");
      ok = false;
    } else if (value <= 0) {
      diags.error("--set", "dim '" + name + "' must be positive, got " + std::to_string(value));
      ok = false;
    } else {
      out[name] = value;
    }
  }
  return ok;
}

}  // namespace

int run_check(const CheckArgs& args) {
  FrontEnd fe;
  sema::Options options;
  options.auto_guide = args.guide;
  if (parse_set(args.set, options.set_dims, fe.diags)) {
    check_file(fe, args.model_path, options);
  }
  render(std::cerr, fe.diags);
  if (fe.diags.has_errors() || !fe.model) return 1;
  std::cout << sema::summary_line(*fe.model) << '\n';
  return 0;
}

int run_emit_ast(const std::string& model_path) {
  FrontEnd fe;
  parse_file(fe, model_path);
  render(std::cerr, fe.diags);
  if (fe.diags.has_errors() || !fe.program) return 1;
  ast::print(std::cout, *fe.program);
  return 0;
}

}  // namespace vmc::driver

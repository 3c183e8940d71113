#include "driver/frontend.hpp"

#include "parse/parser.hpp"

namespace vmc::driver {

void parse_file(FrontEnd& fe, const std::string& path) {
  std::string error;
  fe.file = fe.sources.load(path, error);
  if (!fe.file) {
    fe.diags.error(path, error);
    return;
  }
  StageTimer timer(&fe.times, "parse");
  fe.program = parse::parse_program(*fe.file, fe.diags);
}

void check_file(FrontEnd& fe, const std::string& path, const sema::Options& options) {
  parse_file(fe, path);
  if (!fe.program) return;
  StageTimer timer(&fe.times, "sema");
  fe.model = sema::analyze(*fe.program, options, fe.diags);
}

}  // namespace vmc::driver

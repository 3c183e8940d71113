#include "driver/frontend.hpp"

#include <charconv>
#include <iostream>

#include "driver/commands.hpp"
#include "support/check.hpp"

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

codegen::Precision precision_of(const ModelArgs& args) {
  return args.precision == "f64" ? codegen::Precision::F64 : codegen::Precision::F32;
}

bool compile_model(FrontEnd& fe, const ModelArgs& args, Stage stage) {
  pipeline::Request r;
  r.auto_guide = args.guide;
  r.data_shapes = args.data_shapes;
  r.estimator = lower::find_estimator(args.estimator);
  VMC_ASSERT(r.estimator, "--estimator " + args.estimator + " passed the command line's check");
  r.samples = args.samples;
  r.precision = precision_of(args);
  r.use_cache = !args.no_cache;
  r.kernels = args.kernels;
  bool ok = parse_set(args.set, r.dims, fe.diags) && (fe.source->file || pipeline::load_file(fe, args.model_path)) &&
            pipeline::compile(fe, r, stage);
  if (!args.errors_only) {
    render(std::cerr, fe.diags);
  } else {
    for (const Diagnostic& d : fe.diags.all()) {
      if (d.severity == Severity::Error) render(std::cerr, d);
    }
  }
  return ok;
}

}  // namespace vmc::driver

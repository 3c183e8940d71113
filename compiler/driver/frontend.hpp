// The front half of every command: read the file, parse, check. Shared by check, emit and
// (later) fit, so they all report the same diagnostics for the same model.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "jit/compiled_model.hpp"
#include "lower/lower.hpp"
#include "parse/ast.hpp"
#include "sema/sema.hpp"
#include "support/diagnostics.hpp"
#include "support/source.hpp"

namespace vmc::driver {

struct FrontEnd {
  SourceManager sources;
  Diagnostics diags;
  const SourceFile* file = nullptr;
  std::optional<ast::Program> program;
  std::unique_ptr<sema::Model> model;
  std::optional<lower::Lowered> lowered;
  std::unique_ptr<jit::CompiledModel> compiled;
  StageTimes times;
};

// Reads and parses `path`; fe.program is set when it parsed cleanly.
void parse_file(FrontEnd& fe, const std::string& path);
// parse_file, then semantic analysis; fe.model is set when the model is well-formed.
void check_file(FrontEnd& fe, const std::string& path, const sema::Options& options);

// How far to compile: check the model; lower its objective; add the symbolic gradient; or all
// the way to native code.
enum class Stage { Check, Objective, Gradient, Native };
struct ModelArgs;
// The front end up to `stage` (and the objective's lowering, and its gradient) with the
// command line's model options; renders every diagnostic to stderr. True on success.
bool compile_model(FrontEnd& fe, const ModelArgs& args, Stage stage);

}  // namespace vmc::driver

// The one compile pipeline, text → callable model, that every command and the host API run:
// parse → sema → lower (the chosen estimator's objective) → gradients → code generation and
// JIT, each stage run once and timed, its user errors collected in the compilation's
// diagnostics. A command asks for the stage it needs (check stops after sema, emit ir after
// lowering); the host API compiles one parsed program for every set of data shapes it meets.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codegen/codegen.hpp"
#include "jit/compiled_model.hpp"
#include "lower/lower.hpp"
#include "parse/ast.hpp"
#include "sema/sema.hpp"
#include "support/diagnostics.hpp"
#include "support/source.hpp"
#include "support/timing.hpp"

namespace vmc::pipeline {

// How far to compile: parse; check the model; lower its objective; add the symbolic gradient; or
// all the way to native code.
enum class Stage { Parse, Check, Objective, Gradient, Native };

// What every compilation is given, whatever asks for it.
struct Request {
  std::map<std::string, std::int64_t> dims;                      // --set NAME=V
  std::map<std::string, std::vector<std::int64_t>> data_shapes;  // sema infers dims from them
  std::optional<std::string> auto_guide;                         // a model without a guide block
  const lower::Estimator* estimator = &lower::default_estimator();
  int samples = 1;
  codegen::Precision precision = codegen::Precision::F32;
  bool use_cache = true;  // the on-disk object cache (jit/object_cache.hpp)
  // The kernels to compile; those the model cannot offer (sample_model for a model with no
  // forward sampler) are skipped.
  std::vector<std::string> kernels = {"elbo_grad"};
};

// A source and its parse, shared by the compilations of one program (the host API compiles it
// for every set of data shapes it meets; each sema::Model points into the AST).
struct Source {
  SourceManager sources;
  const SourceFile* file = nullptr;
  std::optional<ast::Program> program;
};

struct Compilation {
  std::shared_ptr<Source> source = std::make_shared<Source>();
  Diagnostics diags;
  std::unique_ptr<sema::Model> model;
  std::optional<lower::Lowered> lowered;
  std::unique_ptr<jit::CompiledModel> compiled;
  StageTimes times;
};

// Reads `path` into c's source; a file that cannot be read is reported with its name.
bool load_file(Compilation& c, const std::string& path);
void load_text(Compilation& c, const std::string& name, const std::string& text);

// Parses c's source (once, however many compilations share it), then runs every stage up to
// `stage`. True when it got there with no error; the diagnostics say why not.
bool compile(Compilation& c, const Request& r, Stage stage);

}  // namespace vmc::pipeline

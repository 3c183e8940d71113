#include "driver/commands.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include "driver/frontend.hpp"
#include "ir/printer.hpp"
#include "parse/ast_printer.hpp"
#include "support/check.hpp"

namespace vmc::driver {
namespace {

int emit_llvm(FrontEnd& fe, const ModelArgs& args, bool optimized) {
  if (!compile_model(fe, args, Stage::Gradient)) return 1;
  // Unoptimised output is target-independent, so it is stable across machines (golden tests).
  codegen::Target target;
  if (optimized) {
    const jit::Target& host = jit::host_target();
    target = {host.triple, host.cpu, host.features};
  }
  codegen::Generated g = codegen::generate(fe.lowered->function,
                                           jit::kernel_specs(*fe.lowered, jit::available_kernels(*fe.lowered)),
                                           precision_of(args), target, args.model_path);
  if (optimized) jit::optimize(*g.units[0].module);
  std::cout << codegen::to_text(*g.units[0].module);
  return 0;
}

}  // namespace

int run_check(const ModelArgs& args, bool timing) {
  FrontEnd fe;
  if (!compile_model(fe, args, timing ? Stage::Native : Stage::Check)) return 1;
  std::cout << sema::summary_line(*fe.model) << '\n';
  if (timing) {
    std::cout << "compile time by stage (" << codegen::to_string(fe.compiled->precision())
              << ", text to callable code"
              << (fe.compiled->timing().from_cache ? ", object from the cache" : "") << "):\n";
    for (const auto& [stage, ms] : fe.times.all()) {
      std::printf("  %-14s %9.2f ms\n", stage.c_str(), ms);
    }
    std::printf("  %-14s %9.2f ms\n", "total", fe.times.total());
  }
  return 0;
}

int run_emit(const std::string& stage, const ModelArgs& args, bool optimized) {
  FrontEnd fe;
  if (stage == "ast") {
    if (!compile_model(fe, args, Stage::Parse)) return 1;
    ast::print(std::cout, *fe.source->program);
    return 0;
  }
  if (stage == "llvm") return emit_llvm(fe, args, optimized);
  if (!compile_model(fe, args, stage == "grad" ? Stage::Gradient : Stage::Objective)) return 1;
  if (stage == "grad") {
    std::cout << "// joint value and gradient DAG: " << fe.lowered->nodes_before_simplify
              << " nodes before simplification, " << fe.lowered->nodes_after_simplify
              << " after\n";
  }
  ir::print(std::cout, fe.lowered->function);
  return 0;
}

}  // namespace vmc::driver

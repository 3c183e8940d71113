#include "driver/commands.hpp"

#include <algorithm>
#include <charconv>
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

// L^B says once which latents keep their sampled log-ratio, and why.
void note_sampled_kl(FrontEnd& fe) {
  for (const std::string& name : fe.lowered->sampled_kl) {
    const sema::Variable* v = fe.model->find_variable(name);
    std::string guide = v->guide_family ? std::string(v->guide_family->name) : "automatic";
    std::string prior = v->prior ? std::string(v->prior->name) : "?";
    fe.diags.note(v->decl->span, "estimator B keeps the sampled log p - log q for latent '" + name +
                                     "': the KL between its guide (" + guide + ") and its prior (" +
                                     prior + ") has no closed form here");
  }
}

}  // namespace

codegen::Precision precision(const ModelArgs& args) {
  return args.precision == "f64" ? codegen::Precision::F64 : codegen::Precision::F32;
}

bool compile_model(FrontEnd& fe, const ModelArgs& args, Stage stage) {
  sema::Options options;
  options.auto_guide = args.guide;
  options.data_shapes = args.data_shapes;
  if (parse_set(args.set, options.set_dims, fe.diags)) check_file(fe, args.model_path, options);
  if (fe.model && stage != Stage::Check) {
    lower::Options lo;
    lo.estimator = lower::find_estimator(args.estimator);
    VMC_ASSERT(lo.estimator, "--estimator " + args.estimator + " passed the command line's check");
    lo.samples = args.samples;
    {
      StageTimer timer(&fe.times, "lower");
      fe.lowered = lower::lower_model(*fe.model, lo, fe.diags);
    }
    if (fe.lowered) note_sampled_kl(fe);
    if (fe.lowered && stage >= Stage::Gradient) lower::add_gradients(*fe.lowered, &fe.times);
  }
  if (fe.lowered && stage == Stage::Native) {
    std::string cache = args.no_cache ? "" : jit::default_cache_dir();
    std::vector<std::string> available = jit::available_kernels(*fe.lowered), kernels;
    for (const std::string& k : args.kernels) {
      if (std::find(available.begin(), available.end(), k) != available.end()) kernels.push_back(k);
    }
    fe.compiled = jit::CompiledModel::build(*fe.lowered, precision(args), fe.diags, args.model_path,
                                            kernels, cache);
    if (fe.compiled) {
      fe.times.add("codegen", fe.compiled->codegen_ms());
      fe.times.add("LLVM optimise", fe.compiled->timing().optimize_ms);
      fe.times.add("JIT link", fe.compiled->timing().codegen_and_link_ms);
    }
  }
  render(std::cerr, fe.diags);
  bool reached = stage == Stage::Check     ? fe.model != nullptr
                 : stage == Stage::Native ? fe.compiled != nullptr
                                          : fe.lowered.has_value();
  return !fe.diags.has_errors() && reached;
}

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

static int emit_llvm(FrontEnd& fe, const ModelArgs& args, bool optimized) {
  if (!compile_model(fe, args, Stage::Gradient)) return 1;
  // Unoptimised output is target-independent, so it is stable across machines (golden tests).
  codegen::Target target;
  if (optimized) {
    const jit::Target& host = jit::host_target();
    target = {host.triple, host.cpu, host.features};
  }
  codegen::Generated g = codegen::generate(fe.lowered->function, jit::kernel_specs(*fe.lowered, jit::available_kernels(*fe.lowered)),
                                           precision(args), target, args.model_path);
  if (optimized) jit::optimize(*g.units[0].module);
  std::cout << codegen::to_text(*g.units[0].module);
  return 0;
}

int run_emit(const std::string& stage, const ModelArgs& args, bool optimized) {
  FrontEnd fe;
  if (stage == "ast") {
    parse_file(fe, args.model_path);
    render(std::cerr, fe.diags);
    if (fe.diags.has_errors() || !fe.program) return 1;
    ast::print(std::cout, *fe.program);
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

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/TargetParser/Triple.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassManager.h>
#include <llvm/Passes/OptimizationLevel.h>
#include <llvm/Passes/PassBuilder.h>

#include <memory>
#include <string>
#include <vector>

#include "jit/host.hpp"
#include "jit/jit.hpp"

namespace vmc::jit {

bool vector_math_available() {
  // Loaded into the process once, so the JIT resolves the vector routines' names from it.
  static const bool loaded = !llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1");
  return loaded;
}

namespace {

// libmvec's AVX-512 variants ("e": 512-bit), for the libm calls and the intrinsics LLVM maps.
const std::vector<llvm::VecDesc>& avx512_vector_math() {
  static const std::vector<llvm::VecDesc> table = [] {
    std::vector<llvm::VecDesc> t;
    auto add = [&](const char* f64, const char* f32, const char* params) {
      for (bool single : {false, true}) {
        const unsigned lanes = single ? 16 : 8;
        const std::string scalar = single ? f32 : f64;
        static std::vector<std::unique_ptr<std::string>> names;  // VecDesc holds StringRefs
        auto keep = [&](std::string s) { return llvm::StringRef(*names.emplace_back(std::make_unique<std::string>(s))); };
        llvm::StringRef vector = keep("_ZGVeN" + std::to_string(lanes) + params + "_" + scalar);
        llvm::StringRef prefix = keep("_ZGV_LLVM_N" + std::to_string(lanes) + params);
        const std::string intrinsic = std::string("llvm.") + f64 + (single ? ".f32" : ".f64");
        t.emplace_back(keep(scalar), vector, llvm::ElementCount::getFixed(lanes), false, prefix);
        t.emplace_back(keep(intrinsic), vector, llvm::ElementCount::getFixed(lanes), false, prefix);
      }
    };
    add("exp", "expf", "v");
    add("log", "logf", "v");
    add("sin", "sinf", "v");
    add("cos", "cosf", "v");
    add("pow", "powf", "vv");
    return t;
  }();
  return table;
}

}  // namespace

void optimize(llvm::Module& module) {
  auto machine = host_target_machine();
  // The pipeline's cost models (vector widths, unrolling) come from the target machine and
  // the module's layout; set both before any pass runs.
  module.setDataLayout(machine->createDataLayout());
  module.setTargetTriple(machine->getTargetTriple().str());

  // Vectorise, but neither unroll nor interleave: a step's time is in GEMM, and its loops are
  // memory-bound over AVX-512 vectors, so unrolling them buys nothing measurable at run time
  // (Gaussian VAE: 13 % of a step outside GEMM either way) while it doubles the code LLVM must
  // then compile (cold compile 185 ms with both, 90 ms without; bench/README.md).
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  tuning.LoopUnrolling = false;
  tuning.LoopInterleaving = false;

  // Declared in this order so that they are destroyed in the reverse one (module last).
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager call_graph;
  llvm::ModuleAnalysisManager modules;

  llvm::PassBuilder builder(machine.get(), tuning);
  // Vector exp, log, pow and tan from glibc's libmvec (Debian's libc6), so vectorised loops
  // call one vector routine per vector instead of one scalar libm call per element.
  llvm::TargetLibraryInfoImpl library(llvm::Triple(module.getTargetTriple()));
  if (vector_math_available()) {
    library.addVectorizableFunctionsFromVecLib(llvm::TargetLibraryInfoImpl::LIBMVEC_X86,
                                               llvm::Triple(module.getTargetTriple()));
    // LLVM 19's table stops at AVX2 (8 floats); libmvec also has the AVX-512 routines (16
    // floats, 8 doubles), which a loop vectorised for 512-bit vectors otherwise calls in halves.
    if (machine->getTargetFeatureString().contains("+avx512f")) library.addVectorizableFunctions(avx512_vector_math());
  }
  functions.registerPass([&] { return llvm::TargetLibraryAnalysis(library); });
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(call_graph);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, call_graph, modules);

  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(module, modules);
}

}  // namespace vmc::jit

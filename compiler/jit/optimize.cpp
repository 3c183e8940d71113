#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/TargetParser/Triple.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassManager.h>
#include <llvm/Passes/OptimizationLevel.h>
#include <llvm/Passes/PassBuilder.h>

#include "jit/host.hpp"
#include "jit/jit.hpp"

namespace vmc::jit {

bool vector_math_available() {
  // Loaded into the process once, so the JIT resolves the vector routines' names from it.
  static const bool loaded = !llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1");
  return loaded;
}

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

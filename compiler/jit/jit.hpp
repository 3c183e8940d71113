// The JIT: LLVM ORC's LLJIT for the host CPU, O3, with the runtime's routines bound by name.
// Every line that touches ORC lives in compiler/jit; failures come back as our diagnostics,
// never as an abort.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/diagnostics.hpp"

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
}  // namespace llvm

namespace vmc::jit {

// What code is generated for: the host's CPU name and feature string, as LLVM spells them.
struct Target {
  std::string triple;
  std::string cpu;
  std::string features;  // "+avx2,+fma,..." for the "target-features" attribute
};
// The host, detected once (JITTargetMachineBuilder::detectHost).
const Target& host_target();

// Runs LLVM's O3 pipeline for the host's target machine on `module` (also what the JIT does
// before compiling; `vmc emit llvm --optimized` prints the result).
void optimize(llvm::Module& module);
// Whether glibc's vector math library (libmvec) could be loaded; optimize() vectorises exp,
// log, pow and tan through it when it is.
bool vector_math_available();

// Time spent in each LLVM stage of the last compile, in milliseconds.
struct Timing {
  // With several modules compiled at once: the longest optimisation, and the rest of the
  // wall time.
  double optimize_ms = 0;
  double codegen_and_link_ms = 0;  // instruction selection, object emission, linking
  bool from_cache = false;         // the object came from the cache: no optimisation or codegen
};

// Where compiled objects are cached: $VMC_CACHE_DIR, else $XDG_CACHE_HOME/vmc, else
// ~/.cache/vmc ("" when none can be named).
std::string default_cache_dir();

class Jit {
 public:
  ~Jit();
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  // Compiles `module` (owned by `context`) at O3 for the host. `symbols` binds the names the
  // module declares but does not define (the runtime's vmc_gemm_f32, ...) to their addresses.
  // Reports LLVM's errors to `diags` (with `where` as their place) and returns nullptr. With a
  // `cache_dir`, an unchanged module loads its object from there (see object_cache.hpp).
  static std::unique_ptr<Jit> compile(std::unique_ptr<llvm::LLVMContext> context,
                                      std::unique_ptr<llvm::Module> module,
                                      const std::map<std::string, void*>& symbols,
                                      Diagnostics& diags, const std::string& where,
                                      const std::string& cache_dir = "");
  // The same for several modules, each in its own context, linked together: those not in the
  // cache are optimised and compiled at once, one thread each (a model's training kernel and
  // its other kernels: compile time is the larger one's, not the sum).
  struct Unit {
    std::unique_ptr<llvm::LLVMContext> context;
    std::unique_ptr<llvm::Module> module;
  };
  static std::unique_ptr<Jit> compile(std::vector<Unit> units, const std::map<std::string, void*>& symbols,
                                      Diagnostics& diags, const std::string& where,
                                      const std::string& cache_dir = "");

  // The address of a function the module defines, or nullptr (and a diagnostic) if it has none.
  void* lookup(const std::string& name, Diagnostics& diags);
  const Timing& timing() const { return timing_; }

 private:
  Jit() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Timing timing_;
};

}  // namespace vmc::jit

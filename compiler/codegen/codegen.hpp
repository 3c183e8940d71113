// Code generation: IR → an LLVM module of kernels over flat buffers (runtime/include/vmc/abi.h).
// Products become calls to the runtime's GEMM; chains of elementwise ops, views and the
// reductions at their ends become single loops that LLVM vectorises; every intermediate lives
// in one workspace planned at compile time.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "codegen/schedule.hpp"
#include "ir/function.hpp"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace vmc::codegen {

enum class Precision { F32, F64 };
const char* to_string(Precision p);

// One entry point: the nodes it writes to its output buffers, in order.
struct KernelSpec {
  std::string name;  // the function's symbol, e.g. "elbo_grad"
  std::vector<const ir::Node*> outputs;
  // The run-time sizes that are a subsampled plate's minibatch size, where the runtime splits
  // this kernel's rows across threads: products summing over them are deferrable (schedule.hpp).
  std::set<std::int32_t> row_symbols = {};
};

struct Kernel {
  std::string name;
  std::string workspace_function;  // "<name>_workspace_bytes": vmc_workspace_bytes
  Schedule schedule;
};

// A module and the context that owns it.
struct Unit {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
};

struct Generated {
  std::vector<Unit> units;              // one per part (generate's `parts`)
  std::vector<const ir::Node*> inputs;  // the order of every kernel's `inputs` array
  std::vector<std::string> symbols;     // the order of the `sizes` array (the graph's symbols)
  std::vector<Kernel> kernels;
};

struct Target {
  std::string triple, cpu, features;  // function attributes; empty: LLVM's defaults
};

// Generates the kernels into `parts` modules, each in a context of its own so that they can be
// compiled at once on several threads: the first kernel (the training step's, the largest)
// alone, the others together (or everything in one module when parts is 1). All kernels take
// the same inputs (the union of what they all read, in a stable order) and the same sizes.
Generated generate(const ir::Function& function, const std::vector<KernelSpec>& kernels,
                   Precision precision, const Target& target, const std::string& module_name,
                   std::size_t parts = 1);

// The module as LLVM assembly text (`vmc emit llvm`).
std::string to_text(const llvm::Module& module);

}  // namespace vmc::codegen

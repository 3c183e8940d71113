// Internal to compiler/codegen: the state of writing one kernel's LLVM IR.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include "codegen/codegen.hpp"

namespace vmc::codegen {

using Index = std::vector<llvm::Value*>;

class Emitter {
 public:
  Emitter(llvm::Module& module, Precision precision, const Target& target, const ir::Graph& graph);

  // Defines `name` as a vmc_kernel computing the schedule, and `name`_workspace_bytes.
  void kernel(const std::string& name, const Schedule& schedule);

 private:
  // --- values (values.cpp) ---
  // The value of `n` at `idx` (one index per axis of n's shape): loaded when n is stored,
  // computed from its operands otherwise. Reals are T; int (index) values are i64.
  llvm::Value* value(const ir::Node* n, const Index& idx);
  // n's own computation at `idx`, from its operands' values.
  llvm::Value* compute(const ir::Node* n, const Index& idx);
  // True when n's value at a linear index needs no multi-index: every node computed inline is
  // elementwise and every buffer it reads has n's shape. Such loops run over one flat range.
  bool flat(const ir::Node* n, const ir::Shape& shape) const;
  llvm::Value* value_flat(const ir::Node* n, llvm::Value* i);
  llvm::Value* compute_flat(const ir::Node* n, llvm::Value* i);
  llvm::Value* unary(ir::Op op, llvm::Value* x);
  llvm::Value* binary(ir::Op op, llvm::Value* a, llvm::Value* b);
  llvm::Value* call_double(const char* name, llvm::Value* x);   // a runtime double(double)
  llvm::Value* call_libm(const char* name, llvm::Value* x);     // libm, in T's precision
  llvm::Value* real(double v);
  llvm::Value* log1p(llvm::Value* x);
  llvm::Value* tanh(llvm::Value* x);

  // --- structure (kernel.cpp) ---
  void compute_stored(const ir::Node* n);
  // Stores n's value at idx, and adds what its accumulators (Schedule::accumulators) sum there.
  void store_at(const ir::Node* n, const Index& idx);
  void zero_accumulators(const ir::Node* n);  // before the loop that computes n
  void reduction(const ir::Node* n);
  void matmul(const ir::Node* n);
  void tri_solve(const ir::Node* n);
  void concat(const ir::Node* n);
  void scatter_add(const ir::Node* n);
  void fill(const ir::Node* n, llvm::Value* v);
  void copy(const ir::Node* from, llvm::Value* to);

  // --- loops and addressing (kernel.cpp) ---
  llvm::Value* extent(const ir::Extent& e);
  std::vector<llvm::Value*> extents(const ir::Shape& shape);
  llvm::Value* linear(const Index& idx, const ir::Shape& shape);
  llvm::Value* buffer(const ir::Node* n);
  llvm::Value* element(const ir::Node* n, const Index& idx);  // address of a stored element
  // Loops over every index of `extents` (row-major, last axis innermost), calling body.
  void loops(const std::vector<llvm::Value*>& extents, const std::function<void(const Index&)>& body);
  void for_range(llvm::Value* count, const std::function<void(llvm::Value*)>& body);
  llvm::Value* workspace_bytes(llvm::Value* sizes, std::vector<llvm::Value*>* slot_offsets);
  llvm::Function* declare(const char* name, llvm::FunctionType* type);
  void set_attributes(llvm::Function* f);

  llvm::Module& module_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  Precision precision_;
  Target target_;
  const ir::Graph& graph_;
  llvm::Type* t_;    // float or double
  llvm::Type* i64_;
  llvm::PointerType* ptr_;

  // Per kernel.
  const Schedule* s_ = nullptr;
  llvm::Function* fn_ = nullptr;
  std::vector<llvm::Value*> inputs_, outputs_, slots_, sizes_;
};

}  // namespace vmc::codegen

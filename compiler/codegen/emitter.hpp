// Internal to compiler/codegen: the state of writing one kernel's LLVM IR.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include "codegen/codegen.hpp"
#include "ir/loop.hpp"

namespace vmc::codegen {

using Index = std::vector<llvm::Value*>;

class Emitter {
 public:
  Emitter(llvm::Module& module, Precision precision, const Target& target, const ir::Graph& graph);

  // Defines `name` as a vmc_kernel computing the schedule, and `name`_workspace_bytes (internal:
  // local to the module, as a loop's body).
  void kernel(const std::string& name, const Schedule& schedule, bool internal = false);

 private:
  friend class Llvm;
  friend struct OpCode;  // the tables of code.cpp

  // --- values (values.cpp) ---
  // The value of `n` at `idx` (one index per axis of n's shape): loaded when n is stored,
  // computed from its operands otherwise. Reals are T; int (index) values are i64.
  llvm::Value* value(const ir::Node* n, const Index& idx);
  // True when n's value at a linear index needs no multi-index: every node computed inline is
  // elementwise and every buffer it reads has n's shape. Such loops run over one flat range.
  bool flat(const ir::Node* n, const ir::Shape& shape) const;
  llvm::Value* value_flat(const ir::Node* n, llvm::Value* i);
  llvm::Value* call_double(const char* name, llvm::Value* x);   // a runtime double(double)
  // A runtime double(double, ...) of the operands.
  llvm::Value* call_double(const char* name, std::initializer_list<llvm::Value*> xs);
  llvm::Value* call_libm(const char* name, llvm::Value* x);     // libm, in T's precision
  llvm::Value* real(double v);

  // --- each op's code (code.cpp): tables generated from ir/ops.def ---
  // n's own computation at `idx`, from its operands' values (an inlinable op: schedule.hpp).
  llvm::Value* compute(const ir::Node* n, const Index& idx);
  // The same at a linear index, for an elementwise n whose operands are flat.
  llvm::Value* compute_flat(const ir::Node* n, llvm::Value* i);
  // One specialisation per op that is not elementwise: at<op> for an inlinable op, store<op>
  // (its buffer written by a loop nest or a library call) for the others. An op without its
  // specialisation does not build.
  template <ir::Op op>
  llvm::Value* at(const ir::Node* n, const Index& idx) = delete;
  template <ir::Op op>
  void store(const ir::Node* n) = delete;
  template <ir::Op op>
  llvm::Value* elementwise_at(const ir::Node* n, const Index& idx);
  template <ir::Op op>
  llvm::Value* elementwise_flat(const ir::Node* n, llvm::Value* i);

  // n's buffer written: store<op>, or for an inlinable op a loop storing compute (store_inline).
  void compute_stored(const ir::Node* n);

  // --- structure (kernel.cpp) ---
  void store_inline(const ir::Node* n);
  // Stores n's value at idx, and adds what its accumulators (Schedule::accumulators) sum there.
  void store_at(const ir::Node* n, const Index& idx);
  void zero_accumulators(const ir::Node* n);  // before the loop that computes n
  // --- stored ops (ops.cpp) ---
  // A reduction's code: the fold over the reduced elements, then what is done with its result.
  struct Reduction {
    enum class Fold { Add, Max, Min } fold;
    enum class Finish { None, DivideByCount, LogSumExp } finish = Finish::None;
  };
  void reduction(const ir::Node* n, Reduction how);
  void matmul(const ir::Node* n);
  void tri_solve(const ir::Node* n);
  void cholesky(const ir::Node* n);
  void concat(const ir::Node* n);
  void scatter_add(const ir::Node* n);
  void fill(const ir::Node* n, llvm::Value* v);
  // --- loops (loops.cpp) ---
  // A loop or a loop's adjoint: a call of vmc_loop with the body's (or vjp's) kernel.
  void loop(const ir::Node* n);
  // The kernel and workspace function of a loop's body (no `wanted`) or of its vjp giving the
  // adjoints of the state and of the invariants `wanted`, generated into this module once.
  std::pair<llvm::Function*, llvm::Function*> loop_kernel(const ir::LoopBody& body, const std::vector<int>* wanted);
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
  // Values computed in place, by node, block and index (values.cpp): each emitted once per block.
  struct Memo {
    const ir::Node* node;
    llvm::BasicBlock* block;
    Index index;
    bool flat;
    bool operator<(const Memo& o) const {
      return std::tie(node, block, index, flat) < std::tie(o.node, o.block, o.index, o.flat);
    }
  };
  std::map<Memo, llvm::Value*> memo_;
  llvm::Function* fn_ = nullptr;
  std::vector<llvm::Value*> inputs_, outputs_, slots_, sizes_;
  llvm::Value* context_ = nullptr;  // the kernel's vmc_context*, for the runtime's products
  llvm::Value* sizes_array_ = nullptr;  // the kernel's sizes argument, passed on to loop bodies
  std::map<std::pair<const ir::LoopBody*, std::vector<int>>, std::pair<llvm::Function*, llvm::Function*>> loop_kernels_;
  std::set<std::vector<const ir::Node*>> loop_adjoints_;  // per kernel: the loops whose adjoints are computed
  llvm::Function* workspace_fn_ = nullptr;                // the last kernel's workspace_bytes
};

// The instructions Elementwise<op>::code is written with.
class Llvm {
 public:
  using V = llvm::Value*;
  explicit Llvm(Emitter& e) : e_(e), b_(e.b_) {}

  V c(double v) { return e_.real(v); }
  V neg(V x) { return b_.CreateFNeg(x); }
  V add(V x, V y) { return b_.CreateFAdd(x, y); }
  V sub(V x, V y) { return b_.CreateFSub(x, y); }
  V mul(V x, V y) { return b_.CreateFMul(x, y); }
  V div(V x, V y) { return b_.CreateFDiv(x, y); }
  V pow(V x, V y) { return b_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, y); }
  V copysign(V x, V sign) { return b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, x, sign); }
  V exp(V x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::exp, x); }
  V log(V x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::log, x); }
  V sqrt(V x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x); }
  V fabs(V x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  V libm(const char* name, V x) { return e_.call_libm(name, x); }
  V runtime(const char* name, V x) { return e_.call_double(name, x); }
  V runtime(const char* name, V x, V y) { return e_.call_double(name, {x, y}); }
  V runtime(const char* name, V x, V y, V z) { return e_.call_double(name, {x, y, z}); }
  V olt(V x, V y) { return b_.CreateFCmpOLT(x, y); }
  V ogt(V x, V y) { return b_.CreateFCmpOGT(x, y); }
  V oeq(V x, V y) { return b_.CreateFCmpOEQ(x, y); }
  V one(V x, V y) { return b_.CreateFCmpONE(x, y); }
  V une(V x, V y) { return b_.CreateFCmpUNE(x, y); }
  V select(V p, V x, V y) { return b_.CreateSelect(p, x, y); }

 private:
  Emitter& e_;
  llvm::IRBuilder<>& b_;
};

}  // namespace vmc::codegen

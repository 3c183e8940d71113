// The value of a node at an index: loaded from its buffer, or computed in place from its
// operands (code.cpp) — which is how chains of elementwise ops and views fuse into one loop.
#include "codegen/emitter.hpp"
#include "support/check.hpp"

namespace vmc::codegen {

llvm::Value* Emitter::real(double v) { return llvm::ConstantFP::get(t_, v); }

// A value computed in place is emitted once per block and index: a DAG whose nodes have several
// users (a let used three times, a recursion's shared terms) would otherwise be written out once
// per path through it, which grows exponentially with its depth (issue 21: 15 chained lets, an
// 8 GB module). The copy is reused only in the block that defines it, so it dominates every use.
llvm::Value* Emitter::value(const ir::Node* n, const Index& idx) {
  if (!s_->stored(n)) {
    Memo key{n, b_.GetInsertBlock(), idx, false};
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    llvm::Value* v = compute(n, idx);
    memo_.emplace(std::move(key), v);
    return v;
  }
  llvm::Type* type = n->dtype() == ir::DType::Int ? i64_ : t_;
  return b_.CreateLoad(type, element(n, idx));
}

bool Emitter::flat(const ir::Node* n, const ir::Shape& shape) const {
  if (n->shape() != shape || n->dtype() != ir::DType::Real) return false;
  if (s_->stored(n) || n->op() == ir::Op::Const) return true;
  if (!ir::is_elementwise(n->op())) return false;
  for (const ir::Node* a : n->args()) {
    if (!flat(a, shape)) return false;
  }
  return true;
}

llvm::Value* Emitter::value_flat(const ir::Node* n, llvm::Value* i) {
  if (!s_->stored(n)) {
    Memo key{n, b_.GetInsertBlock(), Index{i}, true};
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    llvm::Value* v = compute_flat(n, i);
    memo_.emplace(std::move(key), v);
    return v;
  }
  return b_.CreateLoad(t_, b_.CreateGEP(t_, buffer(n), i));
}

llvm::Value* Emitter::call_double(const char* name, llvm::Value* x) {
  llvm::Type* f64 = b_.getDoubleTy();
  llvm::Function* f = declare(name, llvm::FunctionType::get(f64, {f64}, false));
  llvm::Value* arg = t_ == f64 ? x : b_.CreateFPExt(x, f64);
  llvm::Value* r = b_.CreateCall(f, {arg});
  return t_ == f64 ? r : b_.CreateFPTrunc(r, t_);
}

llvm::Value* Emitter::call_double(const char* name, std::initializer_list<llvm::Value*> xs) {
  llvm::Type* f64 = b_.getDoubleTy();
  std::vector<llvm::Type*> types(xs.size(), f64);
  llvm::Function* f = declare(name, llvm::FunctionType::get(f64, types, false));
  std::vector<llvm::Value*> args;
  for (llvm::Value* x : xs) args.push_back(t_ == f64 ? x : b_.CreateFPExt(x, f64));
  llvm::Value* r = b_.CreateCall(f, args);
  return t_ == f64 ? r : b_.CreateFPTrunc(r, t_);
}

llvm::Value* Emitter::call_libm(const char* name, llvm::Value* x) {
  std::string symbol = precision_ == Precision::F32 ? std::string(name) + "f" : name;
  llvm::Function* f = declare(symbol.c_str(), llvm::FunctionType::get(t_, {t_}, false));
  return b_.CreateCall(f, {x});
}

}  // namespace vmc::codegen

// Stored nodes that are not a single fused loop: reductions (with their operands fused into
// the reduction's loop), products and solves (the runtime's GEMM and TRSM), concatenation and
// scatter-add.
#include <limits>

#include "codegen/emitter.hpp"
#include "ir/elementwise.hpp"
#include "support/check.hpp"

namespace vmc::codegen {

using ir::Op;

namespace {

// Reductions may be reassociated (so they vectorise); nothing else is.
void reassociable(llvm::Value* v) {
  if (auto* inst = llvm::dyn_cast<llvm::Instruction>(v)) {
    llvm::FastMathFlags f;
    f.setAllowReassoc();
    f.setAllowContract();
    inst->setFastMathFlags(f);
  }
}

Index with_axis(const Index& outer, std::size_t axis, llvm::Value* k) {
  Index idx = outer;
  idx.insert(idx.begin() + static_cast<long>(axis), k);
  return idx;
}

}  // namespace

void Emitter::reduction(const ir::Node* n, Reduction how) {
  const ir::Node* x = n->arg(0);
  int axis = n->attrs().axis;
  // An accumulator in an entry-block alloca, which LLVM promotes to a register.
  llvm::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
  llvm::Value* acc = entry.CreateAlloca(t_);

  // The buffers computed in this sum's loop (Schedule::riders), each stored at the loop's index
  // after the sum's term: LLVM then computes what they share with the term once.
  static const std::vector<const ir::Node*> kNone;
  auto ridden = s_->riders.find(n);
  const std::vector<const ir::Node*>& riders = ridden == s_->riders.end() ? kNone : ridden->second;
  bool riders_flat = true;
  for (const ir::Node* m : riders) {
    for (const ir::Node* a : m->args()) riders_flat &= flat(a, x->shape());
    riders_flat &= !s_->accumulators.count(m);  // they need the multi-index
    zero_accumulators(m);
  }

  // Folds `step` over the reduced elements for the output index `out`.
  auto fold = [&](const Index& out, llvm::Value* init, auto step) {
    b_.CreateStore(init, acc);
    auto body = [&](const Index& idx) {
      b_.CreateStore(step(b_.CreateLoad(t_, acc), value(x, idx)), acc);
      for (const ir::Node* m : riders) store_at(m, idx);
    };
    if (axis < 0 && x->rank() > 1 && flat(x, x->shape()) && riders_flat) {
      llvm::Value* count = b_.getInt64(1);
      for (llvm::Value* e : extents(x->shape())) count = b_.CreateMul(count, e);
      for_range(count, [&](llvm::Value* i) {
        b_.CreateStore(step(b_.CreateLoad(t_, acc), value_flat(x, i)), acc);
        for (const ir::Node* m : riders) b_.CreateStore(compute_flat(m, i), b_.CreateGEP(t_, buffer(m), i));
      });
    } else if (axis < 0) {
      loops(extents(x->shape()), body);
    } else {
      for_range(extent(x->shape()[axis]), [&](llvm::Value* k) { body(with_axis(out, axis, k)); });
    }
    return b_.CreateLoad(t_, acc);
  };
  auto add = [&](llvm::Value* a, llvm::Value* v) {
    llvm::Value* r = b_.CreateFAdd(a, v);
    reassociable(r);
    return r;
  };
  Llvm b(*this);
  auto max = [&](llvm::Value* a, llvm::Value* v) { return ir::Elementwise<Op::Max>::code(b, a, v); };
  auto min = [&](llvm::Value* a, llvm::Value* v) { return ir::Elementwise<Op::Min>::code(b, a, v); };

  // Σ along a leading axis: accumulate into the output in row-major order of the operand,
  // so the inner loop runs along contiguous memory (a bias gradient's Σ over the batch).
  if (how.fold == Reduction::Fold::Add && how.finish == Reduction::Finish::None && axis >= 0 &&
      static_cast<std::size_t>(axis) + 1 < x->rank()) {
    fill(n, real(0));
    loops(extents(x->shape()), [&](const Index& idx) {
      Index out = idx;
      out.erase(out.begin() + axis);
      llvm::Value* at = element(n, out);
      b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(t_, at), value(x, idx)), at);
    });
    return;
  }
  // How many elements each output reduces (Mean's divisor).
  auto reduced_count = [&]() -> llvm::Value* {
    if (axis >= 0) return extent(x->shape()[axis]);
    llvm::Value* count = b_.getInt64(1);
    for (llvm::Value* e : extents(x->shape())) count = b_.CreateMul(count, e);
    return count;
  };
  const double inf = std::numeric_limits<double>::infinity();
  loops(extents(n->shape()), [&](const Index& out) {
    llvm::Value* r = nullptr;
    switch (how.fold) {
      case Reduction::Fold::Add: r = fold(out, real(0), add); break;
      case Reduction::Fold::Max: r = fold(out, real(-inf), max); break;
      case Reduction::Fold::Min: r = fold(out, real(inf), min); break;
    }
    switch (how.finish) {
      case Reduction::Finish::None: break;
      case Reduction::Finish::DivideByCount:
        r = b_.CreateFDiv(r, b_.CreateUIToFP(reduced_count(), t_));
        break;
      case Reduction::Finish::LogSumExp: {
        // m + log Σ exp(x − m); a row whose max is −∞ or +∞ gives that max (as the interpreter).
        llvm::Value* m = r;
        llvm::Value* finite = b.one(b.fabs(m), real(inf));
        llvm::Value* shift = b_.CreateSelect(finite, m, real(0));
        llvm::Value* s = fold(out, real(0), [&](llvm::Value* a, llvm::Value* v) {
          return add(a, b.exp(b_.CreateFSub(v, shift)));
        });
        r = b_.CreateSelect(finite, b_.CreateFAdd(m, b.log(s)), m);
        break;
      }
    }
    b_.CreateStore(r, element(n, out));
  });
}

void Emitter::matmul(const ir::Node* n) {
  const ir::Node* a = n->arg(0);
  const ir::Node* c = n->arg(1);
  bool ta = n->attrs().transpose_a && a->rank() == 2;
  bool tb = n->attrs().transpose_b && c->rank() == 2;
  // A vector on the left is a 1 × k row; on the right, a k × 1 column.
  llvm::Value *m, *k, *lda, *cols, *ldb;
  if (a->rank() == 2) {
    llvm::Value* r0 = extent(a->shape()[0]);
    llvm::Value* r1 = extent(a->shape()[1]);
    m = ta ? r1 : r0;
    k = ta ? r0 : r1;
    lda = r1;
  } else {
    m = b_.getInt64(1);
    k = extent(a->shape()[0]);
    lda = k;
  }
  if (c->rank() == 2) {
    llvm::Value* s0 = extent(c->shape()[0]);
    llvm::Value* s1 = extent(c->shape()[1]);
    cols = tb ? s0 : s1;
    ldb = s1;
  } else {
    cols = b_.getInt64(1);
    ldb = b_.getInt64(1);
  }
  const bool f32 = precision_ == Precision::F32;
  const char* name = s_->deferred.count(n) ? (f32 ? "vmc_gemm_rows_f32" : "vmc_gemm_rows_f64")
                                           : (f32 ? "vmc_gemm_f32" : "vmc_gemm_f64");
  llvm::Type* i32 = b_.getInt32Ty();
  auto* type = llvm::FunctionType::get(
      b_.getVoidTy(), {ptr_, i32, i32, i64_, i64_, i64_, t_, ptr_, i64_, ptr_, i64_, t_, ptr_, i64_}, false);
  b_.CreateCall(declare(name, type), {context_, b_.getInt32(ta), b_.getInt32(tb), m, cols, k, real(1),
                                      buffer(a), lda, buffer(c), ldb, real(0), buffer(n), cols});
}

void Emitter::tri_solve(const ir::Node* n) {
  const ir::Node* l = n->arg(0);
  const ir::Node* rhs = n->arg(1);
  copy(rhs, buffer(n));
  llvm::Value* k = extent(l->shape()[0]);
  llvm::Value* cols = rhs->rank() == 2 ? extent(rhs->shape()[1]) : b_.getInt64(1);
  const char* name = precision_ == Precision::F32 ? "vmc_trsm_f32" : "vmc_trsm_f64";
  llvm::Type* i32 = b_.getInt32Ty();
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), {i32, i64_, i64_, ptr_, ptr_}, false);
  b_.CreateCall(declare(name, type),
                {b_.getInt32(n->attrs().transpose_a), k, cols, buffer(l), buffer(n)});
}

// A's lower triangle factored in place in n's buffer (vmc_potrf: NaN everywhere if A is not
// positive definite).
void Emitter::cholesky(const ir::Node* n) {
  const ir::Node* a = n->arg(0);
  copy(a, buffer(n));
  const char* name = precision_ == Precision::F32 ? "vmc_potrf_f32" : "vmc_potrf_f64";
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), {i64_, ptr_}, false);
  b_.CreateCall(declare(name, type), {extent(a->shape()[0]), buffer(n)});
}

void Emitter::concat(const ir::Node* n) {
  const ir::Node* first = n->arg(0);
  const ir::Node* second = n->arg(1);
  auto axis = static_cast<std::size_t>(n->attrs().axis);
  llvm::Value* split = extent(first->shape()[axis]);
  loops(extents(n->shape()), [&](const Index& idx) {
    llvm::Value* at = element(n, idx);
    llvm::BasicBlock* lo = llvm::BasicBlock::Create(ctx_, "concat.first", fn_);
    llvm::BasicBlock* hi = llvm::BasicBlock::Create(ctx_, "concat.second", fn_);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(ctx_, "concat.done", fn_);
    b_.CreateCondBr(b_.CreateICmpSLT(idx[axis], split), lo, hi);
    b_.SetInsertPoint(lo);
    b_.CreateStore(value(first, idx), at);
    b_.CreateBr(done);
    b_.SetInsertPoint(hi);
    Index shifted = idx;
    shifted[axis] = b_.CreateSub(idx[axis], split);
    b_.CreateStore(value(second, shifted), at);
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
  });
}

void Emitter::scatter_add(const ir::Node* n) {
  const ir::Node* rows = n->arg(0);
  const ir::Node* indices = n->arg(1);
  fill(n, real(0));
  loops(extents(rows->shape()), [&](const Index& idx) {
    Index outer(idx.begin(), idx.begin() + static_cast<long>(indices->rank()));
    Index target{value(indices, outer)};
    target.insert(target.end(), idx.begin() + static_cast<long>(indices->rank()), idx.end());
    llvm::Value* at = element(n, target);
    b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(t_, at), value(rows, idx)), at);
  });
}

}  // namespace vmc::codegen

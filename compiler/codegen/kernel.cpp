// One kernel's function: the workspace layout, then each stored node's loop or library call.
#include <algorithm>

#include <llvm/IR/Verifier.h>

#include "codegen/emitter.hpp"
#include "support/check.hpp"

namespace vmc::codegen {


Emitter::Emitter(llvm::Module& module, Precision precision, const Target& target,
                 const ir::Graph& graph)
    : module_(module), ctx_(module.getContext()), b_(module.getContext()), precision_(precision),
      target_(target), graph_(graph) {
  t_ = precision == Precision::F32 ? b_.getFloatTy() : b_.getDoubleTy();
  i64_ = b_.getInt64Ty();
  ptr_ = b_.getPtrTy();
}

llvm::Function* Emitter::declare(const char* name, llvm::FunctionType* type) {
  llvm::FunctionCallee callee = module_.getOrInsertFunction(name, type);
  auto* f = llvm::cast<llvm::Function>(callee.getCallee());
  f->setDoesNotThrow();
  return f;
}

void Emitter::set_attributes(llvm::Function* f) {
  f->setDoesNotThrow();
  if (!target_.cpu.empty()) f->addFnAttr("target-cpu", target_.cpu);
  if (!target_.features.empty()) f->addFnAttr("target-features", target_.features);
  // The host's tuning otherwise caps vectors at 256 bits on AVX-512 machines.
  f->addFnAttr("prefer-vector-width", "512");
}

llvm::Value* Emitter::extent(const ir::Extent& e) {
  return e.is_constant() ? static_cast<llvm::Value*>(b_.getInt64(e.size)) : sizes_.at(e.symbol);
}

std::vector<llvm::Value*> Emitter::extents(const ir::Shape& shape) {
  std::vector<llvm::Value*> out;
  for (const ir::Extent& e : shape) out.push_back(extent(e));
  return out;
}

llvm::Value* Emitter::linear(const Index& idx, const ir::Shape& shape) {
  llvm::Value* lin = b_.getInt64(0);
  for (std::size_t d = 0; d < idx.size(); ++d) {
    lin = d == 0 ? idx[0] : b_.CreateAdd(b_.CreateMul(lin, extent(shape[d])), idx[d]);
  }
  return lin;
}

llvm::Value* Emitter::buffer(const ir::Node* n) {
  const Placement& p = s_->where(n);
  switch (p.home) {
    case Home::Input: return inputs_.at(p.index);
    case Home::Output: return outputs_.at(p.index);
    case Home::Workspace: return slots_.at(p.index);
    case Home::Inline: break;
  }
  // A reshape of a stored value is the same buffer.
  if (n->op() == ir::Op::Reshape && s_->stored(n->arg(0))) return buffer(n->arg(0));
  VMC_ASSERT(false, std::string("no buffer for ") + ir::info(n->op()).spelling);
}

llvm::Value* Emitter::element(const ir::Node* n, const Index& idx) {
  llvm::Type* type = n->dtype() == ir::DType::Int ? i64_ : t_;
  return b_.CreateGEP(type, buffer(n), linear(idx, n->shape()));
}

void Emitter::for_range(llvm::Value* count, const std::function<void(llvm::Value*)>& body) {
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* head = llvm::BasicBlock::Create(ctx_, "loop", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx_, "loop.end", fn_);
  b_.CreateCondBr(b_.CreateICmpSGT(count, b_.getInt64(0)), head, exit);
  b_.SetInsertPoint(head);
  llvm::PHINode* i = b_.CreatePHI(i64_, 2, "i");
  i->addIncoming(b_.getInt64(0), pre);
  body(i);
  llvm::Value* next = b_.CreateAdd(i, b_.getInt64(1), "", true, true);
  i->addIncoming(next, b_.GetInsertBlock());
  b_.CreateCondBr(b_.CreateICmpSLT(next, count), head, exit);
  b_.SetInsertPoint(exit);
}

void Emitter::loops(const std::vector<llvm::Value*>& ext, const std::function<void(const Index&)>& body) {
  Index idx;
  std::function<void(std::size_t)> level = [&](std::size_t d) {
    if (d == ext.size()) return body(idx);
    for_range(ext[d], [&](llvm::Value* i) {
      idx.push_back(i);
      level(d + 1);
      idx.pop_back();
    });
  };
  level(0);
}

void Emitter::fill(const ir::Node* n, llvm::Value* v) {
  loops(extents(n->shape()), [&](const Index& idx) { b_.CreateStore(v, element(n, idx)); });
}

void Emitter::copy(const ir::Node* from, llvm::Value* to) {
  llvm::Type* type = from->dtype() == ir::DType::Int ? i64_ : t_;
  loops(extents(from->shape()), [&](const Index& idx) {
    b_.CreateStore(value(from, idx), b_.CreateGEP(type, to, linear(idx, from->shape())));
  });
}

// Slot offsets (64-byte aligned, in order) and the total, from the sizes.
llvm::Value* Emitter::workspace_bytes(llvm::Value* sizes, std::vector<llvm::Value*>* slot_offsets) {
  std::vector<llvm::Value*> sym;
  for (std::size_t k = 0; k < graph_.symbol_count(); ++k) {
    sym.push_back(b_.CreateLoad(i64_, b_.CreateGEP(i64_, sizes, b_.getInt64(static_cast<std::int64_t>(k)))));
  }
  llvm::Value* offset = b_.getInt64(0);
  for (const Polynomial& slot : s_->slots) {
    if (slot_offsets) slot_offsets->push_back(offset);
    llvm::Value* size = b_.getInt64(0);
    for (const auto& [monomial, c] : slot) {
      llvm::Value* term = b_.getInt64(c);
      for (std::int32_t s : monomial) term = b_.CreateMul(term, sym.at(s));
      size = b_.CreateAdd(size, term);
    }
    // align64(offset + size)
    offset = b_.CreateAnd(b_.CreateAdd(b_.CreateAdd(offset, size), b_.getInt64(63)), b_.getInt64(~std::int64_t{63}));
  }
  return offset;
}

void Emitter::kernel(const std::string& name, const Schedule& schedule, bool internal) {
  s_ = &schedule;
  memo_.clear();
  const auto linkage = internal ? llvm::Function::InternalLinkage : llvm::Function::ExternalLinkage;
  // vmc_workspace_bytes
  auto* ws_type = llvm::FunctionType::get(i64_, {ptr_}, false);
  fn_ = llvm::Function::Create(ws_type, linkage, name + "_workspace_bytes", module_);
  workspace_fn_ = fn_;
  loop_adjoints_.clear();
  set_attributes(fn_);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));
  b_.CreateRet(workspace_bytes(fn_->getArg(0), nullptr));

  // vmc_kernel
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, ptr_, ptr_, ptr_, ptr_}, false);
  fn_ = llvm::Function::Create(type, linkage, name, module_);
  set_attributes(fn_);
  for (unsigned k = 0; k < 5; ++k) fn_->addParamAttr(k, llvm::Attribute::NoCapture);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));
  llvm::Value* in = fn_->getArg(0);
  llvm::Value* sizes = fn_->getArg(1);
  sizes_array_ = sizes;
  llvm::Value* out = fn_->getArg(2);
  llvm::Value* ws = fn_->getArg(3);
  context_ = fn_->getArg(4);  // passed through, unread, to the runtime's products
  auto load_ptr = [&](llvm::Value* array, std::size_t k) {
    return b_.CreateLoad(ptr_, b_.CreateGEP(ptr_, array, b_.getInt64(static_cast<std::int64_t>(k))));
  };
  inputs_.clear();
  outputs_.clear();
  slots_.clear();
  sizes_.clear();
  for (std::size_t k = 0; k < schedule.inputs.size(); ++k) inputs_.push_back(load_ptr(in, k));
  for (std::size_t k = 0; k < schedule.outputs.size(); ++k) outputs_.push_back(load_ptr(out, k));
  for (std::size_t k = 0; k < graph_.symbol_count(); ++k) {
    sizes_.push_back(b_.CreateLoad(i64_, b_.CreateGEP(i64_, sizes, b_.getInt64(static_cast<std::int64_t>(k)))));
  }
  std::vector<llvm::Value*> offsets;
  workspace_bytes(sizes, &offsets);
  for (llvm::Value* off : offsets) slots_.push_back(b_.CreateGEP(b_.getInt8Ty(), ws, off));

  for (const ir::Node* n : schedule.computed) {
    // A rider is written by its sum's loop, an accumulator by its buffer's.
    if (!schedule.riding.count(n) && !schedule.accumulating.count(n)) compute_stored(n);
  }
  // An output that is an input, or the same node as an earlier output, is copied into place.
  for (std::size_t k = 0; k < schedule.outputs.size(); ++k) {
    const ir::Node* o = schedule.outputs[k];
    const Placement& p = schedule.where(o);
    if (p.home != Home::Output || p.index != static_cast<int>(k)) copy(o, outputs_[k]);
  }
  b_.CreateRetVoid();
}

// An inlinable op given a buffer (several users, a GEMM operand, ...): a loop storing its value.
void Emitter::store_inline(const ir::Node* n) {
  if (s_->accumulators.count(n)) {
    zero_accumulators(n);
    loops(extents(n->shape()), [&](const Index& idx) { store_at(n, idx); });
    return;
  }
  bool one_range = n->rank() > 1 && std::all_of(n->args().begin(), n->args().end(),
                                                [&](const ir::Node* a) { return flat(a, n->shape()); });
  if (one_range && ir::is_elementwise(n->op())) {
    // One loop over every element: simpler code for LLVM to vectorise, and faster to compile.
    llvm::Value* count = b_.getInt64(1);
    for (llvm::Value* e : extents(n->shape())) count = b_.CreateMul(count, e);
    for_range(count, [&](llvm::Value* i) {
      b_.CreateStore(compute_flat(n, i), b_.CreateGEP(t_, buffer(n), i));
    });
    return;
  }
  loops(extents(n->shape()), [&](const Index& idx) { b_.CreateStore(compute(n, idx), element(n, idx)); });
}

void Emitter::zero_accumulators(const ir::Node* n) {
  auto hosted = s_->accumulators.find(n);
  if (hosted == s_->accumulators.end()) return;
  for (const ir::Node* sum : hosted->second) fill(sum, real(0));
}

void Emitter::store_at(const ir::Node* n, const Index& idx) {
  b_.CreateStore(compute(n, idx), element(n, idx));
  auto hosted = s_->accumulators.find(n);
  if (hosted == s_->accumulators.end()) return;
  // Each accumulator's operand at this index (reading n's value just stored), added into the
  // accumulator at the index without its summed axis.
  for (const ir::Node* sum : hosted->second) {
    Index out = idx;
    out.erase(out.begin() + sum->attrs().axis);
    llvm::Value* at = element(sum, out);
    b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(t_, at), value(sum->arg(0), idx)), at);
  }
}

}  // namespace vmc::codegen

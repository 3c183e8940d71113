// A loop (ir/loop.hpp) in generated code: its body and vjp are kernels of their own, generated
// into the module (internal), and the loop itself one call of the runtime's vmc_loop (abi.h),
// which runs them in order. The body's code is generated once, whatever the trip count.
#include <algorithm>

#include "codegen/emitter.hpp"
#include "ir/loop.hpp"
#include "support/check.hpp"

namespace vmc::codegen {

std::pair<llvm::Function*, llvm::Function*> Emitter::loop_kernel(const ir::LoopBody& body,
                                                                 const std::vector<int>* wanted) {
  auto key = std::make_pair(&body, wanted ? *wanted : std::vector<int>{-1});
  if (auto it = loop_kernels_.find(key); it != loop_kernels_.end()) return it->second;
  const bool vjp = wanted != nullptr;
  const ir::Function& f = vjp ? body.vjp : body.body;
  std::vector<const ir::Node*> inputs{vjp ? body.vjp_t : body.t, vjp ? body.vjp_carry : body.carry};
  const std::vector<const ir::Node*>& inv = vjp ? body.vjp_invariants : body.invariants;
  inputs.insert(inputs.end(), inv.begin(), inv.end());
  if (vjp) inputs.push_back(body.vjp_carry_bar);
  std::vector<const ir::Node*> outputs{f.output(vjp ? "carry_bar" : "carry")};
  std::string name = body.name + (vjp ? ".vjp" : ".body");
  if (vjp) {
    // Only the adjoints this kernel uses: a data table read one element per iteration would
    // otherwise cost a pass over it per iteration.
    for (int k : *wanted) {
      outputs.push_back(f.output("inv_bar." + std::to_string(k)));
      name += "." + std::to_string(k);
    }
  }
  Schedule schedule = codegen::schedule(outputs, inputs, precision_ == Precision::F32 ? 4 : 8);
  Emitter sub(module_, precision_, target_, *f.graph);
  sub.kernel(name, schedule, true);
  std::pair<llvm::Function*, llvm::Function*> made{sub.fn_, sub.workspace_fn_};
  VMC_ASSERT(made.first && made.second, "a loop's kernel was not generated");
  return loop_kernels_[key] = made;
}

void Emitter::loop(const ir::Node* n) {
  const ir::LoopBody& body = *n->attrs().loop;
  const bool grad = n->op() == ir::Op::LoopGrad;
  const int which = grad ? n->attrs().axis : 0;
  auto [kernel, workspace] = loop_kernel(body, nullptr);
  llvm::Value* vjp = llvm::ConstantPointerNull::get(ptr_);
  llvm::Value* vjp_workspace = vjp;
  // The adjoints of a loop's invariants that this kernel computes (its loop_grads of the same
  // operands): the first computes them all in one backward pass, the others copy theirs.
  std::vector<const ir::Node*> operands(n->args().begin(), n->args().end());
  bool first = false;
  std::vector<int> wanted;
  if (grad) {
    for (const ir::Node* m : s_->computed) {
      if (m->op() != ir::Op::LoopGrad || m->attrs().axis < 3) continue;
      if (!std::equal(m->args().begin(), m->args().end(), operands.begin(), operands.end())) continue;
      wanted.push_back(m->attrs().axis - 3);
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::tie(vjp, vjp_workspace) = loop_kernel(body, &wanted);
    first = loop_adjoints_.insert(operands).second;
  }
  auto elements = [&](const ir::Shape& shape) {
    llvm::Value* count = b_.getInt64(1);
    for (llvm::Value* e : extents(shape)) count = b_.CreateMul(count, e);
    return count;
  };
  auto bound = [&](const ir::Node* x) { return b_.CreateFPToSI(value(x, {}), i64_); };
  const std::size_t n_inv = body.invariants.size();
  const std::size_t n_wanted = wanted.size();
  // The invariants' addresses, in an array in the entry block (one per loop node).
  llvm::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
  llvm::Value* slots = b_.getInt64(static_cast<std::int64_t>(std::max<std::size_t>(n_inv, 1)));
  llvm::Value* array = entry.CreateAlloca(ptr_, slots);
  llvm::Value* wanted_slots = b_.getInt64(static_cast<std::int64_t>(std::max<std::size_t>(n_wanted, 1)));
  llvm::Value* which_ones = entry.CreateAlloca(i64_, wanted_slots);
  llvm::Value* counts = entry.CreateAlloca(i64_, wanted_slots);
  for (std::size_t k = 0; k < n_inv; ++k) {
    b_.CreateStore(buffer(n->arg(3 + k)), b_.CreateGEP(ptr_, array, b_.getInt64(static_cast<std::int64_t>(k))));
  }
  for (std::size_t j = 0; j < n_wanted; ++j) {
    llvm::Value* at = b_.getInt64(static_cast<std::int64_t>(j));
    b_.CreateStore(b_.getInt64(wanted[j]), b_.CreateGEP(i64_, which_ones, at));
    b_.CreateStore(elements(n->arg(3 + static_cast<std::size_t>(wanted[j]))->shape()), b_.CreateGEP(i64_, counts, at));
  }
  llvm::Type* i32 = b_.getInt32Ty();
  auto* type = llvm::FunctionType::get(b_.getVoidTy(),
                                       {ptr_, ptr_, ptr_, ptr_, ptr_, ptr_, i64_, i64_, i32, ptr_, i64_, ptr_, i64_,
                                        i64_, ptr_, ptr_, ptr_, i64_, i32, ptr_},
                                       false);
  llvm::Function* run = declare("vmc_loop", type);
  llvm::Value* carry_bar = grad ? buffer(n->args().back()) : llvm::ConstantPointerNull::get(ptr_);
  b_.CreateCall(run, {kernel, workspace, vjp, vjp_workspace, sizes_array_, context_, bound(n->arg(0)),
                      bound(n->arg(1)), llvm::ConstantInt::get(i32, precision_ == Precision::F32 ? 4 : 8),
                      buffer(n->arg(2)), elements(n->arg(2)->shape()), array,
                      b_.getInt64(static_cast<std::int64_t>(n_inv)), b_.getInt64(static_cast<std::int64_t>(n_wanted)),
                      which_ones, counts, carry_bar, b_.getInt64(which),
                      llvm::ConstantInt::get(i32, first ? 1 : 0), buffer(n)});
}

}  // namespace vmc::codegen

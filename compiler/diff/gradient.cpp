#include "diff/gradient.hpp"

#include <unordered_map>

#include "diff/adjoints.hpp"
#include "ir/builder.hpp"
#include "ir/function.hpp"
#include "support/check.hpp"

namespace vmc::diff {

std::vector<const ir::Node*> gradient(const ir::Node* objective,
                                      const std::vector<const ir::Node*>& wrt) {
  VMC_ASSERT(objective->is_scalar(), "the objective must be a scalar");
  std::unordered_map<const ir::Node*, const ir::Node*> adjoint;
  adjoint[objective] = ir::constant(objective->graph(), 1);

  std::vector<const ir::Node*> order = ir::topological_order({objective});
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const ir::Node* n = *it;
    auto found = adjoint.find(n);
    if (found == adjoint.end()) continue;
    Contributions parts = adjoint_rule(n->op())(*n, found->second);
    for (std::size_t i = 0; i < n->args().size(); ++i) {
      const ir::Node* part = i < parts.size() ? parts[i] : nullptr;
      const ir::Node* operand = n->arg(i);
      if (!part || operand->dtype() != ir::DType::Real) continue;
      VMC_ASSERT(part->shape() == operand->shape(),
                 std::string("adjoint of ") + ir::info(n->op()).spelling + " has the wrong shape");
      auto [slot, fresh] = adjoint.try_emplace(operand, part);
      if (!fresh) slot->second = ir::add(slot->second, part);
    }
  }

  std::vector<const ir::Node*> out;
  for (const ir::Node* x : wrt) {
    auto found = adjoint.find(x);
    out.push_back(found != adjoint.end() ? found->second : ir::constant_like(x, 0));
  }
  return out;
}

}  // namespace vmc::diff

namespace vmc::diff {
namespace {

// The nodes reachable from `roots` rebuilt in `to` (inputs by name, kind, shape and dtype); the
// graphs share their symbols, in order.
std::vector<const ir::Node*> copy_into(ir::Graph& to, const std::vector<const ir::Node*>& roots,
                                       std::unordered_map<const ir::Node*, const ir::Node*>& done) {
  for (const ir::Node* n : ir::topological_order(roots)) {
    std::vector<const ir::Node*> args;
    for (const ir::Node* a : n->args()) args.push_back(done.at(a));
    ir::Shape given = n->op() == ir::Op::Input || n->op() == ir::Op::Const || n->op() == ir::Op::Iota ||
                              n->op() == ir::Op::Broadcast || n->op() == ir::Op::Reshape
                          ? n->shape()
                          : ir::Shape{};
    done[n] = to.make(n->op(), std::move(args), n->attrs(), given, n->dtype());
  }
  std::vector<const ir::Node*> out;
  for (const ir::Node* r : roots) out.push_back(done.at(r));
  return out;
}

}  // namespace

void derive_vjp(ir::LoopBody& body) {
  const ir::Graph& from = *body.body.graph;
  ir::Graph& g = *body.vjp.graph;
  for (std::size_t s = 0; s < from.symbol_count(); ++s) g.symbol(from.symbol_name(static_cast<std::int32_t>(s)));
  std::unordered_map<const ir::Node*, const ir::Node*> done;
  std::vector<const ir::Node*> roots{body.body.output("carry"), body.t, body.carry};
  roots.insert(roots.end(), body.invariants.begin(), body.invariants.end());
  std::vector<const ir::Node*> copied = copy_into(g, roots, done);
  const ir::Node* carry_bar = ir::input(g, "loop.carry_bar", ir::InputKind::Data, body.carry->shape());
  const ir::Node* seeded = ir::sum(ir::mul(copied[0], carry_bar));
  body.vjp_t = copied[1];
  body.vjp_carry = copied[2];
  body.vjp_invariants.assign(copied.begin() + 3, copied.end());
  body.vjp_carry_bar = carry_bar;
  std::vector<const ir::Node*> wrt(copied.begin() + 2, copied.end());
  std::vector<const ir::Node*> grads = gradient(seeded, wrt);
  body.vjp.outputs.push_back({"carry_bar", grads[0]});
  for (std::size_t k = 1; k < grads.size(); ++k) {
    body.vjp.outputs.push_back({"inv_bar." + std::to_string(k - 1), grads[k]});
  }
}

}  // namespace vmc::diff

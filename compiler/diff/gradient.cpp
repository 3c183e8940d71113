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
      const ir::Node* part = parts[i];
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

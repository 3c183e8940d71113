#include "ir/function.hpp"

#include <unordered_set>

namespace vmc::ir {

const Node* Function::output(const std::string& name) const {
  for (const Output& o : outputs) {
    if (o.name == name) return o.node;
  }
  return nullptr;
}

std::vector<const Node*> topological_order(const std::vector<const Node*>& roots) {
  std::vector<const Node*> order;
  std::unordered_set<const Node*> done;
  std::vector<std::pair<const Node*, std::size_t>> stack;  // node, next operand to visit
  for (const Node* root : roots) {
    if (done.count(root)) continue;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->args().size()) {
        const Node* a = node->arg(next++);
        if (!done.count(a)) stack.push_back({a, 0});
        continue;
      }
      if (done.insert(node).second) order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

std::vector<const Node*> Function::schedule() const {
  std::vector<const Node*> roots;
  for (const Output& o : outputs) roots.push_back(o.node);
  return topological_order(roots);
}

std::vector<const Node*> Function::inputs() const {
  std::vector<const Node*> out;
  for (const Node* n : schedule()) {
    if (n->op() == Op::Input) out.push_back(n);
  }
  return out;
}

}  // namespace vmc::ir

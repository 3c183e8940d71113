// A Function: a graph plus the named nodes it computes (the ELBO, its gradients, samples).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ir/node.hpp"

namespace vmc::ir {

struct Output {
  std::string name;
  const Node* node;
};

struct Function {
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();
  std::vector<Output> outputs;

  const Node* output(const std::string& name) const;
  // Every node reachable from the outputs, operands before users, in a deterministic order.
  std::vector<const Node*> schedule() const;
  // The Input nodes reachable from the outputs, in schedule order.
  std::vector<const Node*> inputs() const;
};

// Operands before users, for the nodes reachable from `roots` (iterative: deep graphs are fine).
std::vector<const Node*> topological_order(const std::vector<const Node*>& roots);

}  // namespace vmc::ir

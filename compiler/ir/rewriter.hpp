// Passes over the IR. A visitor sees every node reachable from some roots once, operands
// before users; a rewriter rebuilds those nodes bottom-up, each from its rewritten operands,
// in the same graph (hash-consing makes equal rebuilt nodes one node, so CSE comes free).
// Both are iterative: a 100,000-node chain is fine.
#pragma once

#include <unordered_map>
#include <vector>

#include "ir/function.hpp"

namespace vmc::ir {

template <class Visit>
void visit(const std::vector<const Node*>& roots, Visit&& f) {
  for (const Node* n : topological_order(roots)) f(*n);
}

class Rewriter {
 public:
  virtual ~Rewriter() = default;

  // The rewritten roots, in order.
  std::vector<const Node*> run(const std::vector<const Node*>& roots) {
    for (const Node* n : topological_order(roots)) {
      std::vector<const Node*> args;
      args.reserve(n->args().size());
      for (const Node* a : n->args()) args.push_back(done_.at(a));
      done_[n] = rewrite(*n, args);
    }
    std::vector<const Node*> out;
    out.reserve(roots.size());
    for (const Node* r : roots) out.push_back(done_.at(r));
    return out;
  }

 protected:
  // The node that replaces `original`, given its operands already rewritten.
  virtual const Node* rewrite(const Node& original, const std::vector<const Node*>& args) = 0;

 private:
  std::unordered_map<const Node*, const Node*> done_;
};

}  // namespace vmc::ir

#include "diff/gradient.hpp"
#include "diff/simplify.hpp"
#include "diff/stabilize.hpp"
#include "lower/lower.hpp"

namespace vmc::lower {

void add_gradients(Lowered& lowered, StageTimes* times) {
  ir::Function& f = lowered.function;
  // Forms whose derivative floating point cannot evaluate are rewritten first (stabilize.hpp),
  // so the value and its gradient come from the same expression.
  for (ir::Output& o : f.outputs) {
    if (o.name == "elbo") o.node = diff::stabilize({o.node})[0];
  }
  const ir::Node* elbo = f.output("elbo");
  std::vector<const ir::Node*> wrt;
  for (const ParamInput& p : lowered.params) wrt.push_back(p.node);
  std::vector<const ir::Node*> grads;
  {
    StageTimer timer(times, "diff");
    grads = diff::gradient(elbo, wrt);
  }
  for (std::size_t k = 0; k < grads.size(); ++k) {
    f.outputs.push_back({"grad." + lowered.params[k].name, grads[k]});
  }
  std::vector<const ir::Node*> roots;
  for (const ir::Output& o : f.outputs) roots.push_back(o.node);
  lowered.nodes_before_simplify = diff::count_nodes(roots);
  StageTimer timer(times, "simplify");
  std::vector<const ir::Node*> simple = diff::simplify(roots);
  for (std::size_t k = 0; k < simple.size(); ++k) f.outputs[k].node = simple[k];
  lowered.nodes_after_simplify = diff::count_nodes(simple);
}

}  // namespace vmc::lower

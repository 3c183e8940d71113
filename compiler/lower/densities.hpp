// What each distribution of the table (sema/distributions.hpp) means in the IR: its log
// density, its reparameterized sampler and its closed-form KL divergences. Indexed by the same
// entries as sema's table, so adding a distribution is one entry there and one here (a unit test
// checks that every entry has one).
//
// Shapes: for elementwise distributions (ShapeRule::Broadcast) the caller passes the value and
// every argument at the same shape (it broadcasts scalars), and gets the elementwise log density
// back at that shape. For mvnormal_cholesky the value and mu are [B..., K] (B... are batch axes,
// possibly none) and L is [K, K]; the log density is [B...]. For categorical_logit the value is
// [B...] (int labels, as reals) and the logits are [B..., K]; the log density is [B...].
// Densities are fully normalised (constants included).
#pragma once

#include <vector>

#include "ir/node.hpp"
#include "sema/distributions.hpp"

namespace vmc::lower {

using Args = std::vector<const ir::Node*>;

// The log density of `x` under `dist(args)`.
const ir::Node* log_density(const sema::Distribution& dist, const ir::Node* x, const Args& args);

// The base distribution of a reparameterized sampler's noise: draws come from the run-time
// inputs of this kind (standard normal or uniform(0, 1)), one per element of the draw.
ir::InputKind noise_kind(const sema::Distribution& dist);

// z = g(ε, args): a draw of `dist(args)` from noise ε of the draw's shape (for
// mvnormal_cholesky: ε [B..., K] and z = mu + ε Lᵀ). Only for dist.reparam == Reparam::Yes.
const ir::Node* sample(const sema::Distribution& dist, const Args& args, const ir::Node* noise);

// KL(q(q_args) ‖ p(p_args)) in closed form, elementwise (for mvnormal_cholesky guides: per
// vector, [B...]); nullptr when the pair has no closed form. q_args and p_args are shaped as
// for log_density (a normal prior against an mvnormal_cholesky guide gets mu and sigma [B..., K]).
const ir::Node* kl_divergence(const sema::Distribution& q, const Args& q_args,
                              const sema::Distribution& p, const Args& p_args);

// The mean and standard deviation of `dist(args)` elementwise, for summaries; nullptr where
// undefined (cauchy). Only for guide families.
const ir::Node* mean(const sema::Distribution& dist, const Args& args);
const ir::Node* stddev(const sema::Distribution& dist, const Args& args);

}  // namespace vmc::lower

// Internal to the registry: the closed-form KL(q ‖ p) of each (guide family, prior) pair that an
// entry lists among its KL partners (kl.cpp).
#pragma once

#include "dist/distribution.hpp"

namespace vmc::dist::detail {

const ir::Node* kl_normal_normal(const Args& q, const Args& p);
const ir::Node* kl_lognormal_lognormal(const Args& q, const Args& p);
const ir::Node* kl_laplace_laplace(const Args& q, const Args& p);
const ir::Node* kl_exponential_exponential(const Args& q, const Args& p);
const ir::Node* kl_exponential_gamma(const Args& q, const Args& p);
const ir::Node* kl_gamma_gamma(const Args& q, const Args& p);
const ir::Node* kl_beta_beta(const Args& q, const Args& p);
const ir::Node* kl_uniform_uniform(const Args& q, const Args& p);
const ir::Node* kl_mvnormal_normal(const Args& q, const Args& p);
const ir::Node* kl_mvnormal_mvnormal(const Args& q, const Args& p);

}  // namespace vmc::dist::detail

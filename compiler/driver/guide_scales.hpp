// The scale of each param component for vmc fit's convergence rule (all_params order), so that
// its Monte Carlo error is judged in posterior sds: an automatic guide's location in the guide's
// sd of that element (LATENT.scale, guide.chol's row, or lowrank's d_k √(1 + Σ_j G_kj²)), a
// Cholesky factor's off-diagonal entry in its row's sd, a written guide's location by the scale
// its `~` gives it (`normal(P, exp(Q))`, lognormal, or Q declared <lower=0>); anything else in its
// own units.
#pragma once

#include "sema/model.hpp"
#include "vmc/convergence.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {

runtime::ScaleFn guide_scales(const runtime::Trainer& t, const sema::Model& model);

}  // namespace vmc::driver

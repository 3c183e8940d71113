// vmc fit's Laplace start (runtime/include/vmc/laplace.hpp) of an automatic guide over global
// latents: the mode of the posterior in unconstrained space, found with the guide shrunk to a
// point, becomes the guide's frame (NAME.center, or guide.center), and its covariance the
// frame's unit (NAME.unit: the meanfield sd 1/√P_ii; guide.unit: the covariance's Cholesky
// factor); the guide's own loc and scale start at 0 in that frame.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "vmc/trainer.hpp"

namespace vmc::driver {

struct LaplaceStart {
  bool applied = false;
  std::string summary;  // one line for the fit's progress
  std::int64_t iterations = 0, evaluations = 0, dimensions = 0;
  double log_density = 0;
  double jitter = 0;    // added to the precision's diagonal to make it positive definite
};

// Where a joint automatic guide's location lies among the params (offset, size), as if it were
// one param "guide.loc": its parts are each global latent's NAME.loc (a loc with no NAME.center
// of its own, the block's frame being guide.center), declared one after the other. nullopt for a
// guide without such a block.
std::optional<std::pair<std::size_t, std::size_t>> joint_loc(
    const std::map<std::string, std::pair<std::size_t, std::size_t>>& at);

// nullopt when the trainer's params are not an automatic guide's frames (a guide block, local
// latents): nothing to do. Otherwise the start, applied or not (then `summary` says why; the
// params are as they were).
std::optional<LaplaceStart> laplace_start(runtime::Trainer& trainer, std::uint64_t stream);

}  // namespace vmc::driver

// When a fit of global latents has converged, from its iterates (Dhaka et al. 2020, "Robust,
// Accurate Stochastic Optimization for Variational Inference"): a stochastic optimiser with a
// constant step size does not converge to a point but to a stationary distribution around it.
// Every `check_every` steps the iterates of the fit's second half (thinned to at most a few
// thousand), cut into four chunks, get the split R̂ of each tracked component (as four chains,
// as MCMC discards its first half as warm-up); once the largest is below `rhat` (or a component's
// chunk means are within `drift` of its scale: a flat direction of the bound) the iterates are
// stationary. The noise of stationary iterates grows with the step size, and the steps an
// average needs with it, so the step size is then halved (`halvings` times) and the search starts
// again from there; at the last, the iterates are averaged from then on (Polyak-Ruppert), and
// the fit has converged when the
// average's Monte Carlo standard error (its effective sample size by Geyer's estimator) is below `mcse` in units of each component's
// scale: for a guide's location, the guide's sd of that element, so that the reported posterior
// means are within a small fraction of a posterior sd of the optimum's. The reported params are
// then the average, not the last (noisy) iterate.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vmc::runtime {

struct ConvergenceOptions {
  std::int64_t check_every = 100;
  std::int64_t min_window = 400;   // iterates the R̂ check needs at least (the second half's)
  double rhat = 1.1;               // stationary when every tracked component's R̂ is below
  double mcse = 0.01;              // converged when every average's MCSE / scale is below
  std::int64_t min_averaged = 300;  // iterates averaged at least
  std::size_t max_tracked = 256;   // components R̂ and the MCSE look at (evenly spaced)
  int halvings = 3;                // the step size halved at each stationarity, this many times
  double min_ess = 20;             // converged only with this effective sample size at least
  double drift = 0.1;              // stationary too: chunk means within this fraction of the scale
};

// Each param component's scale (see above) at the given params, in the all_params order.
using ScaleFn = std::function<void(const std::vector<double>& params, std::vector<double>& scales)>;

struct ConvergenceStatus {
  bool stationary = false;      // averaging
  bool converged = false;
  std::int64_t averaged_from = -1;  // the first averaged step
  std::int64_t averaged = 0;        // iterates averaged
  double rhat = 0;                  // the largest R̂ at the last check (0: none yet)
  double mcse = 0;                  // the largest MCSE / scale at the last check (0: none yet)
  double ess = 0;                   // the smallest effective sample size of the averaged iterates
  std::string mcse_of;              // which component: "param[k]"
  std::string rhat_of;
  int halvings = 0;                 // the step size's, so far
  std::int64_t search_from = 0;     // the step the current search for stationarity started at
  double lr_factor() const { return std::ldexp(1.0, -halvings); }  // of the fit's step size
};

class Convergence {
 public:
  // `names`/`sizes`: the params in all_params order (for messages).
  // `watched`: which params R̂ and the MCSE look at (all when empty); the others are averaged
  // too, but may wander (a parameterisation's flat directions: lowrank's factor against its
  // diagonal) without holding the fit back.
  Convergence(std::vector<std::string> names, std::vector<std::int64_t> sizes, ConvergenceOptions options = {},
              ScaleFn scales = nullptr, std::vector<bool> watched = {});

  // The params after a finite step `step`. Returns true when this step's check finds the fit
  // converged (it checks every check_every steps).
  bool observe(std::int64_t step, const std::vector<double>& params);
  const ConvergenceStatus& status() const { return status_; }
  // The averaged params (empty before the iterates are stationary).
  std::vector<double> average() const;
  // The last iterate averaged (empty before): a checkpoint holds the average as its params, and a
  // resumed fit goes on from this one, as it would have without the stop.
  const std::vector<double>& last() const { return last_; }
  // Why a fit that stopped at its cap has not converged, in words.
  std::string why_not() const;

  std::string save() const;
  // Throws std::runtime_error when the bytes are not a state of this model's params.
  void restore(const std::string& bytes);

 private:
  bool check(std::int64_t step, const std::vector<double>& params);
  std::string component(std::size_t k) const;

  std::vector<std::string> names_;
  std::vector<std::int64_t> sizes_;
  ConvergenceOptions o_;
  ScaleFn scales_;
  std::vector<std::size_t> tracked_;      // component indices
  std::vector<double> rows_;              // the tracked components' iterates, thinned: rows × tracked
  std::vector<std::int64_t> row_steps_;   // each row's step
  std::int64_t row_stride_ = 1;
  std::vector<double> sum_;               // Σ of the averaged iterates (all components)
  std::vector<double> kept_;              // the averaged iterates of the tracked components, thinned
  std::int64_t kept_stride_ = 1;
  std::int64_t last_check_ = 0;
  std::vector<double> last_;
  ConvergenceStatus status_;
};

}  // namespace vmc::runtime

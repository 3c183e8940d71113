// A Laplace approximation of a posterior in unconstrained space, from any function that gives
// a log density and its gradient: its mode by L-BFGS (Nocedal & Wright, Algorithm 7.4, with a
// backtracking Armijo line search), and the precision there by central differences of the
// gradient. vmc fit starts the automatic guide of a model of global latents from it (as
// Pathfinder, Zhang et al. 2022, and Stan's `laplace` start ADVI-like methods from a mode), so
// that posteriors far from scale 1 begin where they should and are optimised in their own units.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vmc::runtime {

// f(x, grad): the log density at x (to maximise) and its gradient into grad (resized to x's).
using LogDensityFn = std::function<double(const std::vector<double>& x, std::vector<double>& grad)>;

struct Mode {
  std::vector<double> x;
  double value = 0;
  std::int64_t iterations = 0, evaluations = 0;
  bool converged = false;  // the gradient vanished (relative to the values), not a cap or a failure
  std::string problem;     // why not, in words
};

// Maximises f from x0 (at most `max_iterations` L-BFGS iterations, history `memory`). Stops when
// the gradient's largest element is below tol * max(1, |f|) or f stops improving.
Mode find_mode(const LogDensityFn& f, std::vector<double> x0, std::int64_t max_iterations = 2000, int memory = 10,
               double tol = 1e-6);

// The precision at x: −(the Hessian of f), by central differences of the gradient (2·n
// evaluations), symmetrised; n × n row-major. `step`: each coordinate's difference is
// step · max(1, |x_i|).
std::vector<double> precision_at(const LogDensityFn& f, const std::vector<double>& x, double step = 1e-3);

// A lower-triangular factor C (row-major n × n) of the covariance, precision⁻¹ = C Cᵀ; when the
// precision is not positive definite, the diagonal is raised until it is (`jitter` says by how
// much, 0 when it was not). Empty when even that fails (a NaN in it).
std::vector<double> covariance_factor(const std::vector<double>& precision, std::size_t n, double& jitter);

// lowrank:R's start in the frame of the conditional sds c_i = 1/√P_ii: G [n × r] (row-major)
// with diag(c)⁻¹ P⁻¹ diag(c)⁻¹ ≈ I + G Gᵀ, from the r largest eigenpairs of the left side
// minus I (their eigenvectors times √λ, λ clamped at 0). Empty when P⁻¹ cannot be formed.
std::vector<double> low_rank_start(const std::vector<double>& precision, std::size_t n, std::size_t r);

}  // namespace vmc::runtime

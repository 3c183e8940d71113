// The Laplace approximation's mode and precision (runtime/include/vmc/laplace.hpp).
#include "vmc/laplace.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

#include <Eigen/Dense>

namespace vmc::runtime {
namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

bool finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

Mode find_mode(const LogDensityFn& f, std::vector<double> x, std::int64_t max_iterations, int memory, double tol) {
  Mode m;
  const std::size_t n = x.size();
  std::vector<double> g(n), g_new(n), x_new(n), d(n);
  double fx = f(x, g);
  ++m.evaluations;
  if (!std::isfinite(fx) || !finite(g)) {
    m.x = x;
    m.value = fx;
    m.problem = "the log density or its gradient is not finite at the initial values";
    return m;
  }
  struct Pair {
    std::vector<double> s, y;
    double rho;
  };
  std::deque<Pair> history;
  int stalls = 0;
  for (m.iterations = 0; m.iterations < max_iterations; ++m.iterations) {
    if (max_abs(g) <= tol * std::max(1.0, std::abs(fx))) {
      m.converged = true;
      break;
    }
    // The two-loop recursion: d = H g, H the inverse-Hessian estimate of −f (ascent direction).
    d = g;
    std::vector<double> alpha(history.size());
    for (std::size_t k = history.size(); k-- > 0;) {
      alpha[k] = history[k].rho * dot(history[k].s, d);
      for (std::size_t i = 0; i < n; ++i) d[i] -= alpha[k] * history[k].y[i];
    }
    double gamma = history.empty() ? 1.0 / std::max(1.0, max_abs(g))
                                   : dot(history.back().s, history.back().y) / dot(history.back().y, history.back().y);
    for (double& v : d) v *= gamma;
    for (std::size_t k = 0; k < history.size(); ++k) {
      double beta = history[k].rho * dot(history[k].y, d);
      for (std::size_t i = 0; i < n; ++i) d[i] += history[k].s[i] * (alpha[k] - beta);
    }
    double slope = dot(g, d);
    if (!(slope > 0)) {  // not an ascent direction: start the history again from the gradient
      history.clear();
      d = g;
      for (double& v : d) v /= std::max(1.0, max_abs(g));
      slope = dot(g, d);
    }
    // Backtracking until the Armijo condition holds (and the values are finite).
    double step = 1, f_new = -INFINITY;
    bool accepted = false;
    for (int tries = 0; tries < 60; ++tries, step *= 0.5) {
      for (std::size_t i = 0; i < n; ++i) x_new[i] = x[i] + step * d[i];
      f_new = f(x_new, g_new);
      ++m.evaluations;
      if (std::isfinite(f_new) && finite(g_new) && f_new >= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {
      m.problem = "the line search found no better point";
      break;
    }
    Pair p{std::vector<double>(n), std::vector<double>(n), 0};
    for (std::size_t i = 0; i < n; ++i) {
      p.s[i] = x_new[i] - x[i];
      p.y[i] = g[i] - g_new[i];  // of −f
    }
    double sy = dot(p.s, p.y);
    if (sy > 1e-12 * std::sqrt(dot(p.s, p.s) * dot(p.y, p.y))) {
      p.rho = 1 / sy;
      history.push_back(std::move(p));
      if (static_cast<int>(history.size()) > memory) history.pop_front();
    }
    double gain = f_new - fx;
    x.swap(x_new);
    g.swap(g_new);
    fx = f_new;
    // Improvements at the values' rounding for a while: as converged as it will get.
    stalls = gain <= 1e-12 * std::max(1.0, std::abs(fx)) ? stalls + 1 : 0;
    if (stalls >= 5) {
      m.converged = max_abs(g) <= std::sqrt(tol) * std::max(1.0, std::abs(fx));
      if (!m.converged) m.problem = "the log density stopped improving before its gradient vanished";
      ++m.iterations;
      break;
    }
  }
  if (!m.converged && m.problem.empty()) m.problem = "no mode within " + std::to_string(max_iterations) + " iterations";
  m.x = std::move(x);
  m.value = fx;
  return m;
}

std::vector<double> precision_at(const LogDensityFn& f, const std::vector<double>& x, double step) {
  const std::size_t n = x.size();
  std::vector<double> p(n * n), gp(n), gm(n), at = x;
  for (std::size_t j = 0; j < n; ++j) {
    double h = step * std::max(1.0, std::abs(x[j]));
    at[j] = x[j] + h;
    f(at, gp);
    at[j] = x[j] - h;
    f(at, gm);
    at[j] = x[j];
    for (std::size_t i = 0; i < n; ++i) p[i * n + j] = -(gp[i] - gm[i]) / (2 * h);
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < i; ++j) p[i * n + j] = p[j * n + i] = 0.5 * (p[i * n + j] + p[j * n + i]);
  }
  return p;
}

std::vector<double> covariance_factor(const std::vector<double>& precision, std::size_t n, double& jitter) {
  using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Matrix p = Eigen::Map<const Matrix>(precision.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
  jitter = 0;
  if (!p.allFinite()) return {};
  double mean_diag = std::max(1e-12, p.diagonal().cwiseAbs().mean());
  for (int tries = 0; tries < 30; ++tries) {
    Matrix q = p;
    q.diagonal().array() += jitter;
    Eigen::LLT<Matrix> llt(q);
    if (llt.info() == Eigen::Success) {
      // Σ = P⁻¹ = (U Uᵀ)⁻¹ with P = U Uᵀ (U lower): Σ's own Cholesky factor, computed from Σ.
      Matrix sigma = llt.solve(Matrix::Identity(q.rows(), q.cols()));
      sigma = 0.5 * (sigma + sigma.transpose()).eval();
      Eigen::LLT<Matrix> c(sigma);
      if (c.info() == Eigen::Success) {
        Matrix lower = c.matrixL();
        return std::vector<double>(lower.data(), lower.data() + n * n);
      }
    }
    jitter = jitter == 0 ? 1e-8 * mean_diag : jitter * 10;
  }
  return {};
}

std::vector<double> low_rank_start(const std::vector<double>& precision, std::size_t n, std::size_t r) {
  using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto size = static_cast<Eigen::Index>(n);
  Matrix p = Eigen::Map<const Matrix>(precision.data(), size, size);
  if (!p.allFinite() || (p.diagonal().array() <= 0).any()) return {};
  Eigen::LDLT<Matrix> ldlt(p);
  if (ldlt.info() != Eigen::Success) return {};
  Matrix sigma = ldlt.solve(Matrix::Identity(size, size));
  Eigen::VectorXd c = p.diagonal().array().rsqrt();
  Matrix s = c.cwiseInverse().asDiagonal() * sigma * c.cwiseInverse().asDiagonal();
  s = 0.5 * (s + s.transpose()).eval();
  s.diagonal().array() -= 1.0;
  Eigen::SelfAdjointEigenSolver<Matrix> eig(s);
  if (eig.info() != Eigen::Success) return {};
  std::vector<double> g(n * r, 0.0);
  for (std::size_t k = 0; k < r && k < n; ++k) {
    const Eigen::Index col = size - 1 - static_cast<Eigen::Index>(k);  // eigenvalues ascend
    double lambda = std::max(0.0, eig.eigenvalues()(col));
    for (std::size_t i = 0; i < n; ++i) g[i * r + k] = eig.eigenvectors()(static_cast<Eigen::Index>(i), col) * std::sqrt(lambda);
  }
  return g;
}

}  // namespace vmc::runtime

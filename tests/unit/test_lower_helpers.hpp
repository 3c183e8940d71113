// Shared by the test_lower*.cpp files: compile a model's text the way the driver does (parse,
// sema::analyze, lower::lower_model, lower::add_gradients), bind its inputs, evaluate it on the
// reference interpreter, and check its symbolic gradients against central finite differences of
// the unsimplified objective (with stop_gradient operands pinned, as `vmc diagnose` does).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ir/function.hpp"
#include "ir/interpreter.hpp"
#include "lower/lower.hpp"
#include "lower/synthetic.hpp"
#include "sema/sema.hpp"
#include "support/check.hpp"
#include "support/diagnostics.hpp"
#include "test_support.hpp"

namespace lower_test {

using namespace vmc;
// An estimator of the registry (lower/estimator.hpp), as the tests name them: Estimator::A, ...
// (the compiler itself reads their properties, never their names).
struct Estimator {
  static inline const lower::Estimator* const A = lower::find_estimator("A");
  static inline const lower::Estimator* const B = lower::find_estimator("B");
  static inline const lower::Estimator* const Iwae = lower::find_estimator("iwae");
  static inline const lower::Estimator* const Stl = lower::find_estimator("stl");
  using Ref = const lower::Estimator*;
};
using Dims = std::map<std::string, std::int64_t>;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string stdlib_text(const std::string& name) {
  return read_text(std::string(VMC_SOURCE_DIR) + "/stdlib/" + name + ".vmodel");
}

inline sema::Options sema_options(Dims dims = {}, std::optional<std::string> auto_guide = {}) {
  sema::Options o;
  o.set_dims = std::move(dims);
  o.auto_guide = std::move(auto_guide);
  return o;
}

inline lower::Options lower_options(Estimator::Ref e, int samples = 1) {
  lower::Options o;
  o.estimator = e;
  o.samples = samples;
  return o;
}

// One compilation of `text`, as `vmc emit grad` does it; messages() lists its diagnostics, one
// "line:col: message" a line. Internal errors propagate (a test that expects diagnostics checks
// that none is thrown).
struct Compiled : test_support::Parsed {
  std::unique_ptr<sema::Model> model;
  std::optional<lower::Lowered> lowered;

  Compiled(std::string text, const sema::Options& so, const lower::Options& lo,
           bool gradients = true)
      : Parsed(std::move(text)) {
    if (!program) return;
    // Checked for lowering, as the pipeline does (pipeline/pipeline.cpp): lowering reports no
    // user error of its own.
    sema::Options checked = so;
    checked.lowering = true;
    if (lo.estimator->importance_weighted) checked.importance_weighted = std::string(lo.estimator->name);
    model = sema::analyze(*program, checked, diags);
    if (!model) return;
    lowered = lower::lower_model(*model, lo);
    if (gradients) lower::add_gradients(*lowered);
  }

  bool ok() const { return lowered.has_value() && !diags.has_errors(); }
  bool sema_ok() const { return model != nullptr; }

  const lower::Lowered& l() const { return *lowered; }
  const ir::Node* output(const std::string& name) const { return lowered->function.output(name); }

  ir::Bindings synthetic(std::uint64_t seed = 1, std::int64_t rows = 6, std::int64_t batch = 4,
                         double radius = 1) const {
    lower::SyntheticOptions so;
    so.seed = seed;
    so.rows = rows;
    so.batch = batch;
    so.init_radius = radius;
    return lower::synthetic_bindings(*lowered, *model, so);
  }
};

// |a − b| ≤ rel·max(|a|, |b|) + abs.
// An input's values in bindings, and a scalar input's value (a missing one fails the test).
inline const std::vector<double>& in(const ir::Bindings& b, const std::string& name) {
  auto it = b.inputs.find(name);
  REQUIRE_MESSAGE(it != b.inputs.end(), "no input '", name, "'");
  return it->second.values;
}
inline double in1(const ir::Bindings& b, const std::string& name) { return in(b, name).at(0); }
// The textbook normal log density, for references written out in the tests.
inline double normal_lpdf(double x, double mu, double sigma) {
  double z = (x - mu) / sigma;
  return -0.5 * std::log(2 * 3.141592653589793238462643383279502884) - std::log(sigma) - 0.5 * z * z;
}

inline bool near(double a, double b, double rel, double abs = 0) {
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b)) + abs;
}

inline double eval1(const ir::Node* n, const ir::Bindings& b) { return ir::evaluate(n, b).item(); }

// An importance-weighted bound of K samples as the runtime makes it from one lowered sample
// (runtime/src/engine_data.cpp, call_importance_weighted), with the interpreter: `samples[k]` are
// the bindings of sample k (its own noise). Pass 1: each sample's log-weight w_k (per datapoint
// or one); pass 2: the objective with the weight input at c_k = softmax_k(w), summed over k, put
// right to Σ (N/M)(log Σ_k e^{w_k} − log K) + the part outside the weights.
inline double importance_bound(const lower::Lowered& l, std::vector<ir::Bindings> samples) {
  REQUIRE(l.importance_weight);
  REQUIRE(l.row_log_weights.size() == 1);
  const std::size_t K = samples.size();
  std::vector<ir::Tensor> w;
  for (const ir::Bindings& b : samples) w.push_back(ir::evaluate(l.row_log_weights[0].node, b));
  const std::size_t m = w[0].values.size();
  const bool per_row = !w[0].shape.empty();
  const double scale = per_row ? static_cast<double>(samples[0].sizes.at("N")) / static_cast<double>(samples[0].sizes.at("M")) : 1.0;
  double total = 0;
  std::vector<std::vector<double>> c(K, std::vector<double>(m));
  for (std::size_t r = 0; r < m; ++r) {
    double top = -std::numeric_limits<double>::infinity(), sum = 0;
    for (std::size_t k = 0; k < K; ++k) top = std::max(top, w[k].values[r]);
    for (std::size_t k = 0; k < K; ++k) sum += std::exp(w[k].values[r] - top);
    const double lse = top + std::log(sum);
    for (std::size_t k = 0; k < K; ++k) c[k][r] = std::exp(w[k].values[r] - lse);
    total += scale * (lse - std::log(static_cast<double>(K)));
  }
  const ir::Node* elbo = l.function.output("elbo");
  const std::string weight = l.importance_weight->attrs().name;
  for (std::size_t k = 0; k < K; ++k) {
    samples[k].inputs[weight] = ir::Tensor{w[k].shape, c[k]};
    total += eval1(elbo, samples[k]);
    for (std::size_t r = 0; r < m; ++r) total -= scale * c[k][r] * w[k].values[r];
  }
  return total;
}

// Holds every stop_gradient's operand at its value at `b` (what stl's gradient treats as constant).
inline void pin_stop_gradients(const ir::Node* objective, ir::Bindings& b) {
  for (const ir::Node* n : ir::topological_order({objective})) {
    if (n->op() == ir::Op::StopGradient) b.pinned[n] = ir::evaluate(n, b);
  }
}

struct GradCheckOptions {
  double h = 1e-6;
  double abs_tol = 1e-8;
  double rel_tol = 1e-6;
  std::int64_t max_elements = 1000;  // per param; every element when it has no more
};

struct GradCheckSummary {
  int checked = 0;
  int bad = 0;
  double worst_ratio = 0;  // max over elements of error / tolerance
};

// The compiled "grad.NAME" outputs against central finite differences of `objective` at `b`,
// every element of each param (up to max_elements). Also the simplified "elbo" against the
// unsimplified objective. Each failing element is reported with `label`.
inline GradCheckSummary check_gradients(const Compiled& c, ir::Bindings b, const std::string& label,
                                        const GradCheckOptions& o = {}) {
  GradCheckSummary s;
  const lower::Lowered& l = c.l();
  const ir::Node* objective = l.objective;
  pin_stop_gradients(objective, b);
  double f0 = eval1(objective, b);
  double elbo = eval1(c.output("elbo"), b);
  CHECK_MESSAGE(std::isfinite(f0), label, ": the objective is not finite: ", f0);
  CHECK_MESSAGE(near(elbo, f0, 1e-10, 1e-12), label, ": simplified elbo ", elbo,
                " != objective ", f0);
  std::vector<const ir::Node*> roots;
  for (const lower::ParamInput& p : l.params) roots.push_back(c.output("grad." + p.name));
  std::vector<ir::Tensor> grads = ir::evaluate(roots, b);
  for (std::size_t k = 0; k < l.params.size(); ++k) {
    const lower::ParamInput& p = l.params[k];
    ir::Tensor& x = b.inputs.at(p.name);
    REQUIRE(grads[k].values.size() == x.values.size());
    auto n = std::min<std::int64_t>(x.size(), o.max_elements);
    for (std::int64_t e = 0; e < n; ++e) {
      double saved = x.values[e];
      x.values[e] = saved + o.h;
      double up = eval1(objective, b);
      x.values[e] = saved - o.h;
      double down = eval1(objective, b);
      x.values[e] = saved;
      double fd = (up - down) / (2 * o.h);
      double sym = grads[k].values[e];
      double rounding = 8 * std::numeric_limits<double>::epsilon() *
                        std::max({std::abs(up), std::abs(down), std::abs(f0)}) / o.h;
      double tol = o.abs_tol + o.rel_tol * std::abs(fd) + rounding;
      double err = std::abs(sym - fd);
      ++s.checked;
      s.worst_ratio = std::max(s.worst_ratio, err / tol);
      bool good = err <= tol;  // false for NaN
      if (!good) ++s.bad;
      CHECK_MESSAGE(good, label, ": grad.", p.name, "[", e, "] = ", sym, ", finite differences ",
                    fd, " (error ", err, ", tolerance ", tol, ")");
    }
  }
  return s;
}

// Compiles `text` and checks its gradients at the synthetic point of `seed`.
inline GradCheckSummary compile_and_check(const std::string& text, const std::string& label,
                                          const sema::Options& so, Estimator::Ref est, int samples,
                                          std::uint64_t seed = 1, double radius = 1,
                                          const GradCheckOptions& o = {}) {
  std::string full = label + " (estimator " + std::string(est->name) + ", samples " +
                     std::to_string(samples) + ")";
  Compiled c(text, so, lower_options(est, samples));
  REQUIRE_MESSAGE(c.ok(), full, " does not compile:\n", c.messages());
  return check_gradients(c, c.synthetic(seed, 6, 4, radius), full, o);
}

// Models that test_lower_gradients.cpp checks the gradients of and test_lower_values.cpp checks
// the value of against a reference written from the text: one text, so both are about the same
// model.
namespace models {

// Slices, constant indices, transposes, u' * v and u * v', user fns, target += and param priors.
inline constexpr const char* linalg = R"(model linalg;
dims { N; K = 4; }
data { X : real[N, K]; y : real[N]; }
param { W : real[K, K]; u : real[K]; v : real[K]; b : real; w_loc : real[K]; w_ls : real[K]; }
latent { w : real[K]; }
fn sq(a) = a .* a;
fn lin(A, x, c) = A * x + c;
model {
  W ~ normal(0, 1);
  u ~ normal(0, 2);
  let P = u * v';
  let s = u' * v;
  let A = W' + P;
  w ~ normal(0, 1);
  let head = w[0:2];
  let tail = w[2:];
  let col = W[:, 1];
  let row = W[1];
  target += -0.5 * sum(sq(head)) + w[0] * s - dot(col[1:3], tail) + mean(row) - square(W[2, 3]);
  target += (w' * A) * v - 0.1 * sum(sq(A' * w));
  plate i in N subsample {
    let xi = X[i];
    y[i] ~ normal(xi' * lin(A, w, v) + (xi' * W) * u + tanh(X[i, 0]) * b, 1.5);
    target += -0.5 * square(xi[1:3]' * tail);
  }
}
guide {
  w ~ normal(w_loc, exp(w_ls));
}
)";

// Global constrained latents and no guide block: for the automatic guides.
inline constexpr const char* auto_global = R"(model auto_global;
dims { N; K = 2; }
data { y : real[N]; }
latent { mu : real; tau : real<lower=0>; p : real<lower=0, upper=1>; th : real[K];
         q : real<lower=1, upper=4>; }
model {
  mu ~ normal(0, 1);
  tau ~ lognormal(0, 1);
  p ~ beta(2, 2);
  q ~ uniform(1, 4);
  th ~ normal(mu, tau);
  y ~ normal(mu + p + sum(th) + 0.1 * q, tau + 0.5);
}
)";

}  // namespace models

}  // namespace lower_test

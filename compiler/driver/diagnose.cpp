// `vmc diagnose` (after CmdStan's): the symbolic gradient against central finite differences of
// the reference interpreter, at a random point with fixed noise, per param element.
#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>
#include <iostream>
#include <random>

#include "driver/binding.hpp"
#include "driver/commands.hpp"
#include "driver/frontend.hpp"
#include "ir/rewriter.hpp"
#include "ir/interpreter.hpp"
#include "lower/synthetic.hpp"

namespace vmc::driver {
namespace {

std::string index_text(std::int64_t flat, const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return "";
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string s = "[";
  for (std::size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + std::to_string(idx[d]);
  return s + "]";
}

}  // namespace

int run_diagnose(const ModelArgs& given, const DataArgs& data, const DiagnoseArgs& diag) {
  ModelArgs args = given;
  runtime::Arrays arrays;
  if (!data.data.empty() && !load_data(args, data, arrays)) return 1;
  FrontEnd fe;
  if (!compile_model(fe, args, Stage::Gradient)) return 1;
  const lower::Lowered& l = *fe.lowered;

  lower::SyntheticOptions so;
  so.seed = diag.seed;
  so.init_radius = diag.init_radius;
  ir::Bindings at = lower::synthetic_bindings(l, *fe.model, so);
  // The data given replaces the synthetic data of the same name (its shape gave the dims).
  for (const auto& [name, a] : arrays) {
    auto in = at.inputs.find(name);
    if (in != at.inputs.end() && in->second.values.size() == a.values.size()) in->second.values = a.values;
  }
  const ir::Node* elbo = l.objective;
  // A path-derivative estimator's gradient is by design not the derivative of its value: it holds the guide's params
  // constant inside log q. Finite differences do the same with those values pinned.
  ir::visit({elbo}, [&](const ir::Node& n) {
    if (n.op() == ir::Op::StopGradient) at.pinned[&n] = ir::evaluate(&n, at);
  });

  std::printf("Gradient check of %s (estimator %s) at a random point with fixed noise%s\n",
              args.model_path.c_str(), args.estimator.c_str(), arrays.empty() ? "" : ", on the data given");
  std::printf("  run-time sizes:");
  for (const auto& [name, value] : at.sizes) std::printf(" %s=%lld", name.c_str(), static_cast<long long>(value));
  std::printf("\n  elbo = %.10g; epsilon = %g, error = %g (relative past 1, plus the finite "
              "differences' own rounding)\n\n", ir::evaluate(elbo, at).item(), diag.epsilon, diag.error);
  std::printf(" %-18s %-12s %14s %16s %16s %12s\n", "param", "index", "value", "model",
              "finite diff", "error");

  std::mt19937_64 rng(diag.seed);
  bool ok = true;
  for (const lower::ParamInput& p : l.params) {
    const ir::Node* grad = l.function.output("grad." + p.name);
    ir::Tensor g = ir::evaluate(grad, at);
    ir::Tensor& x = at.inputs.at(p.name);
    // A sample of elements for large params, always including the first and last.
    std::vector<std::int64_t> elements;
    auto n = static_cast<std::int64_t>(x.values.size());
    if (n <= diag.elements) {
      for (std::int64_t k = 0; k < n; ++k) elements.push_back(k);
    } else {
      elements = {0, n - 1};
      std::uniform_int_distribution<std::int64_t> pick(1, n - 2);
      while (static_cast<int>(elements.size()) < diag.elements) elements.push_back(pick(rng));
      std::sort(elements.begin(), elements.end());
      elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
    }
    for (std::int64_t k : elements) {
      double saved = x.values[k];
      x.values[k] = saved + diag.epsilon;
      double up = ir::evaluate(elbo, at).item();
      x.values[k] = saved - diag.epsilon;
      double down = ir::evaluate(elbo, at).item();
      x.values[k] = saved;
      double fd = (up - down) / (2 * diag.epsilon);
      double sym = g.values[k];
      double err = std::abs(sym - fd);
      // Finite differences of a large objective carry rounding of about ε_mach·|f|/h: that
      // part of the difference is theirs, not the gradient's.
      double rounding = 8 * std::numeric_limits<double>::epsilon() *
                        std::max(std::abs(up), std::abs(down)) / diag.epsilon;
      bool bad = !(err <= diag.error * std::max(1.0, std::abs(fd)) + rounding);
      ok &= !bad;
      std::printf(" %-18s %-12s %14.6g %16.8g %16.8g %12.3g%s\n", p.name.c_str(),
                  index_text(k, x.shape).c_str(), saved, sym, fd, err, bad ? "  <- over tolerance" : "");
    }
  }
  if (!ok) {
    std::fprintf(stderr, "%s: error: the symbolic gradient differs from finite differences "
                 "beyond --error %g (see the marked rows)\n", args.model_path.c_str(), diag.error);
    return 1;
  }
  std::printf("\nall checked elements agree within the tolerance\n");
  return 0;
}

}  // namespace vmc::driver

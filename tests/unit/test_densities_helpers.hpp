// Shared by the test_densities*.cpp files: a graph with named inputs bound to values, seeded
// noise, sample statistics and a finite-difference gradient check, all on the reference
// interpreter in double precision.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "diff/gradient.hpp"
#include "diff/simplify.hpp"
#include "ir/builder.hpp"
#include "ir/interpreter.hpp"
#include "dist/distribution.hpp"

namespace densities_test {

using namespace vmc;
using ir::Node;
using dist::Args;
using Dims = std::vector<std::int64_t>;
constexpr double kPi = std::numbers::pi;

inline const dist::Distribution& entry(std::string_view name) {
  const dist::Distribution* d = dist::find(name);
  REQUIRE_MESSAGE(d != nullptr, name);
  return *d;
}

// |a − b| ≤ rel·max(|a|, |b|) + abs: a relative check (doctest's Approx is absolute below 1).
inline bool near(double a, double b, double rel, double abs = 0) {
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b)) + abs;
}

inline ir::Shape shape_of(const Dims& dims) {
  ir::Shape s;
  for (std::int64_t d : dims) s.push_back(ir::Extent::constant(d));
  return s;
}

// A graph whose inputs are bound as they are declared.
struct Env {
  ir::Graph g;
  ir::Bindings b;

  const Node* tensor(const std::string& name, std::vector<double> values, const Dims& dims,
                     ir::InputKind kind = ir::InputKind::Param) {
    b.inputs[name] = ir::Tensor{dims, std::move(values)};
    return ir::input(g, name, kind, shape_of(dims));
  }
  const Node* vec(const std::string& name, std::vector<double> values,
                  ir::InputKind kind = ir::InputKind::Param) {
    Dims dims{static_cast<std::int64_t>(values.size())};
    return tensor(name, std::move(values), dims, kind);
  }
  const Node* scalar(const std::string& name, double v) { return tensor(name, {v}, {}); }

  std::vector<double> eval(const Node* n) { return ir::evaluate(n, b).values; }
  double eval1(const Node* n) { return ir::evaluate(n, b).item(); }
};

// Inputs named a0, a1, ... holding column j of `rows` (one row per point).
inline Args columns(Env& env, const std::vector<std::vector<double>>& rows, std::size_t from,
                    std::size_t count, const std::string& prefix = "a") {
  Args out;
  for (std::size_t j = 0; j < count; ++j) {
    std::vector<double> col;
    for (const auto& r : rows) col.push_back(r[from + j]);
    out.push_back(env.vec(prefix + std::to_string(j), col));
  }
  return out;
}

inline std::vector<double> normals(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d;
  std::vector<double> out(n);
  for (double& v : out) v = d(rng);
  return out;
}

// Uniform on the open interval (0, 1).
inline std::vector<double> uniforms(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(0.0, 1.0);
  std::vector<double> out(n);
  for (double& v : out) {
    do v = d(rng);
    while (v <= 0.0 || v >= 1.0);
  }
  return out;
}

inline std::vector<double> noise_for(ir::InputKind kind, std::size_t n, std::uint64_t seed) {
  return kind == ir::InputKind::Uniform ? uniforms(n, seed) : normals(n, seed);
}

struct Stats {
  double mean = 0, var = 0, m4 = 0;  // central moments
  std::size_t n = 0;
  double mean_se() const { return std::sqrt(var / static_cast<double>(n)); }
  double var_se() const { return std::sqrt(std::max(m4 - var * var, 0.0) / static_cast<double>(n)); }
};

inline Stats stats(const std::vector<double>& v) {
  Stats s;
  s.n = v.size();
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(s.n);
  for (double x : v) {
    double d = (x - s.mean) * (x - s.mean);
    s.var += d;
    s.m4 += d * d;
  }
  s.var /= static_cast<double>(s.n);
  s.m4 /= static_cast<double>(s.n);
  return s;
}

// d sum(value) / d wrt[k], symbolic against central differences (with one Richardson step),
// element by element: |sym − fd| ≤ 1e-8 + 1e-6 |fd|.
inline void check_gradient(Env& env, const Node* value, const std::vector<const Node*>& wrt) {
  const Node* objective = ir::sum(value);
  std::vector<const Node*> grads = diff::gradient(objective, wrt);
  std::vector<ir::Tensor> sym = ir::evaluate(grads, env.b);
  // The simplified value and gradients (what lowering emits) agree with the raw ones.
  std::vector<const Node*> raw = grads;
  raw.push_back(objective);
  std::vector<ir::Tensor> before = ir::evaluate(raw, env.b);
  std::vector<ir::Tensor> after = ir::evaluate(diff::simplify(raw), env.b);
  for (std::size_t k = 0; k < raw.size(); ++k) {
    for (std::size_t i = 0; i < before[k].values.size(); ++i) {
      CHECK(near(after[k].values[i], before[k].values[i], 1e-12, 1e-14));
    }
  }
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    const std::string& name = wrt[k]->attrs().name;
    ir::Tensor& t = env.b.inputs.at(name);
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      double v = t.values[i];
      auto f = [&](double d) {
        t.values[i] = v + d;
        double r = ir::evaluate(objective, env.b).item();
        t.values[i] = v;
        return r;
      };
      double h = 1e-4 * std::max(std::abs(v), 0.1);
      double d1 = (f(h) - f(-h)) / (2 * h);
      double d2 = (f(h / 2) - f(-h / 2)) / h;
      double fd = (4 * d2 - d1) / 3;
      double s = sym[k].values[i];
      INFO("d/d " << name << "[" << i << "] at " << v << ": symbolic " << s << ", fd " << fd);
      CHECK(std::abs(s - fd) <= 1e-8 + 1e-6 * std::abs(fd));
    }
  }
}

}  // namespace densities_test

#include "sema/builtins.hpp"

#include <algorithm>
#include <cmath>

namespace vmc::sema {
namespace {

double identity(double x) { return x; }
double square(double x) { return x * x; }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double relu(double x) { return x > 0 ? x : 0; }
double log_sigmoid(double x) { return -softplus(-x); }
double fmin2(double a, double b) { return std::min(a, b); }
double fmax2(double a, double b) { return std::max(a, b); }

double log_sum_exp2(double a, double b) {
  double m = std::max(a, b);
  if (std::isinf(m)) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

// The recurrence psi(x) = psi(x + 1) - 1/x up to x >= 6, then the asymptotic series; accurate
// to about 1e-12 there. Non-positive integers give an infinity, which constant folding rejects.
double digamma(double x) {
  double result = 0;
  while (x < 6) {
    result -= 1 / x;
    x += 1;
  }
  double f = 1 / (x * x);
  return result + std::log(x) - 0.5 / x -
         f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

using enum BuiltinRule;

double std_exp(double x) { return std::exp(x); }
double std_log(double x) { return std::log(x); }
double std_log1p(double x) { return std::log1p(x); }
double std_expm1(double x) { return std::expm1(x); }
double std_sqrt(double x) { return std::sqrt(x); }
double std_abs(double x) { return std::fabs(x); }
double std_tanh(double x) { return std::tanh(x); }
double std_lgamma(double x) { return std::lgamma(x); }

const std::vector<Builtin> kBuiltins = {
    {"exp", 1, 1, Elementwise, false, std_exp},
    {"log", 1, 1, Elementwise, false, std_log},
    {"log1p", 1, 1, Elementwise, false, std_log1p},
    {"expm1", 1, 1, Elementwise, false, std_expm1},
    {"sqrt", 1, 1, Elementwise, false, std_sqrt},
    {"square", 1, 1, Elementwise, false, square},
    {"abs", 1, 1, Elementwise, false, std_abs},
    {"tanh", 1, 1, Elementwise, false, std_tanh},
    {"sigmoid", 1, 1, Elementwise, false, sigmoid},
    {"softplus", 1, 1, Elementwise, false, softplus},
    {"relu", 1, 1, Elementwise, false, relu},
    {"log_sigmoid", 1, 1, Elementwise, false, log_sigmoid},
    {"lgamma", 1, 1, Elementwise, false, std_lgamma},
    {"digamma", 1, 1, Elementwise, false, digamma},
    {"sum", 1, 1, Reduce, true, identity},
    {"mean", 1, 1, Reduce, false, identity},
    {"dot", 2, 2, Dot, false},
    {"log_sum_exp", 1, 2, ReduceOrElementwise, false, identity, log_sum_exp2},
    {"min", 1, 2, ReduceOrElementwise, true, identity, fmin2},
    {"max", 1, 2, ReduceOrElementwise, true, identity, fmax2},
};

}  // namespace

std::string Builtin::arity_text() const {
  std::string n = std::to_string(min_arity);
  if (max_arity != min_arity) n += " or " + std::to_string(max_arity);
  return n + (max_arity == 1 ? " argument" : " arguments");
}

const std::vector<Builtin>& builtins() { return kBuiltins; }

const Builtin* find_builtin(std::string_view name) {
  for (const Builtin& b : kBuiltins) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

std::vector<std::string> builtin_names() {
  std::vector<std::string> names;
  for (const Builtin& b : kBuiltins) names.emplace_back(b.name);
  return names;
}

}  // namespace vmc::sema

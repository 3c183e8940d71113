// Differential tests of the JIT against the reference interpreter, in f64 and in f32. On the
// same bindings (the same ε, params and data) every output of the compiled "elbo_grad" kernel
// (the ELBO, then the gradient of every param) and of "sample_guide" (the guide's draws) equals
// the interpreter's within a rounding-error bound; the "elbo" kernel equals elbo_grad's first
// output; and one compiled model agrees on bindings of several sizes (a batch, a partial batch
// of new data, the whole data, a batch long enough for vectorised loop bodies). Cases:
//   - every stdlib model × estimators A, B, stl, iwae × 1 and 2 samples;
//   - 40 random small well-typed models from a seeded generator of .vmodel text (ModelGen);
//   - every elementwise op and reduction at special points (±0, ±∞, NaN, poles, range edges);
//   - structural ops (reductions on every axis, reshapes, broadcasts, products with every
//     transpose, gathers, scatter-adds, concatenations, triangles, solves, iota, slices, and
//     outputs that are inputs, constants or repeated) with run-time extents, M = 0 included.
//
// The bound. For each element, |jit − interp| ≤ kC · ε · S, with ε the machine epsilon of the
// kernel's precision (the interpreter always computes in f64: for f32 it is the oracle, and the
// f32 rounding of every input is part of the error) and S a first-order running error bound
// that the test computes over the IR itself: MagnitudeBound, an ir::Rewriter that builds S's
// nodes beside the value's in the same graph, evaluated by the interpreter with the values:
//
//   S(y) = ρ(y) + Σ_k |∂y/∂x_k| · S(x_k)
//
// the error each operand carries, amplified by the op's local derivative, plus the magnitude ρ
// of what the op itself rounds: |y| for an elementwise op; Σ|x_i| for a sum (a sum's bound grows
// with what is summed, not with what survives cancellation); Σ_k |a_ik||b_kj| for a product;
// max|x| + |y| + n for a log-sum-exp. Leaves: |x| for inputs (their f32 rounding), |c| for
// constants, 0 for iota. The rules op by op are in MagnitudeBound::rewrite (a triangular
// solve's bound solves with the comparison matrix). The bound is first order (products of
// errors are ignored), and it holds for any summation order, so it does not depend on how
// codegen fuses, vectorises or reassociates. Discontinuous ops (step, sign, greater, equal) are
// exact unless rounding flips them: where the operand is within 64·ε_f32·S of the jump (and not
// exactly on it, which is structural, e.g. x == max(x)) S is +∞ and the element is not checked
// (counted and reported: a laplace residual x − μ within 64·ε_f32·S of 0 does it, in f32).
// Typical S/|y| is 10–1000 (cancellation in gradients makes it larger), so in f64 a relative
// error of ~1e-12 in a typical element fails.
//
// The largest err/(ε·S) observed per precision is printed (MESSAGE): so far about 0.2–0.7 for
// the models and under 5 for single ops (codegen's tanh near its 0.03 branch point).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <future>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <sstream>

#include "ir/builder.hpp"
#include "ir/rewriter.hpp"
#include "jit/compiled_model.hpp"
#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {

using ir::Node;
using ir::Op;

constexpr double kInf = std::numeric_limits<double>::infinity();
// err ≤ kC · ε · S. Observed maxima are well below (see the MESSAGEs); 16 leaves room for the
// growth of rounding with the length of sums, which S's single Σ|x_i| term does not model.
constexpr double kC = 16;

// ---------------------------------------------------------------------------------------------
// The error bound S of every node, as IR.

const Node* abs_of(const Node* x) { return ir::unary(Op::Abs, x); }
const Node* plus(const Node* a, const Node* b) { return ir::add(a, b); }
const Node* times(const Node* a, const Node* b) { return ir::mul(a, b); }
const Node* over(const Node* a, const Node* b) { return ir::div(a, b); }
const Node* fn(Op op, const Node* x) { return ir::unary(op, x); }

class MagnitudeBound : public ir::Rewriter {
 public:
  // `flip` is the relative distance from a discontinuity under which rounding may flip it.
  explicit MagnitudeBound(double flip) : flip_(flip) {}

 protected:
  const Node* rewrite(const Node& n, const std::vector<const Node*>& m) override {
    const Node* y = &n;
    ir::Graph& g = n.graph();
    if (n.dtype() == ir::DType::Int) return y;  // indices: exact, and Gather reads them as they are
    const Node* x = n.args().empty() ? nullptr : n.arg(0);
    const Node* b = n.args().size() > 1 ? n.arg(1) : nullptr;
    const Node* ay = abs_of(y);
    auto own = [&](const Node* rest) { return plus(ay, rest); };  // |y| + propagated
    const ir::Attrs& at = n.attrs();
    switch (n.op()) {
      // leaves
      case Op::Input: return ay;
      case Op::Const:
        return ir::constant(g, std::isfinite(at.value) ? std::abs(at.value) : 0, n.shape());
      case Op::Iota: return ir::constant(g, 0, n.shape());
      // 1-Lipschitz, exact
      case Op::Neg:
      case Op::Abs:
      case Op::Relu:
      case Op::StopGradient: return m[0];
      // elementwise: |y| + |f'(x)| S(x)
      case Op::Exp: return own(times(y, m[0]));
      case Op::Log: return own(over(m[0], abs_of(x)));
      case Op::Log1p: return own(over(m[0], abs_of(ir::add(x, 1.0))));
      case Op::Expm1: return own(times(ir::add(y, 1.0), m[0]));
      case Op::Sqrt: return own(over(m[0], ir::mul(y, 2.0)));
      case Op::Square: return own(times(ir::mul(abs_of(x), 2.0), m[0]));
      case Op::Tanh: return own(times(ir::sub(ir::constant_like(y, 1), ir::square(y)), m[0]));
      case Op::Tan: return own(times(ir::add(ir::square(y), 1.0), m[0]));
      // |sin'|, |cos'| ≤ 1; libm's range reduction is exact, its result within an ulp of |y| ≤ 1,
      // so the rounding is ε, not ε|y| (sin near its zeros).
      case Op::Sin:
      case Op::Cos: return plus(ir::constant_like(y, 1), m[0]);
      case Op::LogBesselI0: return own(m[0]);                             // |I_1/I_0| ≤ 1
      case Op::BesselI1OverI0: return own(times(ir::constant_like(y, 0.5), m[0]));  // |R'| ≤ 1/2
      case Op::Cosh: {  // |sinh x| = h − 1/(4h), h = e^(|x| − log 2): finite wherever cosh is
        const Node* h = ir::exp(ir::add(abs_of(x), -std::numbers::ln2));
        return own(times(ir::sub(h, over(ir::constant_like(h, 0.25), h)), m[0]));
      }
      case Op::Sigmoid: return own(times(times(y, ir::sub(ir::constant_like(y, 1), y)), m[0]));
      case Op::Softplus: return own(times(fn(Op::Sigmoid, x), m[0]));
      case Op::LogSigmoid: return own(times(fn(Op::Sigmoid, ir::neg(x)), m[0]));
      case Op::Lgamma: return own(times(abs_of(fn(Op::Digamma, x)), m[0]));
      case Op::Digamma: return own(times(fn(Op::Trigamma, x), m[0]));
      // |ψ''(x)| ≤ 2 ψ'(x) / x for x > 0 (both ~ 1/x² for large x, 2/x³ near 0)
      case Op::Trigamma: return own(times(over(ir::mul(y, 2.0), abs_of(x)), m[0]));
      case Op::Ndtri:  // 1/φ(y) = √(2π) e^{y²/2}
        return own(times(
            ir::mul(ir::exp(ir::mul(ir::square(y), 0.5)), std::sqrt(2 * std::numbers::pi)), m[0]));
      // (log Φ)' = φ/Φ = e^{−x²/2 − ½ log 2π − y}
      case Op::LogNdtr:
        return own(times(ir::exp(ir::sub(ir::mul(ir::square(x), -0.5), ir::add(y, 0.5 * std::log(2 * std::numbers::pi)))),
                         m[0]));
      case Op::Atan: return own(over(m[0], ir::add(ir::square(x), 1.0)));
      case Op::Step:
      case Op::Sign: return flag(x, m[0]);
      // binary
      case Op::Add:
      case Op::Sub: return own(plus(m[0], m[1]));
      case Op::Mul: return own(plus(times(abs_of(b), m[0]), times(abs_of(x), m[1])));
      case Op::Div: return own(plus(over(m[0], abs_of(b)), times(over(ay, abs_of(b)), m[1])));
      case Op::Pow:
        return own(times(ay, plus(over(times(abs_of(b), m[0]), abs_of(x)),
                                  times(abs_of(ir::log(abs_of(x))), m[1]))));
      case Op::Min:
      case Op::Max: return ir::binary(Op::Max, m[0], m[1]);
      case Op::LogAddExp:  // as log_sum_exp of two: max S + max |x| + |y| + 2
        return plus(plus(ir::binary(Op::Max, m[0], m[1]), ir::binary(Op::Max, abs_of(x), abs_of(b))),
                    ir::add(ay, 2.0));
      case Op::Greater:
      case Op::Equal: return flag(ir::sub(x, b), plus(m[0], m[1]));
      case Op::StudentTLogCdf: {  // |∂/∂t| = pdf / CDF = e^(log pdf − y); ∂/∂nu its own op
        const Node* half_nu1 = ir::mul(ir::add(b, 1.0), 0.5);
        const Node* log_pdf = ir::sub(
            ir::sub(fn(Op::Lgamma, half_nu1), fn(Op::Lgamma, ir::mul(b, 0.5))),
            ir::add(ir::mul(ir::log(ir::mul(b, std::numbers::pi)), 0.5),
                    ir::mul(half_nu1, fn(Op::Log1p, over(ir::square(x), b)))));
        return own(plus(times(ir::exp(ir::sub(log_pdf, y)), m[0]),
                        times(abs_of(ir::binary(Op::StudentTLogCdfDnu, x, b)), m[1])));
      }
      // Computed in f64 by the runtime from its operands; its sensitivity to them, taken as 4 |y|
      // per relative change of each (it is smooth and of the scale of y on their scales).
      case Op::StudentTLogCdfDnu:
        return own(times(ir::mul(ay, 4.0), plus(over(m[0], ir::add(abs_of(x), 1.0)), over(m[1], b))));
      // A discrete quantile: exact from exact operands (the interpreter and the code call the same
      // runtime function); any rounding in them may move it across a jump, so then unbounded.
      case Op::PoissonQuantile:
      case Op::StudentTQuantile:
      case Op::GammaQuantile:
      case Op::BetaQuantile:
      case Op::BinomialQuantile:
      case Op::NegBinomial2Quantile: {
        const Node* s = n.args().size() == 2 ? plus(m[0], m[1]) : plus(plus(m[0], m[1]), m[2]);
        const Node* inexact = ir::binary(Op::Greater, s, ir::constant_like(s, 0));
        return plus(ay, ir::select(inexact, ir::constant_like(y, kInf), ir::constant_like(y, 0)));
      }
      case Op::Select:  // a flipped condition is unbounded (its S is ∞: ∞·0 is NaN, also unbounded)
        return plus(plus(ir::select(x, m[1], m[2]), ir::mul(m[0], 0.0)), flag(x, m[0]));
      // reductions
      case Op::Sum: return plus(ir::sum(m[0], at.axis), ir::sum(abs_of(x), at.axis));
      case Op::Mean: {  // the sum's bound over the count, and the division's own rounding
        const Node* count = ir::sum(ir::constant_like(x, 1), at.axis);
        return own(over(plus(ir::sum(m[0], at.axis), ir::sum(abs_of(x), at.axis)), count));
      }
      case Op::ReduceMax:
      case Op::ReduceMin: return ir::reduce(Op::ReduceMax, m[0], at.axis);
      case Op::LogSumExp: {
        // Σ softmax_i S_i ≤ max S_i; the rounding of x_i − max, of the exps' sum (≤ n terms in
        // [0, 1]) and of its log: max|x| + |y| + n.
        const Node* count = ir::sum(ir::constant_like(x, 1), at.axis);
        return plus(plus(ir::reduce(Op::ReduceMax, m[0], at.axis),
                         ir::reduce(Op::ReduceMax, abs_of(x), at.axis)),
                    plus(ay, count));
      }
      // products: Σ_k (|b| S(a) + |a| S(b) + |a||b|)
      case Op::MatMul: {
        auto mm = [&](const Node* p, const Node* q) {
          return ir::matmul(p, q, at.transpose_a, at.transpose_b);
        };
        return plus(plus(mm(m[0], abs_of(b)), mm(abs_of(x), m[1])), mm(abs_of(x), abs_of(b)));
      }
      case Op::Outer: return own(plus(ir::outer(m[0], abs_of(b)), ir::outer(abs_of(x), m[1])));
      case Op::TriSolve: {
        // y = op(L)⁻¹ b: δy = op(L)⁻¹ (δb − op(δL) y), and forward substitution's own rounding
        // is bounded by |op(L)⁻¹| |op(L)| |y| (Higham, Accuracy and Stability, §8.1). With
        // |L⁻¹| ≤ M(L)⁻¹ for M(L) the comparison matrix (|l_ii| on the diagonal, −|l_ij| below),
        // S = op(M)⁻¹ (S(b) + op(|S(L)| + |L|) |y|), all lower triangles.
        const Node* l = ir::tril(abs_of(x));
        const Node* comparison = ir::sub(ir::mul(ir::diag_matrix(ir::diag(l)), 2.0), l);
        const Node* rhs =
            plus(m[1], ir::matmul(plus(ir::tril(m[0]), l), abs_of(y), at.transpose_a));
        return ir::tri_solve(comparison, rhs, at.transpose_a);
      }
      case Op::Cholesky: {
        // L L̃ᵀ = A + E with |E| ≤ (k + 1) |L||L|ᵀ (Higham §10.1), and δL = L Φ(L⁻¹ δA L⁻ᵀ)
        // to first order: with |L⁻¹| ≤ M(L)⁻¹ as for tri_solve, S = |L| tril(M⁻¹ F M⁻ᵀ) for
        // F = S(A) + S(A)ᵀ (A's lower triangle stands for both) + (k + 1) |L||L|ᵀ.
        const Node* l = ir::tril(abs_of(y));
        const Node* comparison = ir::sub(ir::mul(ir::diag_matrix(ir::diag(l)), 2.0), l);
        const double k = static_cast<double>(n.shape()[0].size);
        const Node* f = plus(plus(m[0], ir::transpose(m[0])), ir::mul(ir::matmul(l, l, false, true), k + 1));
        const Node* left = ir::tri_solve(comparison, f);
        const Node* both = ir::transpose(ir::tri_solve(comparison, ir::transpose(left)));
        return ir::matmul(l, ir::tril(both));
      }
      // structure: the same op on the bounds
      case Op::Broadcast: return ir::broadcast(m[0], n.shape(), at.axes);
      case Op::Transpose: return ir::transpose(m[0]);
      case Op::Reshape: return ir::reshape(m[0], n.shape());
      case Op::Slice: return ir::slice(m[0], at.axis, at.begin, at.end);
      case Op::Concat: return ir::concat(m[0], m[1], at.axis);
      case Op::Gather: return ir::gather(m[0], m[1]);
      case Op::Take: return ir::take(m[0], b, at.axis);  // the index is an exact int
      case Op::Loop:
      case Op::LoopGrad: break;  // no bound through a loop's iterations: test_jit_vs_interp.cpp checks loops
      case Op::ScatterAdd:
        return plus(ir::scatter_add(m[0], m[1], n.shape()),
                    ir::scatter_add(abs_of(x), m[1], n.shape()));
      case Op::Tril: return ir::tril(m[0]);
      case Op::Diag: return ir::diag(m[0]);
      case Op::DiagMatrix: return ir::diag_matrix(m[0]);
    }
    FAIL("no error-bound rule for ", ir::info(n.op()).spelling);
    return nullptr;
  }

 private:
  // ∞ where v is within flip·S of 0 but not exactly 0 (rounding may flip a jump there), else 0.
  const Node* flag(const Node* v, const Node* s) {
    const Node* av = abs_of(v);
    const Node* near = ir::binary(Op::Greater, ir::mul(s, flip_), av);
    const Node* off = ir::binary(Op::Greater, av, ir::constant_like(av, 0));
    return ir::select(times(near, off), ir::constant_like(v, kInf), ir::constant_like(v, 0));
  }
  double flip_;
};

// ---------------------------------------------------------------------------------------------
// Comparison

const codegen::Precision kPrecisions[] = {codegen::Precision::F64, codegen::Precision::F32};

double machine_eps(codegen::Precision p) {
  return p == codegen::Precision::F64 ? std::numeric_limits<double>::epsilon()
                                      : static_cast<double>(std::numeric_limits<float>::epsilon());
}

// `roots`, then the bound S of each root for f64, then for f32: the same rules, but rounding can
// flip a discontinuity only within 64·ε of it, so the thresholds of the two precisions differ.
std::vector<const Node*> with_bounds(const std::vector<const Node*>& roots) {
  std::vector<const Node*> all = roots;
  for (codegen::Precision p : kPrecisions) {
    std::vector<const Node*> b = MagnitudeBound(64 * machine_eps(p)).run(roots);
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

struct Tally {
  double worst[2] = {0, 0};  // max err/(ε·S), f64 then f32
  std::string worst_at[2];
  long checked[2] = {0, 0};
  long unbounded = 0;  // elements with S = ∞ or NaN (near a discontinuity): not checked
  long bad = 0;
  int compiles = 0, bindings = 0, elbo_bitwise = 0, elbo_checks = 0;
  double compile_ms = 0, oracle_ms = 0, run_ms = 0;  // where the test's time goes
  double slowest_ms = 0;
  std::string slowest;
  std::map<std::string, int> ops;  // how many compiled graphs use each op
};

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

int slot(codegen::Precision p) { return p == codegen::Precision::F64 ? 0 : 1; }

// The interpreter's values and bounds, on one set of bindings, of a model's outputs (the ELBO
// and the gradients) followed by its guide draws.
struct Oracle {
  ir::Bindings bindings;
  std::vector<ir::Tensor> value;
  std::vector<ir::Tensor> bound[2];  // S for f64, for f32

  // From ir::evaluate(with_bounds(roots)).
  Oracle(ir::Bindings b, const std::vector<ir::Tensor>& r) : bindings(std::move(b)) {
    auto n = static_cast<long>(r.size() / 3);
    value.assign(r.begin(), r.begin() + n);
    bound[0].assign(r.begin() + n, r.begin() + 2 * n);
    bound[1].assign(r.begin() + 2 * n, r.end());
  }
};

// One compiled model of one precision, checked against every oracle: elbo_grad's outputs, the
// guide's draws from sample_guide, and (when built) the elbo kernel against elbo_grad's first
// output.
void check_kernels(const jit::CompiledModel& jit, const Compiled& m,
                   const std::vector<Oracle>& oracles, const std::string& label, Tally& t) {
  codegen::Precision p = jit.precision();
  double eps = machine_eps(p);
  int s = slot(p);
  int reported = 0;
  const std::vector<ir::Output>& outs = m.l().function.outputs;
  const std::vector<ir::Output>& draws = m.l().guide_draws;
  // One element, within the bound (or unbounded, and counted).
  auto check = [&](double got, double want, double bound, const std::string& what) {
    double err = std::abs(got - want);
    if (!std::isfinite(bound)) {
      ++t.unbounded;
      return;
    }
    ++t.checked[s];
    // Plus underflow: a result far below the precision's smallest normal may come out as 0 or a
    // denormal (generated#1421 of the 2,000: f32 gradients of 1e-59 computed as 0).
    const double tiny = p == codegen::Precision::F32 ? std::numeric_limits<float>::min()
                                                     : std::numeric_limits<double>::min();
    double ratio = err == 0 ? 0 : err / (eps * bound + tiny);
    if (ratio > t.worst[s] || std::isnan(ratio)) {
      t.worst[s] = std::isnan(ratio) ? kInf : ratio;
      t.worst_at[s] = what;
    }
    if (!(ratio <= kC)) {
      ++t.bad;
      if (reported++ < 5) {
        FAIL_CHECK(label, " ", std::string(codegen::to_string(p)), ": ", what, ": jit ", got,
                   ", interpreter ", want, ", |error| ", err, " > ", kC, " eps S (S = ", bound,
                   ", ratio ", ratio, ")");
      }
    }
  };
  // The kernel's outputs against the oracle's values from `first` on.
  auto check_all = [&](const std::vector<ir::Tensor>& got, const Oracle& o, std::size_t first,
                       const std::vector<ir::Output>& named, const std::string& at) {
    REQUIRE(got.size() == named.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      REQUIRE_MESSAGE(got[k].shape == o.value[first + k].shape, at, " ", named[k].name);
      for (std::size_t i = 0; i < got[k].values.size(); ++i) {
        check(got[k].values[i], o.value[first + k].values[i], o.bound[s][first + k].values[i],
              at + " " + named[k].name + "[" + std::to_string(i) + "]");
      }
    }
  };
  for (std::size_t b = 0; b < oracles.size(); ++b) {
    const Oracle& o = oracles[b];
    std::string at =
        label + " " + codegen::to_string(p) + " bindings#" + std::to_string(b) + " (sizes";
    for (const auto& [name, size] : o.bindings.sizes) at += " " + name + "=" + std::to_string(size);
    at += ")";
    std::vector<ir::Tensor> got = jit.run("elbo_grad", o.bindings);
    check_all(got, o, 0, outs, at);
    if (!draws.empty())
      check_all(jit.run("sample_guide", o.bindings), o, outs.size(), draws, at + " sample_guide");
    if (jit.kernel("elbo")) {
      // The value-only kernel: the same ELBO as elbo_grad's first output.
      std::vector<ir::Tensor> elbo = jit.run("elbo", o.bindings);
      REQUIRE(elbo.size() == 1);
      ++t.elbo_checks;
      t.elbo_bitwise += elbo[0].values[0] == got[0].values[0];
      check(elbo[0].values[0], got[0].values[0], o.bound[s][0].values[0],
            at + " elbo kernel vs elbo_grad[0]");
    }
    ++t.bindings;
  }
}

struct Built {
  std::unique_ptr<jit::CompiledModel> model;
  std::string errors;
};

// Every kernel for f64; f32 skips "elbo" (a second schedule of the same code, checked in f64),
// which keeps the compile time of the suite down.
Built build(const Compiled& m, codegen::Precision p, const std::string& where) {
  std::vector<std::string> kernels = {"elbo_grad"};
  if (p == codegen::Precision::F64) kernels.push_back("elbo");
  if (!m.l().guide_draws.empty()) kernels.push_back("sample_guide");
  Diagnostics d;
  Built b;
  b.model = jit::CompiledModel::build(m.l(), p, d, where, kernels);
  for (const Diagnostic& x : d.all())
    b.errors += std::string(codegen::to_string(p)) + ": " + x.message + "\n";
  return b;
}

// Compiles `text` once per precision, then checks it on bindings of several sizes: the
// synthetic (rows N, batch M) pairs below, the later ones a partial batch and other data.
void check_model(const std::string& text, const sema::Options& so, Estimator::Ref e, int samples,
                 const std::string& label, std::uint64_t seed, Tally& t) {
  std::string full =
      label + " (" + std::string(e->name) + ", samples " + std::to_string(samples) + ")";
  Compiled m(text, so, lower_options(e, samples));
  REQUIRE_MESSAGE(m.ok(), full, " does not compile:\n", m.messages(), "\n", text);
  std::vector<const Node*> roots;
  for (const ir::Output& o : m.l().function.outputs) roots.push_back(o.node);
  for (const ir::Output& o : m.l().guide_draws) roots.push_back(o.node);
  std::set<std::string> ops;
  for (const Node* n : ir::topological_order(roots)) ops.insert(ir::info(n->op()).spelling);
  for (const std::string& op : ops) ++t.ops[op];
  std::vector<const Node*> all = with_bounds(roots);

  // (N, M): a batch, a partial batch of new data, the whole data, and one long enough that
  // loops over the batch run their vectorised bodies, not only their scalar remainders.
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{6, 4}, {5, 2}, {3, 3}, {40, 37}};
  std::vector<Oracle> oracles;
  auto start = Clock::now();
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    ir::Bindings b = m.synthetic(seed + 101 * k, sizes[k].first, sizes[k].second, 1.0);
    std::vector<ir::Tensor> r = ir::evaluate(all, b);
    oracles.emplace_back(std::move(b), r);
  }
  t.oracle_ms += ms_since(start);
  // The two precisions compile at once, one on another thread: compiling is nearly all of this
  // test's time, and independent LLVM contexts compile safely in parallel. Checks (doctest's
  // assertions are not thread-safe) happen here, after both are built.
  start = Clock::now();
  auto f32 =
      std::async(std::launch::async, [&] { return build(m, codegen::Precision::F32, full); });
  Built f64 = build(m, codegen::Precision::F64, full);
  Built built[] = {std::move(f64), f32.get()};
  double ms = ms_since(start);
  t.compile_ms += ms;
  if (ms > t.slowest_ms) {
    t.slowest_ms = ms;
    t.slowest = full;
  }
  for (Built& b : built) {
    REQUIRE_MESSAGE(b.model, full, " does not build:\n", b.errors);
    ++t.compiles;
    CAPTURE(text);
    start = Clock::now();
    check_kernels(*b.model, m, oracles, full, t);
    t.run_ms += ms_since(start);
  }
}

void report(const std::string& what, const Tally& t) {
  std::string ops;
  for (const auto& [op, n] : t.ops) ops += " " + op + ":" + std::to_string(n);
  MESSAGE(what, ": ", t.compiles, " compiles, ", t.bindings, " kernel runs, ", t.checked[0],
          " f64 and ", t.checked[1], " f32 elements checked, ", t.unbounded,
          " unbounded (near a discontinuity) skipped; f64 elbo kernel bitwise equal to "
          "elbo_grad[0] in ",
          t.elbo_bitwise, "/", t.elbo_checks, "\n  worst err/(eps S): f64 ", t.worst[0], " at ",
          t.worst_at[0], "\n  worst err/(eps S): f32 ", t.worst[1], " at ", t.worst_at[1],
          "\n  time: compile ", t.compile_ms, " ms, interpreter ", t.oracle_ms,
          " ms, runs and checks ", t.run_ms, " ms; slowest compile (both precisions) ",
          t.slowest_ms, " ms: ", t.slowest, "\n  ops (graphs using each):", ops);
}

// ---------------------------------------------------------------------------------------------
// A generator of random small well-typed models (.vmodel text), seeded. Each model has dims
// D, K in 1–5 (and G in 2–4 for group labels), a data matrix x[N, D] observed in a plate over N
// (subsampled or plain), and some of: a data vector y[N], a global data vector c[D], int group
// labels g[N] for gathers a[g[i]] (of a param or of a latent table), binary, count and
// categorical int data, a nested plain plate over D, `target +=` terms; global latents (real
// and positive, scalars and vectors) and a local latent per datapoint (a real vector or a
// positive scalar) with guides of the latent's support (normal, laplace, logistic, cauchy,
// mvnormal_cholesky; lognormal, exponential, half_normal, weibull) and priors with and without a
// closed-form KL (some with param-dependent arguments, e.g. gamma(softplus(p) + 0.5, ...)).
// Params are made on demand by the expressions that need them. Expressions are random trees
// over what is in scope: W * v and W' * v with shared matrices, outer products u * v' times a
// vector, + - .* on vectors, scalar · vector, dot, u' * v, sum, mean, max, min, log_sum_exp,
// constant indices and slices, column slices W[:, k], tanh, sigmoid, softplus, relu, square,
// log1p, expm1, sqrt, lgamma, digamma, ^, and exp of bounded values. Every value stays far
// inside f32's range (scales grow at most linearly, exp only of bounded arguments), so f32
// and f64 are compared on the same model.

class ModelGen {
 public:
  explicit ModelGen(std::uint64_t seed) : seed_(seed) {}

  struct Model {
    std::string text;
    bool iwae_ok = false;
    std::vector<std::string> features;
  };

  // Model `index` of the family: a function of (seed, index, iwae) alone, so one can be
  // regenerated. With `iwae`, the model suits the iwae estimator: every latent local to the
  // subsampled plate, or every latent global with a plain plate.
  Model make(int index, bool iwae = false) {
    *this = ModelGen(seed_);
    rng_.seed(seed_ * 1000003 + static_cast<std::uint64_t>(index));
    Model out;
    dims_ = {{"D", 1 + pick(5)}, {"K", 1 + pick(5)}, {"G", 2 + pick(3)}};
    bool subsample = coin(0.75);
    int local = subsample ? pick(3) : 0;  // 0: none, 1: z : real[N, K], 2: v : real<lower=0>[N]
    bool w = coin(0.5), s = coin(0.3), tau = coin(0.4), r = coin(0.25);
    if (!local && !w && !s && !tau && !r) w = true;
    bool has_y = coin(0.6), has_c = coin(0.3), nested = coin(0.3), binary = coin(0.25),
         counts = coin(0.2), categorical = dims_["K"] >= 2 && coin(0.25), target = coin(0.3);
    gather_ = coin(0.4) ? 1 + pick(2) : 0;  // 1: a scalar table ga[G], 2: a row table gm[G, D]
    bool gather_latent = gather_ && coin(0.4);
    if (iwae && coin(0.6)) {  // all local
      subsample = true;
      local = 1 + pick(2);
      w = s = tau = r = gather_latent = false;
    } else if (iwae) {  // all global
      subsample = false;
      local = 0;
      if (!w && !s && !tau && !r) tau = true;
    }
    out.iwae_ok = (local && !w && !s && !tau && !r && !gather_latent) || (!local && !subsample);
    auto feature = [&](bool on, const std::string& name) {
      if (on) out.features.push_back(name);
    };
    feature(subsample, "subsampled plate");
    feature(!subsample, "plain plate");
    feature(local == 1, "local real vector latent");
    feature(local == 2, "local positive latent");
    feature(w || s, "global real latent");
    feature(tau || r, "global positive latent");
    feature(gather_ != 0, gather_latent ? "gather (latent table)" : "gather (param table)");
    feature(nested, "nested plate");
    feature(has_c, "global data");
    feature(binary, "bernoulli_logit data");
    feature(counts, "poisson_log data");
    feature(categorical, "categorical_logit data");
    feature(target, "target +=");

    std::vector<std::string> latents;  // declarations
    std::string model_globals, guide_globals;
    std::string table = gather_ == 1 ? "ga" : "gm";
    std::string table_shape = gather_ == 1 ? "G" : "G, D";
    if (gather_ && !gather_latent) param_decls_.push_back(table + " : real[" + table_shape + "];");

    // Global latents: prior in the model, family in the guide (their order in the guide is
    // random, and each guide may read the ones drawn before it).
    struct Global {
      std::string name, dim;  // dim "" for a scalar
      bool positive;
    };
    std::vector<Global> globals;
    if (w) globals.push_back({"w", "K", false});
    if (s) globals.push_back({"s", "", false});
    if (tau) globals.push_back({"tau", "", true});
    if (r) globals.push_back({"r", "K", true});
    std::shuffle(globals.begin(), globals.end(), rng_);
    for (const Global& gl : globals) {
      std::string shape = gl.dim.empty() ? "" : "[" + gl.dim + "]";
      latents.push_back(gl.name + " : real" + (gl.positive ? "<lower=0>" : "") + shape + ";");
      model_globals +=
          "  " + gl.name + " ~ " + (gl.positive ? positive_prior() : real_prior(gl.dim)) + ";\n";
      std::string family =
          gl.positive ? positive_family(gl.dim, 1) : real_family(gl.dim, maybe_mean(gl.dim), 1);
      out.features.push_back("guide " + family.substr(0, family.find('(')));
      guide_globals += "  " + gl.name + " ~ " + family + ";\n";
      pool_.push_back({gl.name, gl.dim});
    }
    if (gather_latent) {
      latents.push_back(table + " : real[" + table_shape + "];");
      model_globals += "  " + table + " ~ normal(0, 1);\n";
      guide_globals += "  " + table + " ~ normal(" + fresh(table_shape) + ", exp(" +
                       fresh(table_shape) + "));\n";
    }
    if (has_c) pool_.push_back({"c", "D"});
    global_pool_ = pool_;

    // The plate over N.
    std::string plate = std::string("  plate i in N") + (subsample ? " subsample" : "") + " {\n";
    in_plate_ = true;
    pool_.push_back({"x[i]", "D"});
    if (has_y) pool_.push_back({"y[i]", ""});
    std::string model_body, guide_body;
    if (local == 1) {
      latents.push_back("z : real[N, K];");
      std::string prior = coin(0.3)   ? "normal(0, 1)"
                          : coin(0.3) ? "laplace(0, 1)"
                                      : "normal(" + vec("K", 1) + ", 1)";
      model_body += "    z[i] ~ " + prior + ";\n";
      std::string family = real_family("K", vec("K", 2), 1);
      out.features.push_back("local guide " + family.substr(0, family.find('(')));
      guide_body += "    z[i] ~ " + family + ";\n";
      pool_.push_back({"z[i]", "K"});
    } else if (local == 2) {
      latents.push_back("v : real<lower=0>[N];");
      const char* priors[] = {"exponential(1)", "lognormal(0, 1)", "gamma(2, 1)"};
      model_body += "    v[i] ~ " + std::string(priors[pick(3)]) + ";\n";
      std::string family = positive_family("", 2);
      out.features.push_back("local guide " + family.substr(0, family.find('(')));
      guide_body += "    v[i] ~ " + family + ";\n";
      pool_.push_back({"v[i]", ""});
    }
    if (coin(0.4)) {
      std::string d = any_dim();
      model_body += "    let h = " + vec(d, 1) + ";\n";
      pool_.push_back({"h", d});
    }
    // The likelihood: x[i] always, reading the local latent, the gather table and c.
    std::string mean = vec("D", 2);
    if (local == 1) mean = "(" + fresh("D, K") + " * z[i]) + (" + mean + ")";
    if (local == 2) mean = "(v[i]) * (" + mean + ")";
    if (gather_ == 2) mean = "(" + mean + ") + gm[g[i]]";
    if (has_c) mean = "(" + mean + (coin(0.5) ? ") + c" : ") .* c");
    std::string scale = positive(coin(0.5) ? "D" : "", 1);
    switch (pick(8)) {
      case 0: model_body += "    x[i] ~ laplace(" + mean + ", " + scale + ");\n"; break;
      case 1: model_body += "    x[i] ~ logistic(" + mean + ", " + scale + ");\n"; break;
      case 2: model_body += "    x[i] ~ student_t(4, " + mean + ", " + scale + ");\n"; break;
      default: model_body += "    x[i] ~ normal(" + mean + ", " + scale + ");\n"; break;
    }
    if (has_y) {
      std::string m = scal(2);
      if (gather_ == 1) m = "(" + m + ") + ga[g[i]]";
      model_body += "    y[i] ~ " + std::string(coin(0.8) ? "normal(" : "cauchy(") + m + ", " +
                    positive("", 1) + ");\n";
    } else if (gather_ == 1) {
      model_body += "    x[i] ~ normal(ga[g[i]] * (" + vec("D", 1) + "), 1);\n";
    }
    if (binary) model_body += "    k[i] ~ bernoulli_logit(" + scal(2) + ");\n";
    if (counts) model_body += "    n[i] ~ poisson_log(tanh(" + scal(2) + "));\n";
    if (categorical) model_body += "    q[i] ~ categorical_logit(" + vec("K", 2) + ");\n";
    if (target) {
      switch (pick(4)) {
        case 0: model_body += "    target += -0.1 * max(" + vec(any_dim(), 1) + ");\n"; break;
        case 1:
          model_body += "    target += 0.1 * log_sum_exp(" + vec(any_dim(), 1) + ");\n";
          break;
        case 2: model_body += "    target += 0.1 * min(" + scal(1) + ", " + scal(1) + ");\n"; break;
        default:
          model_body += "    target += -0.05 * square(max(" + scal(1) + ", " + scal(1) + "));\n";
          break;
      }
    }
    if (nested) {
      std::string a = fresh("D"), b = fresh("D"), l = fresh("D");
      model_body += "    plate j in D {\n      x[i, j] ~ normal(" + a + "[j] * (" + scal(2) +
                    ") + " + b + "[j], exp(" + l + "[j]));\n    }\n";
    }
    in_plate_ = false;

    std::ostringstream t;
    t << "// generated model " << index << "\nmodel gen" << index << ";\n";
    t << "dims { N; D = " << dims_["D"] << "; K = " << dims_["K"] << "; G = " << dims_["G"]
      << "; }\n";
    t << "data {\n  x : real[N, D];\n";
    if (has_y) t << "  y : real[N];\n";
    if (has_c) t << "  c : real[D];\n";
    if (gather_) t << "  g : int<lower=0, upper=" << dims_["G"] - 1 << ">[N];\n";
    if (binary) t << "  k : int<lower=0, upper=1>[N];\n";
    if (counts) t << "  n : int<lower=0>[N];\n";
    if (categorical) t << "  q : int<lower=0, upper=" << dims_["K"] - 1 << ">[N];\n";
    t << "}\n";
    t << "param {\n";
    for (const std::string& p : param_decls_) t << "  " << p << "\n";
    t << "}\n";
    t << "latent {\n";
    for (const std::string& l : latents) t << "  " << l << "\n";
    t << "}\n";
    t << "model {\n" << model_globals << plate << model_body << "  }\n}\n";
    t << "guide {\n" << guide_globals;
    if (local) t << "  plate i in N subsample {\n" << guide_body << "  }\n";
    t << "}\n";
    out.text = t.str();
    return out;
  }

 private:
  struct Val {
    std::string text, dim;  // dim: "" for a scalar, else the vector's dim
  };

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool coin(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::string any_dim() { return coin(0.5) ? "D" : "K"; }

  // A new param: `shape` is "", "D", "D, K", ...; `type` replaces "real" (a constraint).
  std::string fresh(const std::string& shape, const std::string& type = "real") {
    std::string name = "p" + std::to_string(params_++);
    param_decls_.push_back(name + " : " + type + (shape.empty() ? "" : "[" + shape + "]") + ";");
    return name;
  }

  std::string leaf(const std::string& d) {
    std::vector<const Val*> cands;
    for (const Val& v : pool_) {
      if (v.dim == d) cands.push_back(&v);
    }
    if (!cands.empty() && coin(0.7))
      return cands[static_cast<std::size_t>(pick(static_cast<int>(cands.size())))]->text;
    if (d.empty() && coin(0.3)) {
      const char* literals[] = {"0.5", "1.5", "-0.7", "2"};
      return literals[pick(4)];
    }
    return fresh(d);
  }

  std::string any(const std::string& d, int depth) {
    return d.empty() ? scal(depth) : vec(d, depth);
  }

  // A guide family's location: a fresh param, or an expression of what is in scope.
  std::string maybe_mean(const std::string& d) { return coin(0.6) ? fresh(d) : any(d, 1); }

  std::string real_prior(const std::string& d) {
    switch (pick(d.empty() ? 7 : 8)) {
      case 0: return "normal(0, 1.5)";
      case 1: return "laplace(0, 1)";
      case 2: return "logistic(0, 1)";
      case 3: return "cauchy(0, 2)";
      case 4: return "student_t(4, 0, 1)";
      case 5: return "normal(0.5, 2)";
      case 6: return "normal(0, exp(" + fresh("") + "))";
      default: return "mvnormal_cholesky(0.5, " + fresh(d + ", " + d, "real<cholesky>") + ")";
    }
  }

  std::string positive_prior() {
    switch (pick(7)) {
      case 0: return "lognormal(0, 1)";
      case 1: return "exponential(1)";
      case 2: return "gamma(2, 2)";
      case 3: return "half_normal(1)";
      case 4: return "exponential(0.5)";
      case 5: return "weibull(1.5, 2)";
      default: return "gamma(softplus(" + fresh("") + ") + 0.5, softplus(" + fresh("") + ") + 0.5)";
    }
  }

  std::string real_family(const std::string& d, const std::string& loc, int depth) {
    std::string scale = coin(0.5) ? "exp(" + fresh(d) + ")" : positive(d, depth);
    switch (pick(d.empty() ? 4 : 5)) {
      case 0: return "laplace(" + loc + ", " + scale + ")";
      case 1: return "logistic(" + loc + ", " + scale + ")";
      case 2: return "cauchy(" + loc + ", " + scale + ")";
      case 3: return "normal(" + loc + ", " + scale + ")";
      default:
        return "mvnormal_cholesky(" + loc + ", " + fresh(d + ", " + d, "real<cholesky>") + ")";
    }
  }

  std::string positive_family(const std::string& d, int depth) {
    switch (pick(4)) {
      case 0: return "lognormal(tanh(" + maybe_mean(d) + "), exp(" + fresh(d) + "))";
      case 1: return "exponential(" + positive(d, depth) + ")";
      case 2: return "weibull(" + positive(d, depth) + " + 0.5, " + positive(d, depth) + ")";
      default: return "half_normal(" + positive(d, depth) + ")";
    }
  }

  std::string vec(const std::string& d, int depth) {
    if (depth <= 0 || coin(0.2)) return leaf(d);
    std::string e = any_dim();
    switch (pick(16)) {
      case 0: return fresh(d + ", " + e) + " * (" + vec(e, depth - 1) + ")";
      case 1: return fresh(e + ", " + d) + "' * (" + vec(e, depth - 1) + ")";
      case 2: {
        const char* f[] = {"tanh", "sigmoid", "softplus", "relu", "expm1(tanh"};
        int k = pick(5);
        return std::string(f[k]) + "(" + vec(d, depth - 1) + (k == 4 ? "))" : ")");
      }
      case 3: return "0.5 * square(" + vec(d, depth - 1) + ")";
      case 4: return "(" + vec(d, depth - 1) + ") + (" + vec(d, depth - 1) + ")";
      case 5: return "(" + vec(d, depth - 1) + ") - (" + vec(d, depth - 1) + ")";
      case 6: return "(" + vec(d, depth - 1) + ") .* (" + vec(d, depth - 1) + ")";
      case 7: return "(" + scal(depth - 1) + ") * (" + vec(d, depth - 1) + ")";
      case 8: return "(" + vec(d, depth - 1) + ") + (" + scal(depth - 1) + ")";
      case 9: {  // an outer product times a vector; the matrix is shared by the datapoints
        // (vmc lowers no product of a per-datapoint matrix), so its factors read no plate value
        std::vector<Val> saved = pool_;
        bool plate = in_plate_;
        pool_ = global_pool_;
        in_plate_ = false;
        std::string u = vec(d, depth - 1), v = vec(e, depth - 1);
        pool_ = saved;
        in_plate_ = plate;
        return "((" + u + ") * (" + v + ")') * (" + vec(e, depth - 1) + ")";
      }
      case 10:
        if (gather_ == 2 && in_plate_ && d == "D") return "gm[g[i]]";
        return "log1p(square(" + vec(d, depth - 1) + "))";
      case 11: return "(" + vec(d, depth - 1) + ") / (1 + square(" + scal(depth - 1) + "))";
      case 12: return "sqrt(" + positive(d, depth - 1) + ")";
      case 13: return "(" + positive(d, depth - 1) + ") ^ 1.5";
      case 14: {  // a column of a matrix param
        std::string m = fresh(d + ", " + e);
        return m + "[:, " + std::to_string(pick(dims_[e])) + "]";
      }
      default: return "(" + vec(d, depth - 1) + ") ./ (" + positive(d, depth - 1) + ")";
    }
  }

  std::string scal(int depth) {
    if (depth <= 0 || coin(0.2)) return leaf("");
    std::string e = any_dim();
    int n = dims_[e];
    switch (pick(17)) {
      case 0: return "dot(" + vec(e, depth - 1) + ", " + vec(e, depth - 1) + ")";
      case 1: return "(" + vec(e, depth - 1) + ")' * (" + vec(e, depth - 1) + ")";
      case 2: return "sum(" + vec(e, depth - 1) + ")";
      case 3: {
        const char* f[] = {"tanh", "sigmoid", "softplus"};
        return std::string(f[pick(3)]) + "(" + scal(depth - 1) + ")";
      }
      case 4: return "(" + scal(depth - 1) + ") + (" + scal(depth - 1) + ")";
      case 5: return "(" + scal(depth - 1) + ") * (" + scal(depth - 1) + ")";
      case 6: return "mean(" + vec(e, depth - 1) + ")";
      case 7:
        if (gather_ == 1 && in_plate_) return "ga[g[i]]";
        return "log1p(square(" + scal(depth - 1) + "))";
      case 8: return "(" + scal(depth - 1) + ") / (1 + square(" + scal(depth - 1) + "))";
      case 9: return "-(" + scal(depth - 1) + ")";
      case 10: return std::string(coin(0.5) ? "max(" : "min(") + vec(e, depth - 1) + ")";
      case 11: return "log_sum_exp(" + vec(e, depth - 1) + ")";
      case 12:
        return std::string(coin(0.5) ? "max(" : "min(") + scal(depth - 1) + ", " + scal(depth - 1) +
               ")";
      case 13: return "(" + vec(e, depth - 1) + ")[" + std::to_string(pick(n)) + "]";
      case 14: {  // a slice [a:b), 0 ≤ a < b ≤ n
        int a = pick(n), b = a + 1 + pick(n - a);
        return "sum((" + vec(e, depth - 1) + ")[" + std::to_string(a) + ":" + std::to_string(b) +
               "])";
      }
      case 15: return "lgamma(" + positive("", depth - 1) + ")";
      default: return "0.2 * digamma(" + positive("", depth - 1) + ")";
    }
  }

  // A positive value of shape d: a scale or a rate. Each grows at most linearly (and is at
  // least 0.1), so densities and draws stay well inside f32's range.
  std::string positive(const std::string& d, int depth) {
    std::string g = any(d, depth);
    switch (pick(7)) {
      case 0: return "exp(0.5 * tanh(" + g + "))";
      case 1: return "softplus(" + g + ") + 0.1";
      case 2: return "0.2 + square(tanh(" + g + "))";
      case 3: return "0.1 + sigmoid(" + g + ")";
      case 4: return "exp(" + fresh(d) + ")";
      case 5: return "0.3 + relu(" + g + ")";
      default: return "0.5 + log1p(square(" + g + "))";
    }
  }

  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::map<std::string, int> dims_;
  std::vector<std::string> param_decls_;
  int params_ = 0;
  std::vector<Val> pool_;
  std::vector<Val> global_pool_;  // what is in scope outside the plate
  bool in_plate_ = false;
  int gather_ = 0;
};

constexpr int kGenerated = 40;
constexpr std::uint64_t kGeneratorSeed = 20240611;

// How many generated models the differential test runs: kGenerated in the default suite;
// VMC_GEN_COUNT=N for more (ctest label `fuzz` runs 2,000: tests/CMakeLists.txt).
int generated_count() {
  if (const char* n = std::getenv("VMC_GEN_COUNT")) return std::max(1, std::atoi(n));
  return kGenerated;
}

}  // namespace

TEST_CASE("jit differential: every stdlib model, estimator and sample count, f64 and f32") {
  // (but stdlib/ar.vmodel: its loops have no error bound here; test_jit_vs_interp.cpp compares it)
  struct Case {
    const char* model;
    Dims dims;
  };
  const Case cases[] = {
      {"gaussian_vae", {{"D", 4}, {"H", 3}, {"J", 2}}},
      {"bernoulli_vae", {{"D", 4}, {"H", 3}, {"J", 2}}},
      {"logistic_regression", {{"D", 3}}},
      {"eight_schools", {{"J", 4}}},
      {"ppca", {{"D", 4}, {"K", 2}}},
  };
  Tally t;
  std::uint64_t seed = 1;
  for (const Case& c : cases) {
    for (const lower::Estimator& e : lower::estimators()) {  // every registered one
      for (int samples : {1, 2}) {
        check_model(stdlib_text(c.model), sema_options(c.dims), &e, samples, c.model, seed++, t);
      }
    }
  }
  report("stdlib", t);
  CHECK(t.bad == 0);
  CHECK(t.compiles == 2 * 5 * static_cast<int>(lower::estimators().size()) * 2);
  CHECK(t.unbounded * 100 <= t.checked[0]);  // the discontinuity guard stays rare
}

TEST_CASE("jit differential: random generated models, f64 and f32") {
  Tally t;
  ModelGen gen(kGeneratorSeed);
  std::map<std::string, int> coverage;
  const Estimator::Ref cycle[] = {Estimator::A, Estimator::B, Estimator::Stl, Estimator::Iwae};
  const int count = generated_count();
  int gradients_checked = 0, gradients_bad = 0;
  for (int k = 0; k < count; ++k) {
    Estimator::Ref e = cycle[k % 4];
    ModelGen::Model g = gen.make(k, e == Estimator::Iwae);
    if (e == Estimator::Iwae) REQUIRE(g.iwae_ok);
    int samples = (k / 4) % 3 == 0 ? 2 : 1;  // 2 samples in 16 of the 40, under each estimator
    for (const std::string& f : g.features) ++coverage[f];
    ++coverage[std::string("estimator ") + std::string(e->name)];
    const std::string label = "generated#" + std::to_string(k);
    check_model(g.text, {}, e, samples, label, 7000 + static_cast<std::uint64_t>(k), t);
    // And the symbolic gradient against central finite differences of the interpreter.
    Compiled m(g.text, {}, lower_options(e, samples));
    REQUIRE_MESSAGE(m.ok(), label, m.messages());
    GradCheckOptions go;
    go.max_elements = 20;
    GradCheckSummary s = check_gradients(m, m.synthetic(9000 + static_cast<std::uint64_t>(k), 6, 4, 1.0), label, go);
    gradients_checked += s.checked;
    gradients_bad += s.bad;
  }
  std::string cov;
  for (const auto& [f, n] : coverage) cov += "\n  " + f + ": " + std::to_string(n);
  MESSAGE("generated models' features (of ", count, "):", cov);
  MESSAGE(gradients_checked, " gradient elements against finite differences, ", gradients_bad, " bad");
  report("generated", t);
  CHECK(t.bad == 0);
  CHECK(gradients_bad == 0);
  CHECK(t.compiles == 2 * count);
  CHECK(t.unbounded * 100 <= t.checked[0]);
}

// The generator is deterministic (a model depends on its index alone), and every model it makes
// passes sema and lowering under every estimator that applies to it (iwae where iwae_ok). Set
// VMC_GEN_DUMP=DIR to write the models the differential test compiles to DIR/genK.vmodel, to
// read them or to reproduce a failure with the vmc CLI.
TEST_CASE("jit differential: the model generator is deterministic, and its models compile") {
  ModelGen a(kGeneratorSeed), b(kGeneratorSeed);
  std::string later = a.make(5).text;
  CHECK(a.make(0).text == b.make(0).text);
  CHECK(a.make(5).text == later);
  int lowered = 0;
  for (int k = 0; k < kGenerated; ++k) {
    for (bool iwae : {false, true}) {
      ModelGen::Model g = a.make(k, iwae);
      CAPTURE(g.text);
      if (iwae) CHECK(g.iwae_ok);
      if (const char* dir = std::getenv("VMC_GEN_DUMP"); dir && !iwae) {
        std::ofstream(std::string(dir) + "/gen" + std::to_string(k) + ".vmodel")
            << a.make(k, k % 4 == 3).text;
      }
      for (Estimator::Ref e : {Estimator::A, Estimator::B, Estimator::Stl, Estimator::Iwae}) {
        if (e == Estimator::Iwae && !g.iwae_ok) continue;
        Compiled m(g.text, {}, lower_options(e, 2));
        CHECK_MESSAGE(m.ok(), std::string(e->name), ":\n", m.messages());
        ++lowered;
      }
    }
  }
  MESSAGE(lowered, " generated (model, estimator) pairs lowered with gradients");
}

// Every elementwise op and reduction, compiled alone over input buffers, at ordinary points and
// at the special ones (±0, ±∞, NaN, poles, the edges of exp's range, the branch points of
// codegen's own tanh and log1p): the JIT agrees with the interpreter on the class of each value
// (NaN, ±∞, finite) and, where finite, within the bound above plus underflow (kC times the
// smallest normal). For f32 the interpreter sees the f32-rounded inputs and its result is
// rounded to f32, so a value outside f32's range is expected as ±∞ or 0.
TEST_CASE("jit differential: every elementwise op and reduction at special points, f64 and f32") {
  const double inf = kInf, nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> points = {
      -inf,  -1e300, -1e30,   -745, -710, -100,   -88,  -20,   -3,   -2,    -1,    -0.75, -0.5,
      -0.03, -1e-8,  -1e-300, -0.0, 0.0,  1e-300, 1e-8, 0.029, 0.03, 0.031, 0.25,  0.5,   1,
      1.5,   2,      3,       10,   20,   40,     88,   100,   710,  1e30,  1e300, inf,   nan};
  const std::vector<double> pair_points = {-inf, -100, -2, -1, -0.5, -0.0, 0.0, 1e-8,
                                           0.5,  1,    2,  3,  100,  inf,  nan};
  // Three copies at different offsets, so each point is met both in a vectorised loop body and
  // in a scalar remainder.
  std::vector<double> xs = points;
  xs.push_back(0.5);
  xs.insert(xs.end(), points.begin(), points.end());
  xs.insert(xs.end(), {0.5, 0.5});
  xs.insert(xs.end(), points.begin(), points.end());
  const auto n = static_cast<std::int64_t>(xs.size());
  const auto np = static_cast<std::int64_t>(pair_points.size() * pair_points.size());

  lower::Lowered l;
  ir::Graph& g = *l.function.graph;
  ir::Shape vec{ir::Extent::constant(n)}, pairs{ir::Extent::constant(np)};
  const Node* x = ir::input(g, "x", ir::InputKind::Data, vec);
  const Node* a = ir::input(g, "a", ir::InputKind::Data, pairs);
  const Node* b = ir::input(g, "b", ir::InputKind::Data, pairs);
  const Node* c = ir::input(g, "c", ir::InputKind::Data, pairs);
  for (int k = 0; k < ir::kOpCount; ++k) {
    auto op = static_cast<Op>(k);
    const ir::OpInfo& info = ir::info(op);
    if (info.category == ir::Category::Unary)
      l.function.outputs.push_back({info.spelling, ir::unary(op, x)});
    if (info.category == ir::Category::Binary)
      l.function.outputs.push_back({info.spelling, ir::binary(op, a, b)});
  }
  l.function.outputs.push_back({"select", ir::select(c, a, b)});
  // Reductions over rows of a [rows, 3] matrix holding specials and ordinary values, and over
  // the whole matrix (axis −1), and along the leading axis.
  const std::vector<std::vector<double>> rows = {
      {1, 2, 3},           {-inf, -inf, -inf}, {inf, 1, 2},      {-inf, 1, 2},
      {nan, 1, 2},         {1, nan, 2},        {inf, -inf, 0},   {1e300, 1e300, 1},
      {-1e300, 5, -1e300}, {700, 710, 720},    {-0.0, 0.0, -0.0}};
  ir::Shape matrix{ir::Extent::constant(static_cast<std::int64_t>(rows.size())),
                   ir::Extent::constant(3)};
  const Node* mtx = ir::input(g, "m", ir::InputKind::Data, matrix);
  for (Op op : {Op::Sum, Op::Mean, Op::ReduceMax, Op::ReduceMin, Op::LogSumExp}) {
    std::string name = ir::info(op).spelling;
    l.function.outputs.push_back({name + " axis 1", ir::reduce(op, mtx, 1)});
    l.function.outputs.push_back({name + " axis 0", ir::reduce(op, mtx, 0)});
  }
  const Node* finite_rows = ir::slice(mtx, 0, 0, 1);  // an all-axes reduction of finite values
  for (Op op : {Op::Sum, Op::Mean, Op::ReduceMax, Op::ReduceMin, Op::LogSumExp}) {
    l.function.outputs.push_back(
        {std::string(ir::info(op).spelling) + " all", ir::reduce(op, finite_rows, -1)});
  }
  std::vector<const Node*> roots;
  for (const ir::Output& o : l.function.outputs) roots.push_back(o.node);
  std::vector<const Node*> all = with_bounds(roots);

  ir::Bindings base;
  base.inputs["x"] = ir::Tensor{{n}, xs};
  std::vector<double> av, bv, cv;
  for (double p : pair_points) {
    for (double q : pair_points) {
      av.push_back(p);
      bv.push_back(q);
      cv.push_back(p);  // select's condition: p != 0 (NaN is true, as in the interpreter)
    }
  }
  base.inputs["a"] = ir::Tensor{{np}, av};
  base.inputs["b"] = ir::Tensor{{np}, bv};
  base.inputs["c"] = ir::Tensor{{np}, cv};
  std::vector<double> mv;
  for (const auto& r : rows) mv.insert(mv.end(), r.begin(), r.end());
  base.inputs["m"] = ir::Tensor{{static_cast<std::int64_t>(rows.size()), 3}, mv};

  Tally t;
  int mismatches = 0;
  for (codegen::Precision p : kPrecisions) {
    bool f32 = p == codegen::Precision::F32;
    double eps = machine_eps(p);
    double tiny = f32 ? static_cast<double>(std::numeric_limits<float>::min())
                      : std::numeric_limits<double>::min();
    auto round = [&](double v) { return f32 ? static_cast<double>(static_cast<float>(v)) : v; };
    ir::Bindings bind = base;
    for (auto& [name, tensor] : bind.inputs) {
      for (double& v : tensor.values) v = round(v);
    }
    std::vector<ir::Tensor> want = ir::evaluate(all, bind);
    Diagnostics d;
    auto jit = jit::CompiledModel::build(l, p, d, "ops", {"elbo_grad"});
    REQUIRE(jit);
    std::vector<ir::Tensor> got = jit->run("elbo_grad", bind);
    REQUIRE(got.size() == roots.size());
    for (std::size_t k = 0; k < roots.size(); ++k) {
      const ir::Output& o = l.function.outputs[k];
      for (std::size_t i = 0; i < got[k].values.size(); ++i) {
        double w = round(want[k].values[i]), s = want[roots.size() * (1 + slot(p)) + k].values[i];
        double jv = got[k].values[i];
        std::string operands;
        if (o.node->arg(0) == x)
          operands = std::to_string(bind.inputs["x"].values[i]);
        else if (o.node->arg(0) == mtx)
          operands = "row/column " + std::to_string(i);
        else
          operands = std::to_string(av[i]) + ", " + std::to_string(bv[i]);
        bool ok;
        if (std::isnan(w))
          ok = std::isnan(jv);
        else if (std::isinf(w))
          ok = jv == w;
        else {
          double scale = std::isfinite(s) ? s : std::abs(w);
          double err = std::abs(jv - w);
          ok = err <= kC * (eps * scale + tiny);
          if (ok) {
            double ratio = err / (eps * scale + tiny);
            if (ratio > t.worst[slot(p)]) {
              t.worst[slot(p)] = ratio;
              t.worst_at[slot(p)] = o.name + "(" + operands + ")";
            }
          }
          ++t.checked[slot(p)];
        }
        if (!ok && mismatches++ < 40) {
          FAIL_CHECK(std::string(codegen::to_string(p)), " ", o.name, "(", operands, "): jit ", jv,
                     ", interpreter ", w, " (bound S = ", s, ")");
        }
      }
    }
  }
  MESSAGE("special points: ", t.checked[0], " f64 and ", t.checked[1],
          " f32 finite values; worst err/(eps S + min normal): f64 ", t.worst[0], " at ",
          t.worst_at[0], ", f32 ", t.worst[1], " at ", t.worst_at[1]);
  CHECK(mismatches == 0);
}

// The structural ops on shapes the models above rarely make, all in one compiled function:
// reductions along the first, a middle and the last axis of a rank-3 tensor; reshapes and
// broadcasts of computed values over middle axes; products with every transpose, vector
// operands and an inner extent known only at run time (0 included); gathers and scatter-adds
// of rows; concatenations; diagonals, triangles and triangular solves of both kinds; iota;
// slices; and outputs that are an input, a constant, or the same node twice. Checked against
// the interpreter with the error bound, at M = 5, 1, 0 (an empty minibatch: sums are 0, maxima
// −∞, products over it 0) and 37 (long enough for vectorised loop bodies).
TEST_CASE("jit differential: shapes that broke or blew up the code generator (issues 21, 22)") {
  // A product whose vector folds to a constant (exit 70: "no buffer for const"); lets that each
  // use the previous three times, and fns that call the previous twice (the module tripled per
  // let, 2^n inlinings): 12 of each compile in well under a second now.
  std::string chained = "  let a1 = tanh(mu);\n";
  std::string fns = "fn f1(x) = tanh(x);\n";
  for (int i = 1; i < 12; ++i) {
    chained += "  let a" + std::to_string(i + 1) + " = tanh(a" + std::to_string(i) + " * a" + std::to_string(i) +
               " + a" + std::to_string(i) + ");\n";
    fns += "fn f" + std::to_string(i + 1) + "(x) = tanh(f" + std::to_string(i) + "(x) * f" + std::to_string(i) +
           "(x) + x);\n";
  }
  const std::string head = "dims { N; K; }\ndata { X : real[N, K]; y : real[N]; }\nlatent { mu : real; b : real[K]; }\n"
                           "param { m : real; s : real init -1; bm : real[K]; }\n";
  const std::string guide = "guide {\n  mu ~ normal(m, exp(s));\n  b ~ normal(bm, 1);\n}\n";
  const std::pair<const char*, std::string> models[] = {
      {"constant vector in a product",
       "model p;\n" + head + "model {\n  mu ~ normal(0, 1);\n  b ~ normal(0, 1);\n  let v = X' * (0 * y + 1);\n"
       "  target += sum(v .* b) * mu;\n}\n" + guide},
      {"chained lets", "model c;\n" + head + "model {\n  mu ~ normal(0, 1);\n  b ~ normal(0, 1);\n" + chained +
                           "  y ~ normal(a12 + X * b, 1);\n}\n" + guide},
      {"nested fns", "model f;\n" + head + fns + "model {\n  mu ~ normal(0, 1);\n  b ~ normal(0, 1);\n"
                     "  y ~ normal(f12(mu) + X * b, 1);\n}\n" + guide},
  };
  Tally t;
  std::uint64_t seed = 7;
  for (const auto& [label, text] : models) {
    for (const lower::Estimator& e : lower::estimators()) check_model(text, sema_options({{"K", 3}}), &e, 1, label, seed++, t);
  }
  report("codegen regressions", t);
  CHECK(t.bad == 0);
}

extern const char* const kLanguageModel;  // test_lower_language.cpp
extern const char* const kBoundsModel;

TEST_CASE("jit differential: '~' on expressions of data, density functions, vars, expression bounds (issue 23)") {
  Tally t;
  std::uint64_t seed = 23;
  for (const lower::Estimator& e : lower::estimators()) {
    check_model(kLanguageModel, sema_options({{"T", 9}}), &e, 1, "language", seed++, t);
    check_model(kBoundsModel, sema_options({}, "meanfield"), &e, 1, "expression bounds", seed++, t);
  }
  report("language of issue 23", t);
  CHECK(t.bad == 0);
}

// A latent Gaussian process (posteriordb's gp_pois_regr): a kernel of data points and latents,
// its Cholesky factor, a regression through it (gp_pois_regr's counts would overflow f32 at the
// test's random bindings).
constexpr const char* kGaussianProcessModel = R"(model gp;
dims { N; }
data { x : real[N]; y : real[N]; }
latent { rho : real<lower=0>; alpha : real<lower=0>; eta : real[N]; }
model {
  let L = cholesky_decompose(gp_exp_quad_cov(x, alpha, rho) + diag_matrix(rep_vector(0.1, N)));
  rho ~ gamma(5, 4);
  alpha ~ normal(0, 2);
  eta ~ normal(0, 1);
  y ~ normal(L * eta + dot_self(eta) / N, 1);
}
)";

// Issue 25's other vector families and types: ordered_logistic on ordered cutpoints, a simplex
// under a Dirichlet, multi_normal, student_t's log CDF.
constexpr const char* kVectorFamiliesModel = R"(model vector_families;
dims { N; K = 3; }
data { y : int<lower=0, upper=2>[N]; x : real[N]; }
latent { c : ordered[K - 1]; theta : simplex[K]; beta : real[2]; s : real<lower=0>; }
model {
  c ~ normal(0, 3);
  theta ~ dirichlet(1.5);
  beta ~ multi_normal(rep_vector(0, 2), diag_matrix(rep_vector(2.0, 2)) + 0.5);
  target += student_t_lpdf(s | 3, 0, 2) - student_t_lccdf(0 | 3, 0, 2) + student_t_lcdf(s | 4, 1, 2);
  plate i in N { y[i] ~ ordered_logistic(beta[0] * x[i] + log(theta[1]), c); }
}
)";

TEST_CASE("jit differential: a Gaussian process through cholesky_decompose (issue 25)") {
  Tally t;
  std::uint64_t seed = 25;
  for (const lower::Estimator& e : lower::estimators()) {
    check_model(kGaussianProcessModel, sema_options({{"N", 6}}, "fullrank"), &e, 1, "gaussian process", seed++, t);
    check_model(kVectorFamiliesModel, sema_options({}, "meanfield"), &e, 1, "vector families", seed++, t);
  }
  report("gaussian process", t);
  CHECK(t.bad == 0);
}

TEST_CASE(
    "jit differential: structural ops on every axis, with run-time extents (M = 5, 1, 0, 37)") {
  lower::Lowered l;
  ir::Graph& g = *l.function.graph;
  auto c = [](std::int64_t k) { return ir::Extent::constant(k); };
  ir::Extent M = ir::Extent::runtime(g.symbol("M"));
  const Node* A = ir::input(g, "A", ir::InputKind::Data, {M, c(3)});
  const Node* B = ir::input(g, "B", ir::InputKind::Param, {c(3), c(4)});
  const Node* v = ir::input(g, "v", ir::InputKind::Param, {c(3)});
  const Node* w = ir::input(g, "w", ir::InputKind::Param, {c(4)});
  const Node* T = ir::input(g, "T", ir::InputKind::Param, {c(2), c(3), c(4)});
  const Node* L = ir::input(g, "L", ir::InputKind::Param, {c(3), c(3)});
  const Node* idx = ir::input(g, "idx", ir::InputKind::Data, {M}, ir::DType::Int);
  auto out = [&](const std::string& name, const Node* n) {
    l.function.outputs.push_back({name, n});
  };

  const Node* eT = ir::unary(Op::Tanh, T);  // computed, so its reductions fuse it
  for (int axis : {0, 1, 2, -1}) {
    for (Op op : {Op::Sum, Op::Mean, Op::ReduceMax, Op::ReduceMin, Op::LogSumExp}) {
      out(std::string(ir::info(op).spelling) + " axis " + std::to_string(axis),
          ir::reduce(op, eT, axis));
    }
  }
  for (int axis : {0, 1}) {  // over the minibatch axis and along the rows
    for (Op op : {Op::Sum, Op::Mean, Op::ReduceMax, Op::ReduceMin, Op::LogSumExp}) {
      out(std::string(ir::info(op).spelling) + " of A axis " + std::to_string(axis),
          ir::reduce(op, ir::exp(A), axis));
    }
  }
  out("sum of A", ir::sum(ir::square(A)));
  out("reshape of a computed value", ir::mul(ir::reshape(ir::exp(T), {c(6), c(4)}), 0.5));
  out("reshape of a runtime-shaped value",
      ir::sum(ir::reshape(ir::unary(Op::Sigmoid, A), {M, c(3), c(1)}), 1));
  out("broadcast over a middle axis",
      ir::mul(ir::broadcast(ir::exp(v), {c(2), c(3), c(4)}, 0b101), T));
  out("broadcast over the minibatch", ir::add(A, ir::broadcast(ir::unary(Op::Tanh, v), {M, c(3)})));
  out("broadcast of a scalar sum", ir::mul(ir::broadcast(ir::sum(A), {c(3), c(4)}), B));
  out("A B", ir::matmul(A, B));
  out("(A B)'", ir::transpose(ir::matmul(A, B)));
  out("B' A'", ir::matmul(B, A, true, true));
  out("A' A (inner extent M)", ir::matmul(A, A, true, false));
  out("A B w", ir::matmul(ir::matmul(A, B), w));
  out("v' B", ir::matmul(v, B));
  out("B w", ir::matmul(B, w));
  out("A v", ir::matmul(A, v));
  out("v' v", ir::matmul(v, v));
  out("exp(A)' exp(A)", ir::matmul(ir::exp(A), ir::exp(A), true, false));
  out("outer", ir::outer(ir::exp(v), w));
  out("outer of a minibatch sum", ir::outer(ir::sum(A, 0), v));
  const Node* table = ir::unary(Op::Tanh, B);
  const Node* rows = ir::gather(table, idx);
  out("gather", rows);
  out("gather of an input", ir::gather(B, idx));
  out("gather, fused", ir::exp(ir::gather(ir::transpose(ir::matmul(B, B, true, false)), idx)));
  out("scatter_add", ir::scatter_add(ir::mul(rows, rows), idx, {c(3), c(4)}));
  out("scatter_add of a product", ir::scatter_add(ir::matmul(A, B), idx, {c(3), c(4)}));
  out("concat axis 1", ir::concat(A, ir::exp(A), 1));
  out("concat axis 0", ir::concat(ir::reshape(w, {c(1), c(4)}), B, 0));
  const Node* lower = ir::add(ir::tril(L), ir::diag_matrix(ir::add(ir::square(v), 2.0)));
  out("tril", ir::tril(ir::exp(L)));
  out("diag", ir::diag(ir::exp(L)));
  out("diag_matrix", ir::diag_matrix(ir::exp(v)));
  out("tri_solve vector", ir::tri_solve(lower, v));
  out("tri_solve' vector", ir::tri_solve(lower, v, true));
  out("tri_solve matrix", ir::tri_solve(lower, B));
  out("tri_solve' of a computed matrix",
      ir::tri_solve(lower, ir::transpose(ir::matmul(A, lower)), true));
  const Node* spd = ir::add(ir::matmul(L, L, false, true), ir::diag_matrix(ir::add(ir::square(v), 1.0)));
  out("cholesky", ir::cholesky(spd));
  out("cholesky then a solve", ir::tri_solve(ir::cholesky(spd), v));
  ir::Attrs iota;
  iota.axis = 1;
  out("iota axis 1", ir::add(g.make(Op::Iota, {}, iota, {M, c(3)}), A));
  iota.axis = 0;
  out("iota axis 0", ir::mul(g.make(Op::Iota, {}, iota, {c(3), c(4)}), B));
  out("slice", ir::slice(ir::exp(T), 2, 1, 3));
  out("slice of a minibatch", ir::sum(ir::slice(A, 1, 1, 3), 1));
  out("select", ir::select(ir::binary(Op::Greater, A, ir::constant_like(A, 0)), A, ir::exp(A)));
  out("an input", A);
  out("a constant", ir::constant(g, 2.5, {c(2), c(2)}));
  out("the same node again", ir::matmul(A, B));
  out("an input again", B);

  std::vector<const Node*> roots;
  for (const ir::Output& o : l.function.outputs) roots.push_back(o.node);
  std::vector<const Node*> all = with_bounds(roots);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  auto fill = [&](std::vector<std::int64_t> shape) {
    ir::Tensor t{std::move(shape), {}};
    t.values.resize(static_cast<std::size_t>(t.size()));
    for (double& x : t.values) x = u(rng);
    return t;
  };
  std::vector<Oracle> oracles;
  for (std::int64_t m : {5, 1, 0, 37}) {
    ir::Bindings b;
    b.sizes["M"] = m;
    b.inputs["A"] = fill({m, 3});
    b.inputs["B"] = fill({3, 4});
    b.inputs["v"] = fill({3});
    b.inputs["w"] = fill({4});
    b.inputs["T"] = fill({2, 3, 4});
    b.inputs["L"] = fill({3, 3});
    ir::Tensor labels{{m}, {}};
    for (std::int64_t i = 0; i < m; ++i)
      labels.values.push_back(static_cast<double>((i * 2 + 1) % 3));
    b.inputs["idx"] = labels;
    std::vector<ir::Tensor> r = ir::evaluate(all, b);
    oracles.emplace_back(std::move(b), r);
  }
  Tally t;
  for (codegen::Precision p : kPrecisions) {
    Diagnostics d;
    auto jit = jit::CompiledModel::build(l, p, d, "structure", {"elbo_grad"});
    REQUIRE(jit);
    double eps = machine_eps(p);
    int reported = 0;
    for (const Oracle& o : oracles) {
      std::vector<ir::Tensor> got = jit->run("elbo_grad", o.bindings);
      REQUIRE(got.size() == roots.size());
      for (std::size_t k = 0; k < roots.size(); ++k) {
        const std::string& name = l.function.outputs[k].name;
        REQUIRE_MESSAGE(got[k].shape == o.value[k].shape, name);
        for (std::size_t i = 0; i < got[k].values.size(); ++i) {
          double want = o.value[k].values[i], jv = got[k].values[i],
                 s = o.bound[slot(p)][k].values[i];
          bool ok;
          if (!std::isfinite(want)) {
            ok = std::isnan(want) ? std::isnan(jv) : jv == want;  // −∞: the max of nothing
          } else {
            double ratio = std::abs(jv - want) == 0 ? 0 : std::abs(jv - want) / (eps * s);
            ok = ratio <= kC;
            ++t.checked[slot(p)];
            if (ok && ratio > t.worst[slot(p)]) {
              t.worst[slot(p)] = ratio;
              t.worst_at[slot(p)] = name;
            }
          }
          if (!ok && reported++ < 20) {
            FAIL_CHECK(std::string(codegen::to_string(p)), " M=", o.bindings.sizes.at("M"), " ",
                       name, "[", i, "]: jit ", jv, ", interpreter ", want, " (S = ", s, ")");
          }
        }
      }
    }
  }
  MESSAGE("structural ops: ", t.checked[0], " f64 and ", t.checked[1],
          " f32 values; worst err/(eps S): f64 ", t.worst[0], " at ", t.worst_at[0], ", f32 ",
          t.worst[1], " at ", t.worst_at[1]);
}

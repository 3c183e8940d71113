// THE gradient check: every op's adjoint rule (compiler/diff/adjoints.cpp), and diff::gradient on
// composites, against central finite differences of the reference interpreter.
//
// For each op in ir/ops.def (enumerated with the X-macro, so a new op without a case here fails
// the "every op" test), a small random graph objective = sum(w .* op(args)) is built with fixed
// random weights w (so every output element matters), random shapes (with the run-time extent
// "M" where the op allows one) and random points kept away from kinks and inside domains. The
// symbolic gradient, before and after diff::simplify, must agree with finite differences:
//   |sym − fd| ≤ 1e-8 + 1e-6·|fd|.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "diff/gradient.hpp"
#include "diff/simplify.hpp"
#include "ir/builder.hpp"
#include "ir/function.hpp"
#include "ir/interpreter.hpp"
#include "ir/loop.hpp"
#include "ir/node.hpp"
#include "support/check.hpp"

namespace {

using namespace vmc::ir;
using vmc::InternalError;

// The random graph under test: its inputs, what they are bound to, and which are differentiated.
class Harness {
 public:
  explicit Harness(std::uint64_t seed) : rng_(seed) {
    M_ = Extent::runtime(g.symbol("M"));
    m_ = uniform_int(1, 3);
    b.sizes["M"] = m_;
  }

  Graph g;
  Bindings b;
  std::vector<const Node*> wrt;  // differentiated inputs
  std::vector<bool> by_fd;       // checked against finite differences (else: gradient is zero)

  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }
  bool coin(double p = 0.5) { return uniform(0, 1) < p; }
  double sign() { return coin() ? 1.0 : -1.0; }

  Extent M() const { return M_; }
  // A small extent: the run-time M (1 to 3 at evaluation) or a constant 1 to 3.
  Extent extent(bool runtime_ok = true) {
    if (runtime_ok && coin(0.3)) return M_;
    return Extent::constant(uniform_int(1, 3));
  }
  Shape shape(std::int64_t rank, bool runtime_ok = true) {
    Shape s;
    for (std::int64_t i = 0; i < rank; ++i) s.push_back(extent(runtime_ok));
    return s;
  }
  std::int64_t size(const Extent& e) const { return e.is_constant() ? e.size : m_; }
  std::vector<std::int64_t> dims(const Shape& s) const {
    std::vector<std::int64_t> d;
    for (const Extent& e : s) d.push_back(size(e));
    return d;
  }
  std::size_t count(const Shape& s) const {
    std::int64_t n = 1;
    for (const Extent& e : s) n *= size(e);
    return static_cast<std::size_t>(n);
  }

  // A differentiated input bound to `values`.
  const Node* param(const Shape& s, std::vector<double> values, bool fd = true) {
    const Node* x = bind(s, std::move(values), InputKind::Param, DType::Real);
    wrt.push_back(x);
    by_fd.push_back(fd);
    return x;
  }
  // Uniform in [lo, hi].
  const Node* param(const Shape& s, double lo, double hi) { return param(s, uniforms(s, lo, hi)); }
  // |x| uniform in [lo, hi] with a random sign: away from a kink at 0.
  const Node* away(const Shape& s, double lo, double hi) {
    std::vector<double> v = uniforms(s, lo, hi);
    for (double& x : v) x *= sign();
    return param(s, v);
  }
  // Pairwise at least 0.25 apart (no ties for reduce_max), shifted by `offset`.
  const Node* distinct(const Shape& s, double offset = 0) {
    std::vector<double> v(count(s));
    std::iota(v.begin(), v.end(), 0.0);
    std::shuffle(v.begin(), v.end(), rng_);
    for (double& x : v) x = offset + 0.35 * x - 1 + uniform(0, 0.1);
    return param(s, v);
  }
  // Differentiated, but expected to get an identically zero gradient (not checked by FD).
  const Node* frozen(const Shape& s, double lo, double hi) {
    return param(s, uniforms(s, lo, hi), false);
  }
  // A real input that is not differentiated.
  const Node* data(const Shape& s, std::vector<double> values) {
    return bind(s, std::move(values), InputKind::Data, DType::Real);
  }
  // Int indices into `rows` rows, of shape `s`.
  const Node* indices(const Shape& s, std::int64_t rows) {
    std::vector<double> v(count(s));
    for (double& x : v) x = static_cast<double>(uniform_int(0, rows - 1));
    return bind(s, v, InputKind::Data, DType::Int);
  }
  std::vector<double> uniforms(const Shape& s, double lo, double hi) {
    std::vector<double> v(count(s));
    for (double& x : v) x = uniform(lo, hi);
    return v;
  }

 private:
  const Node* bind(const Shape& s, std::vector<double> values, InputKind kind, DType dtype) {
    std::string name = "in" + std::to_string(next_++);
    REQUIRE(values.size() == count(s));
    b.inputs[name] = Tensor{dims(s), std::move(values)};
    return input(g, name, kind, s, dtype);
  }

  std::mt19937_64 rng_;
  Extent M_;
  std::int64_t m_ = 1;
  int next_ = 0;
};

bool close_enough(double sym, double fd) { return std::abs(sym - fd) <= 1e-8 + 1e-6 * std::abs(fd); }

// Σ_j w_j out_j, differenced at x ± h one input element at a time: unaffected elements cancel
// exactly, so only the perturbed ones carry rounding error.
double weighted_difference(const Tensor& plus, const Tensor& minus, const Tensor& w) {
  double d = 0;
  for (std::size_t j = 0; j < plus.values.size(); ++j) {
    d += w.values[j] * (plus.values[j] - minus.values[j]);
  }
  return d;
}

bool contains(const Node* root, Op op) {
  for (const Node* n : topological_order({root})) {
    if (n->op() == op) return true;
  }
  return false;
}

// Checks d sum(w .* out) / d h.wrt against finite differences, for the raw and the simplified
// gradient. Returns the number of elements checked.
std::size_t check_gradient(Harness& h, const Node* out, const std::string& what) {
  INFO(what);
  std::vector<double> weights = h.uniforms(out->shape(), 0.25, 1.0);
  for (double& x : weights) x *= h.sign();
  const Node* w = h.data(out->shape(), weights);
  const Node* objective = sum(mul(out, w));
  std::vector<const Node*> grads = vmc::diff::gradient(objective, h.wrt);
  REQUIRE(grads.size() == h.wrt.size());
  std::vector<const Node*> simplified = vmc::diff::simplify(grads);
  std::vector<Tensor> sym = evaluate(grads, h.b);
  std::vector<Tensor> sym_simplified = evaluate(simplified, h.b);
  Tensor wt = evaluate(w, h.b);

  std::size_t checked = 0;
  for (std::size_t k = 0; k < h.wrt.size(); ++k) {
    const Node* x = h.wrt[k];
    INFO("input " << k << " (" << x->attrs().name << ")");
    CHECK(grads[k]->shape() == x->shape());
    Tensor& bound = h.b.inputs.at(x->attrs().name);
    REQUIRE(sym[k].shape == bound.shape);
    REQUIRE(sym_simplified[k].shape == bound.shape);
    for (std::size_t i = 0; i < bound.values.size(); ++i) {
      double g = sym[k].values[i], gs = sym_simplified[k].values[i];
      INFO("element " << i << " at " << bound.values[i] << ": symbolic " << g << ", simplified "
                      << gs);
      if (!h.by_fd[k]) {
        CHECK(g == 0);
        CHECK(gs == 0);
        continue;
      }
      double x0 = bound.values[i];
      double step = 1e-6 * std::max(1.0, std::abs(x0));
      double xp = x0 + step, xm = x0 - step;
      bound.values[i] = xp;
      Tensor plus = evaluate(out, h.b);
      bound.values[i] = xm;
      Tensor minus = evaluate(out, h.b);
      bound.values[i] = x0;
      double fd = weighted_difference(plus, minus, wt) / (xp - xm);
      INFO("finite difference " << fd);
      CHECK(std::isfinite(g));
      CHECK(close_enough(g, fd));
      CHECK(close_enough(gs, fd));
      ++checked;
    }
  }
  return checked;
}

// --- one random case per op -------------------------------------------------------------------

using Build = std::function<const Node*(Harness&)>;

enum class Kind {
  Missing,           // no case: a new op someone forgot to test
  Checked,           // the adjoint rule, against finite differences
  NoGradient,        // exempt: piecewise constant (or stop_gradient); its gradient must be zero
  NotDifferentiable, // exempt: differentiating it is an internal error (trigamma)
  Leaf,              // exempt: Input and Const, exercised by every other case
};

struct OpTest {
  Kind kind = Kind::Missing;
  Build build;
};

Build unary_in(Op op, double lo, double hi) {
  return [=](Harness& h) { return unary(op, h.param(h.shape(h.uniform_int(0, 3)), lo, hi)); };
}
// |x| in [lo, hi], either sign: kinks and poles at 0 are avoided.
Build unary_away(Op op, double lo, double hi) {
  return [=](Harness& h) { return unary(op, h.away(h.shape(h.uniform_int(0, 3)), lo, hi)); };
}

// a op b with a and b from the generators; sometimes one of them is a scalar the builder
// broadcasts (which exercises Broadcast's adjoint as well).
using Gen = std::function<const Node*(Harness&, const Shape&)>;
Gen in(double lo, double hi) {
  return [=](Harness& h, const Shape& s) { return h.param(s, lo, hi); };
}
Gen away(double lo, double hi) {
  return [=](Harness& h, const Shape& s) { return h.away(s, lo, hi); };
}
Build binary_of(Op op, Gen ga, Gen gb) {
  return [=](Harness& h) {
    Shape s = h.shape(h.uniform_int(0, 3));
    int variant = static_cast<int>(h.uniform_int(0, 3));
    Shape sa = variant == 1 ? Shape{} : s, sb = variant == 2 ? Shape{} : s;
    const Node* a = ga(h, sa);
    const Node* b = gb(h, sb);
    if (variant == 3) return binary(op, b, b);  // one input, both rules
    return binary(op, a, b);
  };
}

// Pairs (a, b) at least 0.1 apart elementwise (or, with `ties`, some exactly equal), for the
// comparisons and min/max.
Build separated(Op op, bool ties) {
  return [=](Harness& h) {
    Shape s = h.shape(h.uniform_int(0, 3));
    bool scalar_b = h.coin(0.3);
    std::vector<double> bv = h.uniforms(scalar_b ? Shape{} : s, -2, 2);
    std::vector<double> av(h.count(s));
    for (std::size_t i = 0; i < av.size(); ++i) {
      double base = bv[scalar_b ? 0 : i];
      av[i] = ties && h.coin(0.3) ? base : base + h.sign() * h.uniform(0.1, 1);
    }
    const Node* a = h.param(s, av);
    const Node* b = h.param(scalar_b ? Shape{} : s, bv);
    return h.coin() ? binary(op, a, b) : binary(op, b, a);
  };
}

const Node* reduce_case(Harness& h, Op op) {
  std::int64_t rank = h.uniform_int(1, 3);
  Shape s = h.shape(rank);
  int axis = static_cast<int>(h.uniform_int(-1, rank - 1));
  const Node* x;
  if (op == Op::ReduceMax || op == Op::ReduceMin) x = h.distinct(s, h.coin(0.3) ? 50 : 0);
  else if (op == Op::LogSumExp && h.coin(0.3)) x = h.param(s, 48, 52);  // stable at large values
  else x = h.param(s, -2, 2);
  return reduce(op, x, axis);
}

// A well-conditioned lower triangle (diagonal in [1, 2] with either sign) with junk above it,
// which tri_solve must ignore (so its gradient there is zero).
const Node* lower_factor(Harness& h, const Extent& n) {
  std::int64_t k = h.size(n);
  std::vector<double> v(static_cast<std::size_t>(k * k));
  for (std::int64_t r = 0; r < k; ++r) {
    for (std::int64_t c = 0; c < k; ++c) {
      v[r * k + c] = r == c ? h.sign() * h.uniform(1, 2) : h.uniform(-0.5, 0.5);
    }
  }
  return h.param({n, n}, v);
}

// The products: 0..3 matrix·matrix with (transpose_a, transpose_b) = bits of the variant,
// 4/5 matrix·vector (with transpose_a), 6/7 vector·matrix (with transpose_b), 8 vector·vector.
const Node* matmul_case(Harness& h, int variant) {
  Extent r = h.extent(), k = h.extent(), c = h.extent();
  auto matrix = [&](Extent a, Extent b, bool t) {
    return t ? h.param({b, a}, -1, 1) : h.param({a, b}, -1, 1);
  };
  if (variant < 4) {
    bool ta = variant & 1, tb = variant & 2;
    return matmul(matrix(r, k, ta), matrix(k, c, tb), ta, tb);
  }
  if (variant < 6) {
    bool ta = variant == 5;
    return matmul(matrix(r, k, ta), h.param({k}, -1, 1), ta);
  }
  if (variant < 8) {
    bool tb = variant == 7;
    return matmul(h.param({k}, -1, 1), matrix(k, c, tb), false, tb);
  }
  return matmul(h.param({k}, -1, 1), h.param({k}, -1, 1));
}

const Node* tri_solve_case(Harness& h, bool transpose, bool matrix_rhs) {
  Extent n = h.extent();
  const Node* l = lower_factor(h, n);
  Shape bs = matrix_rhs ? Shape{n, h.extent()} : Shape{n};
  return tri_solve(l, h.param(bs, -1, 1), transpose);
}

// A positive-definite A for cholesky: a symmetric B Bᵀ + I (both triangles from the same
// params), or an unsymmetric matrix with a dominant diagonal, whose upper triangle cholesky
// ignores (its gradient there is zero).
const Node* cholesky_case(Harness& h, bool symmetric) {
  Extent n = h.extent();
  std::int64_t k = h.size(n);
  if (symmetric) {
    const Node* b = h.param({n, n}, -1, 1);
    return cholesky(add(matmul(b, b, false, true), diag_matrix(constant(b->graph(), 1.0, Shape{n}))));
  }
  std::vector<double> v(static_cast<std::size_t>(k * k));
  for (std::int64_t r = 0; r < k; ++r) {
    for (std::int64_t c = 0; c < k; ++c) v[r * k + c] = r == c ? h.uniform(1, 2) + 0.5 * k : h.uniform(-0.5, 0.5);
  }
  return cholesky(h.param({n, n}, v));
}

// A loop of 0 to 3 iterations: c ← tanh(c .* a + 0.1 t) + b, with the invariants a (the state's
// shape) and b (a scalar), both differentiated, as are the state's start and its adjoint.
const Node* small_loop(Harness& h) {
  Shape s = h.shape(h.uniform_int(0, 2));
  auto body = std::make_shared<vmc::ir::LoopBody>();
  body->name = "loop0";
  Graph& bg = *body->body.graph;
  for (std::size_t k = 0; k < h.g.symbol_count(); ++k) bg.symbol(h.g.symbol_name(static_cast<std::int32_t>(k)));
  body->t = input(bg, "loop.t", InputKind::Data, {});
  body->carry = input(bg, "loop.carry", InputKind::Data, s);
  body->invariants = {input(bg, "loop.inv.0", InputKind::Data, s), input(bg, "loop.inv.1", InputKind::Data, {})};
  const Node* next = add(unary(Op::Tanh, add(mul(body->carry, body->invariants[0]), mul(body->t, 0.1))),
                         body->invariants[1]);
  body->body.outputs.push_back({"carry", next});
  vmc::diff::derive_vjp(*body);
  const Node* begin = constant(h.g, static_cast<double>(h.uniform_int(0, 2)));
  const Node* end = constant(h.g, static_cast<double>(h.uniform_int(0, 4)));
  return vmc::ir::loop(begin, end, h.param(s, -1, 1), {h.param(s, -1, 1), h.param({}, -1, 1)}, body);
}

OpTest op_test(Op op) {
  const Kind C = Kind::Checked;
  switch (op) {
    case Op::Input:
    case Op::Const:
    case Op::Iota:
      return {Kind::Leaf, {}};

    case Op::Neg: return {C, unary_in(op, -2, 2)};
    case Op::Exp: return {C, unary_in(op, -2, 2)};
    case Op::Log: return {C, unary_in(op, 0.5, 3)};
    case Op::Log1p: return {C, unary_in(op, -0.5, 2)};
    case Op::Expm1: return {C, unary_in(op, -2, 2)};
    case Op::Sqrt: return {C, unary_in(op, 0.5, 3)};
    case Op::Square: return {C, unary_in(op, -2, 2)};
    case Op::Abs: return {C, unary_away(op, 0.1, 2)};
    case Op::Tanh: return {C, unary_in(op, -2, 2)};
    case Op::Cosh: return {C, unary_in(op, -2, 2)};
    case Op::Tan: return {C, unary_in(op, -1.2, 1.2)};
    case Op::Sigmoid: return {C, unary_in(op, -4, 4)};
    case Op::Softplus: return {C, unary_in(op, -4, 4)};
    case Op::LogSigmoid: return {C, unary_in(op, -4, 4)};
    case Op::Relu: return {C, unary_away(op, 0.1, 2)};
    case Op::Lgamma: return {C, unary_in(op, 0.5, 4)};
    case Op::Sin:
    case Op::Cos: return {C, unary_in(op, -4, 4)};
    case Op::LogBesselI0: return {C, unary_in(op, -30, 30)};
    case Op::BesselI1OverI0: return {C, unary_in(op, -30, 30)};
    case Op::Digamma: return {C, unary_in(op, 0.5, 4)};
    case Op::Ndtri: return {C, unary_in(op, 0.1, 0.9)};
    case Op::LogNdtr: return {C, unary_in(op, -30, 6)};
    case Op::Atan: return {C, unary_in(op, -4, 4)};
    case Op::Step:
    case Op::Sign:
      return {Kind::NoGradient, unary_away(op, 0.1, 2)};
    case Op::Trigamma:
      return {Kind::NotDifferentiable, unary_in(op, 0.5, 4)};
    case Op::StopGradient:
      // Nothing flows into x; y's gradient is stop_gradient(exp(x)) · w.
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* x = h.frozen(s, -1, 1);
                return mul(unary(Op::StopGradient, exp(x)), h.param(s, -1, 1));
              }};

    case Op::Add: return {C, binary_of(op, in(-2, 2), in(-2, 2))};
    case Op::Sub: return {C, binary_of(op, in(-2, 2), in(-2, 2))};
    case Op::Mul: return {C, binary_of(op, in(-2, 2), in(-2, 2))};
    case Op::Div: return {C, binary_of(op, in(-2, 2), away(0.5, 2))};
    case Op::Pow:
      return {C, [](Harness& h) -> const Node* {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* a = h.param(s, 0.5, 2);
                switch (h.uniform_int(0, 3)) {
                  case 0: return binary(Op::Pow, a, h.param(s, -1.5, 2));
                  case 1: return binary(Op::Pow, a, constant(h.g, h.uniform(-1.5, 2.5)));
                  case 2: return binary(Op::Pow, h.param({}, 0.5, 2), h.param(s, -1.5, 2));
                  default: return binary(Op::Pow, a, a);  // x^x: both rules into one input
                }
              }};
    case Op::Min: return {C, separated(op, false)};
    case Op::Max: return {C, separated(op, false)};
    case Op::LogAddExp: return {C, binary_of(op, in(-3, 3), in(-3, 3))};
    // Its derivative in nu is StudentTLogCdfDnu (numerical, in the runtime): checked here
    // against finite differences of the CDF itself.
    case Op::StudentTLogCdf: return {C, binary_of(op, in(-6, 4), in(0.5, 30))};
    // The derivative in nu has no gradient of its own (never differentiated twice); the product
    // with a param checks that it leaves the rest of the gradient alone.
    case Op::StudentTLogCdfDnu:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* d = binary(Op::StudentTLogCdfDnu, h.frozen(s, -4, 4), h.frozen(s, 0.5, 30));
                return mul(d, h.param(s, -2, 2));
              }};
    case Op::Greater: return {Kind::NoGradient, separated(op, false)};
    // Draws by inversion of uniform noise: piecewise constant, no adjoint flows into the noise
    // or the rate (the operands are not differentiated: a step would cross the jumps); the
    // product with a param checks that the rule leaves the rest of the gradient alone.
    case Op::StudentTQuantile:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* t = binary(Op::StudentTQuantile, h.frozen(s, 0.05, 0.95), h.frozen(s, 0.5, 30));
                return mul(t, h.param(s, -2, 2));
              }};
    case Op::GammaQuantile:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* g = binary(Op::GammaQuantile, h.frozen(s, 0.05, 0.95), h.frozen(s, 0.3, 20));
                return mul(g, h.param(s, -2, 2));
              }};
    case Op::BetaQuantile:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* u = h.frozen(s, 0.05, 0.95);
                const Node* b = u->graph().make(Op::BetaQuantile, {u, h.frozen(s, 0.3, 20), h.frozen(s, 0.3, 20)}, {}, s);
                return mul(b, h.param(s, -2, 2));
              }};
    case Op::PoissonQuantile:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* k = binary(Op::PoissonQuantile, h.frozen(s, 0.05, 0.95), h.frozen(s, 0.5, 40));
                return mul(k, h.param(s, -2, 2));
              }};
    case Op::Equal: return {Kind::NoGradient, separated(op, true)};

    case Op::Select:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                std::vector<double> cond(h.count(s));
                for (double& c : cond) c = h.coin() ? 0.0 : h.sign() * h.uniform(0.5, 2);
                const Node* a = h.param(s, -2, 2);
                const Node* b = h.coin(0.3) ? exp(a) : h.param(s, -2, 2);
                return select(h.data(s, cond), a, b);
              }};

    case Op::BinomialQuantile:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                std::vector<double> n(h.count(s));
                for (double& x : n) x = static_cast<double>(h.uniform_int(0, 80));
                const Node* u = h.frozen(s, 0.05, 0.95);
                const Node* k = u->graph().make(Op::BinomialQuantile, {u, h.data(s, n), h.frozen(s, 0.05, 0.95)}, {}, s);
                return mul(k, h.param(s, -2, 2));
              }};

    case Op::NegBinomial2Quantile:
      return {C, [](Harness& h) {
                Shape s = h.shape(h.uniform_int(0, 3));
                const Node* u = h.frozen(s, 0.05, 0.95);
                const Node* k = u->graph().make(Op::NegBinomial2Quantile, {u, h.frozen(s, 0.1, 50), h.frozen(s, 0.2, 20)}, {}, s);
                return mul(k, h.param(s, -2, 2));
              }};

    case Op::Broadcast:
      return {C, [](Harness& h) {
                std::int64_t in_rank = h.uniform_int(0, 2);
                std::int64_t total = in_rank + h.uniform_int(1, 4 - in_rank);
                // Which output axes are new: a random subset of size total − in_rank.
                std::vector<int> axes(total);
                std::iota(axes.begin(), axes.end(), 0);
                for (std::int64_t i = total - 1; i > 0; --i) std::swap(axes[i], axes[h.uniform_int(0, i)]);
                std::uint32_t fresh = 0;
                for (std::int64_t i = 0; i < total - in_rank; ++i) fresh |= 1u << axes[i];
                Shape xs = h.shape(in_rank), out;
                std::size_t next = 0;
                for (std::int64_t d = 0; d < total; ++d) {
                  out.push_back(fresh >> d & 1u ? h.extent() : xs[next++]);
                }
                return broadcast(h.param(xs, -2, 2), out, fresh);
              }};
    case Op::Transpose:
      return {C, [](Harness& h) { return transpose(h.param(h.shape(2), -2, 2)); }};
    case Op::Reshape:
      return {C, [](Harness& h) {
                Extent M = h.M();
                auto k = [](std::int64_t n) { return Extent::constant(n); };
                std::vector<std::pair<Shape, Shape>> pairs = {
                    {{k(2), k(3)}, {k(3), k(2)}},       {{k(2), k(3)}, {k(6)}},
                    {{k(6)}, {k(2), k(3)}},             {{k(2), k(2), k(3)}, {k(4), k(3)}},
                    {{k(2), k(2), k(3)}, {k(2), k(6)}}, {{M, k(2), k(3)}, {M, k(6)}},
                    {{M, k(6)}, {M, k(3), k(2)}},       {{}, {k(1)}},
                    {{k(1), k(4)}, {k(2), k(2)}},       {{M, k(2)}, {k(2), M}},
                };
                auto [from, to] = pairs[h.uniform_int(0, pairs.size() - 1)];
                return reshape(h.param(from, -2, 2), to);
              }};
    case Op::Slice:
      return {C, [](Harness& h) {
                std::int64_t rank = h.uniform_int(1, 3);
                int axis = static_cast<int>(h.uniform_int(0, rank - 1));
                Shape s = h.shape(rank);
                std::int64_t n = h.uniform_int(1, 4);
                s[axis] = Extent::constant(n);
                std::int64_t begin = h.uniform_int(0, n - 1);
                std::int64_t end = h.uniform_int(begin + 1, n);
                return slice(h.param(s, -2, 2), axis, begin, end);
              }};
    case Op::Take:
      return {C, [](Harness& h) {
                std::int64_t rank = h.uniform_int(1, 3);
                int axis = static_cast<int>(h.uniform_int(0, rank - 1));
                Shape s = h.shape(rank);
                const Node* x = h.param(s, -2, 2);
                double i = static_cast<double>(h.uniform_int(0, h.size(s[axis]) - 1));
                return take(x, h.data({}, {i}), axis);
              }};
    case Op::Loop: return {C, small_loop};
    // A loop's adjoint is not differentiated again.
    case Op::LoopGrad:
      return {Kind::NotDifferentiable, [](Harness& h) {
                const Node* l = small_loop(h);
                const Node* g = h.param(l->shape(), -1, 1);
                return vmc::diff::gradient(sum(mul(l, g)), {l->arg(2)}).front();
              }};
    case Op::Concat:
      return {C, [](Harness& h) {
                std::int64_t rank = h.uniform_int(1, 3);
                int axis = static_cast<int>(h.uniform_int(0, rank - 1));
                Shape sa = h.shape(rank), sb = sa;
                sa[axis] = Extent::constant(h.uniform_int(1, 3));
                sb[axis] = Extent::constant(h.uniform_int(1, 3));
                const Node* a = h.param(sa, -2, 2);
                // Sometimes the same operand twice: both slices flow into one input.
                return h.coin(0.2) ? concat(a, a, axis) : concat(a, h.param(sb, -2, 2), axis);
              }};
    case Op::Gather:
      return {C, [](Harness& h) {
                Shape table = h.shape(h.uniform_int(1, 3));
                Shape idx = h.shape(h.uniform_int(0, 1));
                const Node* t = h.param(table, -2, 2);
                return gather(t, h.indices(idx, h.size(table[0])));
              }};
    case Op::ScatterAdd:
      return {C, [](Harness& h) {
                Shape table = h.shape(h.uniform_int(1, 3));
                Shape idx = h.shape(h.uniform_int(0, 1));
                Shape rows = idx;
                rows.insert(rows.end(), table.begin() + 1, table.end());
                const Node* i = h.indices(idx, h.size(table[0]));
                return scatter_add(h.param(rows, -2, 2), i, table);
              }};
    case Op::Tril:
      return {C, [](Harness& h) {
                Extent n = h.extent();
                return tril(h.param({n, n}, -2, 2));
              }};
    case Op::Diag:
      return {C, [](Harness& h) {
                Extent n = h.extent();
                return diag(h.param({n, n}, -2, 2));
              }};
    case Op::DiagMatrix:
      return {C, [](Harness& h) { return diag_matrix(h.param({h.extent()}, -2, 2)); }};

    case Op::Sum:
    case Op::Mean:
    case Op::ReduceMax:
    case Op::ReduceMin:
    case Op::LogSumExp:
      return {C, [op](Harness& h) { return reduce_case(h, op); }};

    case Op::MatMul:
      return {C, [](Harness& h) { return matmul_case(h, static_cast<int>(h.uniform_int(0, 8))); }};
    case Op::Outer:
      return {C, [](Harness& h) {
                const Node* u = h.param({h.extent()}, -2, 2);
                return h.coin(0.2) ? outer(u, u) : outer(u, h.param({h.extent()}, -2, 2));
              }};
    case Op::TriSolve:
      return {C, [](Harness& h) { return tri_solve_case(h, h.coin(), h.coin()); }};
    case Op::Cholesky:
      return {C, [](Harness& h) { return cholesky_case(h, h.coin()); }};
  }
  return {};
}

constexpr Op kAllOps[] = {
#define VMC_OP(name, ...) Op::name,
#include "ir/ops.def"
#undef VMC_OP
};
static_assert(sizeof kAllOps / sizeof kAllOps[0] == static_cast<std::size_t>(kOpCount));

constexpr int kTrials = 12;

}  // namespace

TEST_CASE("adjoints: every op in ops.def has a gradient test or is explicitly exempt") {
  for (Op op : kAllOps) {
    CHECK_MESSAGE(op_test(op).kind != Kind::Missing,
                  "no gradient test for op '", std::string(info(op).spelling),
                  "': add one to op_test()");
  }
}

TEST_CASE("adjoints: every op's rule matches finite differences") {
  std::size_t elements = 0, cases = 0;
  for (Op op : kAllOps) {
    OpTest t = op_test(op);
    if (t.kind != Kind::Checked && t.kind != Kind::NoGradient) continue;
    for (int trial = 0; trial < kTrials; ++trial) {
      std::uint64_t seed = 1000 * static_cast<std::uint64_t>(op) + trial;
      std::string what = std::string(info(op).spelling) + " trial " + std::to_string(trial) +
                         " (seed " + std::to_string(seed) + ")";
      INFO(what);
      Harness h(seed);
      const Node* out = t.build(h);
      REQUIRE(contains(out, op));
      elements += check_gradient(h, out, what);
      ++cases;
      if (t.kind == Kind::NoGradient) {
        // Piecewise constant: nothing flows back, symbolically.
        const Node* objective = sum(mul(out, h.data(out->shape(), h.uniforms(out->shape(), 1, 2))));
        for (const Node* g : vmc::diff::simplify(vmc::diff::gradient(objective, h.wrt))) {
          CHECK(g->is_const(0));
        }
      }
    }
  }
  MESSAGE(cases << " random op cases, " << elements << " gradient elements checked");
  CHECK(elements > 1000);
}

TEST_CASE("adjoints: ops without a gradient are explicitly exempt") {
  for (Op op : kAllOps) {
    OpTest t = op_test(op);
    if (t.kind != Kind::NotDifferentiable) continue;
    INFO(info(op).spelling);
    Harness h(7);
    const Node* out = t.build(h);
    CHECK_THROWS_AS(vmc::diff::gradient(sum(out), h.wrt), InternalError);
  }
  CHECK(op_test(Op::Trigamma).kind == Kind::NotDifferentiable);
  CHECK(op_test(Op::Input).kind == Kind::Leaf);
  CHECK(op_test(Op::Const).kind == Kind::Leaf);
  CHECK(op_test(Op::Iota).kind == Kind::Leaf);
  for (Op op : {Op::Step, Op::Sign, Op::Greater, Op::Equal}) {
    CHECK(op_test(op).kind == Kind::NoGradient);
  }
}

TEST_CASE("adjoints: matmul with every transpose flag combination and the vector cases") {
  for (int variant = 0; variant < 9; ++variant) {
    for (int trial = 0; trial < 4; ++trial) {
      Harness h(50000 + 10 * variant + trial);
      const Node* out = matmul_case(h, variant);
      std::string what = "matmul variant " + std::to_string(variant) + " trial " + std::to_string(trial);
      INFO(what);
      REQUIRE(out->op() == Op::MatMul);
      if (variant < 4) {
        CHECK(out->attrs().transpose_a == bool(variant & 1));
        CHECK(out->attrs().transpose_b == bool(variant & 2));
      }
      check_gradient(h, out, what);
    }
  }
  // A square product of a matrix with itself, under each flag: one input gets both rules.
  for (int flags = 0; flags < 4; ++flags) {
    Harness h(51000 + flags);
    Extent n = h.extent();
    const Node* a = h.param({n, n}, -1, 1);
    check_gradient(h, matmul(a, a, flags & 1, flags & 2), "matmul(a, a) flags " + std::to_string(flags));
  }
}

TEST_CASE("adjoints: tri_solve with both flags, vector and matrix right-hand sides") {
  for (bool transpose : {false, true}) {
    for (bool matrix_rhs : {false, true}) {
      for (int trial = 0; trial < 4; ++trial) {
        Harness h(52000 + 100 * transpose + 10 * matrix_rhs + trial);
        std::string what = std::string("tri_solve") + (transpose ? " transpose" : "") +
                           (matrix_rhs ? " matrix" : " vector") + " trial " + std::to_string(trial);
        const Node* out = tri_solve_case(h, transpose, matrix_rhs);
        REQUIRE(out->attrs().transpose_a == transpose);
        check_gradient(h, out, what);
        // Nothing flows into the ignored upper triangle.
        std::vector<Tensor> g = evaluate(vmc::diff::gradient(sum(out), {h.wrt[0]}), h.b);
        std::int64_t k = g[0].shape[0];
        for (std::int64_t r = 0; r < k; ++r)
          for (std::int64_t c = r + 1; c < k; ++c) CHECK(g[0].values[r * k + c] == 0);
      }
    }
  }
}

TEST_CASE("adjoints: cholesky of symmetric and of unsymmetric matrices") {
  for (bool symmetric : {false, true}) {
    for (int trial = 0; trial < 4; ++trial) {
      Harness h(52500 + 10 * symmetric + trial);
      const Node* out = cholesky_case(h, symmetric);
      check_gradient(h, out, std::string("cholesky ") + (symmetric ? "of B B' + I" : "unsymmetric") + " trial " +
                                 std::to_string(trial));
      if (symmetric) continue;
      // Only A's lower triangle is read: nothing flows into the upper one.
      std::vector<Tensor> g = evaluate(vmc::diff::gradient(sum(out), {h.wrt[0]}), h.b);
      std::int64_t k = g[0].shape[0];
      for (std::int64_t r = 0; r < k; ++r)
        for (std::int64_t c = r + 1; c < k; ++c) CHECK(g[0].values[r * k + c] == 0);
    }
  }
}

TEST_CASE("adjoints: fan-out (a node used more than once) accumulates") {
  for (int trial = 0; trial < 6; ++trial) {
    Harness h(53000 + trial);
    Shape s = h.shape(2);
    const Node* x = h.param(s, -1, 1);
    const Node* e = exp(x);
    // x used four times, e twice and as both operands of one mul.
    const Node* out = add(mul(e, e), sub(mul(x, e), unary(Op::Tanh, x)));
    out = add(out, broadcast(sum(x), s));
    check_gradient(h, out, "fan-out trial " + std::to_string(trial));
  }
  Harness h(53100);
  const Node* x = h.param({h.extent(), Extent::constant(3)}, -1, 1);
  const Node* y = h.param({Extent::constant(3)}, -1, 1);
  // The same row vector broadcast, gathered, sliced and reduced, all summed into one output.
  const Node* yb = broadcast(y, x->shape());
  const Node* lse = reduce(Op::LogSumExp, concat(x, yb, 1), 1);  // [M]
  const Node* all = add(mul(x, yb), broadcast(lse, x->shape(), 2u));
  check_gradient(h, all, "broadcast, concat and log_sum_exp of shared nodes");
}

TEST_CASE("adjoints: chains of ops") {
  for (int trial = 0; trial < 6; ++trial) {
    Harness h(54000 + trial);
    const Node* x = h.param(h.shape(2), 0.2, 1.5);
    const Node* n = unary(Op::Sigmoid, x);                 // (0.5, 0.82)
    n = unary(Op::Log, unary(Op::Softplus, unary(Op::Tanh, n)));
    n = unary(Op::Sqrt, add(square(n), 1.0));
    n = unary(Op::Lgamma, add(n, 0.5));
    n = div(unary(Op::Expm1, n), add(unary(Op::Abs, n), 1.0));
    n = unary(Op::LogSigmoid, unary(Op::Log1p, exp(n)));
    check_gradient(h, n, "elementwise chain trial " + std::to_string(trial));
  }
  // A long chain of a thousand scaled tanhs: the adjoints multiply up the chain.
  Harness h(54100);
  const Node* x = h.param({Extent::constant(2)}, -1, 1);
  const Node* n = x;
  for (int i = 0; i < 1000; ++i) n = unary(Op::Tanh, mul(n, 1.001));
  check_gradient(h, n, "1000 tanhs");
}

TEST_CASE("adjoints: an MLP-like composite with batch M") {
  for (int trial = 0; trial < 6; ++trial) {
    Harness h(55000 + trial);
    Extent M = h.M(), D = Extent::constant(h.uniform_int(1, 3)), H = Extent::constant(h.uniform_int(2, 3));
    Extent K = Extent::constant(h.uniform_int(1, 3));
    const Node* X = h.data({M, D}, h.uniforms({M, D}, -1, 1));
    const Node* W1 = h.param({D, H}, -1, 1);
    const Node* b1 = h.param({H}, -0.5, 0.5);
    const Node* W2 = h.param({K, H}, -1, 1);  // used transposed
    const Node* b2 = h.param({K}, -0.5, 0.5);
    const Node* hidden = unary(Op::Tanh, add(matmul(X, W1), broadcast(b1, {M, H})));
    const Node* logits = add(matmul(hidden, W2, false, true), broadcast(b2, {M, K}));
    // A categorical log-likelihood of fixed labels, as a softmax cross-entropy.
    const Node* labels = h.data({M, K}, h.uniforms({M, K}, 0, 1));
    const Node* ll = sub(sum(mul(labels, logits), 1), reduce(Op::LogSumExp, logits, 1));
    check_gradient(h, ll, "mlp trial " + std::to_string(trial));
    check_gradient(h, hidden, "mlp hidden layer trial " + std::to_string(trial));
  }
}

TEST_CASE("adjoints: composites of structure ops, gathers and factor solves") {
  for (int trial = 0; trial < 6; ++trial) {
    Harness h(56000 + trial);
    Extent M = h.M();
    Extent n = Extent::constant(h.uniform_int(1, 3));
    // Embedding lookup, a product and a reduction.
    const Node* table = h.param({Extent::constant(4), n}, -1, 1);
    const Node* rows = gather(table, h.indices({M}, 4));
    const Node* proj = matmul(rows, h.param({n}, -1, 1));
    // A Cholesky-like factor: strictly lower part plus a positive diagonal exp(d).
    const Node* raw = h.param({n, n}, -0.5, 0.5);
    const Node* d = h.param({n}, -0.5, 0.5);
    const Node* strict = sub(tril(raw), diag_matrix(diag(raw)));
    const Node* l = add(strict, diag_matrix(exp(d)));
    const Node* z = tri_solve(l, transpose(rows), trial % 2 == 1);  // [n, M]
    const Node* logdet = sum(diag(l));
    const Node* quad = sum(square(z), 0);                           // [M]
    const Node* out = add(add(proj, quad), broadcast(logdet, {M}));
    check_gradient(h, out, "embedding + factor trial " + std::to_string(trial));
  }
  for (int trial = 0; trial < 4; ++trial) {
    Harness h(56100 + trial);
    const Node* x = h.param({Extent::constant(4), Extent::constant(3)}, -1, 1);
    // Slices recombined in another order, reshaped and scattered back.
    const Node* swapped = concat(slice(x, 0, 2, 4), slice(x, 0, 0, 2), 0);
    const Node* flat = reshape(swapped, {Extent::constant(12)});
    const Node* idx = h.indices({Extent::constant(12)}, 5);
    const Node* scattered = scatter_add(flat, idx, {Extent::constant(5)});
    const Node* out = mul(scattered, scattered);
    check_gradient(h, out, "slice/concat/reshape/scatter trial " + std::to_string(trial));
  }
}

TEST_CASE("adjoints: reduce_max shares its adjoint among tied maxima") {
  // max over copies of x is x itself, a smooth function: d/dx must be 1, not the number of
  // copies. (Ties are where reduce_max has no derivative of its own; sharing the adjoint
  // equally among them keeps the gradient right for every direction that keeps the tie.)
  for (int trial = 0; trial < 4; ++trial) {
    Harness h(58000 + trial);
    Extent n = h.extent();
    const Node* x = h.distinct({n});
    const Node* copies = broadcast(x, {Extent::constant(3), n}, 1u);
    check_gradient(h, reduce(Op::ReduceMax, copies, 0), "max over a broadcast axis");
    check_gradient(h, reduce(Op::ReduceMax, concat(copies, copies, 0)), "max of everything");
    const Node* s = h.param({}, -1, 1);
    check_gradient(h, reduce(Op::ReduceMax, broadcast(s, {n, Extent::constant(2)})),
                   "max of a broadcast scalar");
    // A tie between two different inputs: moving both together moves the max by as much.
    const Node* y = h.param({}, 0.5, 1);
    const Node* pair = concat(broadcast(y, {Extent::constant(1)}), broadcast(y, {Extent::constant(1)}), 0);
    check_gradient(h, reduce(Op::ReduceMax, pair), "max of [y, y]");
  }
}

TEST_CASE("adjoints: leaves (constants and iota) carry no gradient but scale others") {
  for (int trial = 0; trial < 4; ++trial) {
    Harness h(59000 + trial);
    Shape s = {h.extent(), Extent::constant(3)};
    Attrs at;
    at.axis = 1;
    const Node* counts = h.g.make(Op::Iota, {}, at, s);
    const Node* x = h.param(s, -1, 1);
    const Node* out = add(mul(x, counts), mul(square(x), constant_like(x, 1.5)));
    check_gradient(h, out, "x * iota + 1.5 x^2 trial " + std::to_string(trial));
  }
}

TEST_CASE("adjoints: inputs the objective does not use get zeros") {
  Graph g;
  const Node* x = input(g, "x", InputKind::Param, {Extent::constant(2)});
  const Node* y = input(g, "y", InputKind::Param, {Extent::constant(3)});
  std::vector<const Node*> grads = vmc::diff::gradient(sum(exp(x)), {y, x});
  CHECK(grads[0]->is_const(0));
  CHECK(grads[0]->shape() == y->shape());
  CHECK(grads[1]->shape() == x->shape());
  CHECK_THROWS_AS(vmc::diff::gradient(exp(x), {x}), InternalError);  // not a scalar
  // The objective itself.
  CHECK(vmc::diff::gradient(sum(x), {sum(x)})[0]->is_const(1));
}

TEST_CASE("adjoints: a 100,000-node chain differentiates without deep recursion") {
  Harness h(57000);
  const Node* x = h.param({}, 0.1, 0.2);
  const Node* n = x;
  for (int i = 0; i < 100000; ++i) n = i % 2 ? add(n, x) : mul(n, 0.99999);
  std::vector<const Node*> g = vmc::diff::gradient(n, {x});
  double want = 1;  // d/dx of the recurrence, run forwards
  for (int i = 0; i < 100000; ++i) want = i % 2 ? want + 1 : want * 0.99999;
  CHECK(evaluate(g[0], h.b).item() == doctest::Approx(want).epsilon(1e-10));
}

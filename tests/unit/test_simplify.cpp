// The simplifier (compiler/diff/simplify.cpp): it keeps values (the simplified graph evaluates
// equal to the original on random inputs, for composite graphs and their gradients), applies
// each of its rules (checked by pointer: the graph is hash-consed, so the expected node built
// directly is the same node), and shrinks the gradient of a small VAE-like objective.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "diff/gradient.hpp"
#include "diff/simplify.hpp"
#include "diff/stabilize.hpp"
#include "ir/builder.hpp"
#include "ir/function.hpp"
#include "ir/interpreter.hpp"
#include "ir/node.hpp"

namespace {

using namespace vmc::ir;
using vmc::diff::count_nodes;

Extent c(std::int64_t n) { return Extent::constant(n); }

const Node* simplified(const Node* n) { return vmc::diff::simplify({n}).front(); }

bool contains(const std::vector<const Node*>& roots, Op op) {
  for (const Node* n : topological_order(roots)) {
    if (n->op() == op) return true;
  }
  return false;
}

// Binds every unbound input reachable from `roots` to random values in [lo, hi] (int inputs to
// indices below `rows`), with run-time sizes already in `b.sizes`.
void bind_all(const std::vector<const Node*>& roots, Bindings& b, std::mt19937_64& rng,
              double lo = -1, double hi = 1, std::int64_t rows = 1) {
  for (const Node* n : topological_order(roots)) {
    if (n->op() != Op::Input || b.inputs.count(n->attrs().name)) continue;
    Tensor t;
    for (const Extent& e : n->shape()) {
      t.shape.push_back(e.is_constant() ? e.size : b.sizes.at(n->graph().symbol_name(e.symbol)));
    }
    t.values.resize(static_cast<std::size_t>(t.size()));
    for (double& v : t.values) {
      if (n->dtype() == DType::Int) {
        v = static_cast<double>(std::uniform_int_distribution<std::int64_t>(0, rows - 1)(rng));
      } else {
        v = std::uniform_real_distribution<double>(lo, hi)(rng);
      }
    }
    b.inputs[n->attrs().name] = std::move(t);
  }
}

// The simplified roots evaluate to the original roots' values.
void check_same_values(const std::vector<const Node*>& roots, const Bindings& b,
                       const std::string& what) {
  INFO(what);
  std::vector<const Node*> simple = vmc::diff::simplify(roots);
  REQUIRE(simple.size() == roots.size());
  std::vector<Tensor> want = evaluate(roots, b);
  std::vector<Tensor> got = evaluate(simple, b);
  for (std::size_t r = 0; r < roots.size(); ++r) {
    INFO("root " << r);
    CHECK(simple[r]->shape() == roots[r]->shape());
    REQUIRE(got[r].shape == want[r].shape);
    for (std::size_t i = 0; i < want[r].values.size(); ++i) {
      double w = want[r].values[i], g = got[r].values[i];
      INFO("element " << i << ": original " << w << ", simplified " << g);
      CHECK(std::isfinite(w));
      CHECK(std::abs(w - g) <= 1e-10 * std::max(1.0, std::abs(w)));
    }
  }
}

// The inputs reachable from `roots` of kind Param, in schedule order.
std::vector<const Node*> params_of(const std::vector<const Node*>& roots) {
  std::vector<const Node*> out;
  for (const Node* n : topological_order(roots)) {
    if (n->op() == Op::Input && n->attrs().input == InputKind::Param) out.push_back(n);
  }
  return out;
}

std::vector<const Node*> with_gradient(const Node* objective) {
  std::vector<const Node*> roots = {objective};
  for (const Node* g : vmc::diff::gradient(objective, params_of({objective}))) roots.push_back(g);
  return roots;
}

// A small VAE: a tanh encoder to (μ, log σ²), the reparameterized z = μ + exp(0.5 log σ²) ε, a
// Bernoulli decoder through log(sigmoid(·)), the Gaussian KL with exp(0.5 log σ²)², the N/M
// minibatch scale, and a stop_gradient'ed baseline.
const Node* vae_objective(Graph& g) {
  Extent M = Extent::runtime(g.symbol("M"));
  Extent D = c(4), H = c(3), Z = c(2);
  const Node* x = input(g, "x", InputKind::Data, {M, D});
  const Node* eps = input(g, "eps", InputKind::Noise, {M, Z});
  const Node* n_total = input(g, "N", InputKind::Size, {});
  const Node* m_batch = input(g, "Mb", InputKind::Size, {});
  const Node* w1 = input(g, "enc.W1", InputKind::Param, {D, H});
  const Node* b1 = input(g, "enc.b1", InputKind::Param, {H});
  const Node* wmu = input(g, "enc.Wmu", InputKind::Param, {Z, H});
  const Node* wlv = input(g, "enc.Wlv", InputKind::Param, {H, Z});
  const Node* wd = input(g, "dec.W", InputKind::Param, {Z, D});
  const Node* bd = input(g, "dec.b", InputKind::Param, {D});

  const Node* h = unary(Op::Tanh, add(matmul(x, w1), broadcast(b1, {M, H})));
  const Node* mu = matmul(h, transpose(wmu));  // a transposed operand: folded into a flag
  const Node* logvar = matmul(h, wlv);
  const Node* sigma = exp(mul(logvar, 0.5));
  const Node* z = add(mu, mul(sigma, eps));
  const Node* logits = add(matmul(z, wd), broadcast(bd, {M, D}));
  const Node* one = constant(g, 1, {M, D});
  const Node* loglik = sum(add(mul(x, log(unary(Op::Sigmoid, logits))),
                               mul(sub(one, x), log(unary(Op::Sigmoid, neg(logits))))));
  const Node* kl = mul(sum(sub(add(square(sigma), square(mu)), add(logvar, 1.0))), 0.5);
  const Node* baseline = unary(Op::StopGradient, sum(square(mu)));
  const Node* scale = div(n_total, m_batch);
  const Node* per_row = mul(broadcast(scale, {M}), sub(sum(unary(Op::Log1p, exp(logits)), 1),
                                                       sum(mul(logits, x), 1)));
  return sub(sub(mul(scale, sub(loglik, kl)), mul(baseline, 1e-3)), mul(sum(per_row), 1e-2));
}

// The MLP-like composite of the gradient tests, with a softmax cross-entropy.
const Node* mlp_objective(Graph& g) {
  Extent M = Extent::runtime(g.symbol("M"));
  Extent D = c(3), H = c(4), K = c(2);
  const Node* x = input(g, "X", InputKind::Data, {M, D});
  const Node* y = input(g, "Y", InputKind::Data, {M, K});
  const Node* w1 = input(g, "W1", InputKind::Param, {D, H});
  const Node* b1 = input(g, "b1", InputKind::Param, {H});
  const Node* w2 = input(g, "W2", InputKind::Param, {K, H});
  const Node* b2 = input(g, "b2", InputKind::Param, {K});
  const Node* hidden = unary(Op::Tanh, add(matmul(x, w1), broadcast(b1, {M, H})));
  const Node* logits = add(matmul(hidden, w2, false, true), broadcast(b2, {M, K}));
  const Node* ll = sub(sum(mul(y, logits), 1), reduce(Op::LogSumExp, logits, 1));
  const Node* l2 = add(sum(square(w1)), sum(square(w2)));
  return sub(sum(ll), mul(l2, 0.01));
}

// Embedding lookups, a Cholesky-like factor solve, slices and concats.
const Node* structured_objective(Graph& g) {
  Extent M = Extent::runtime(g.symbol("M"));
  Extent n = c(3);
  const Node* table = input(g, "table", InputKind::Param, {c(5), n});
  const Node* idx = input(g, "idx", InputKind::Data, {M}, DType::Int);
  const Node* raw = input(g, "raw", InputKind::Param, {n, n});
  const Node* d = input(g, "d", InputKind::Param, {n});
  const Node* v = input(g, "v", InputKind::Param, {n});
  const Node* rows = gather(table, idx);                                     // [M, n]
  const Node* l = add(sub(tril(raw), diag_matrix(diag(raw))), diag_matrix(exp(d)));
  const Node* zt = tri_solve(l, transpose(rows));                            // [n, M]
  const Node* back = tri_solve(l, zt, true);
  const Node* mixed = concat(slice(back, 0, 1, 3), slice(back, 0, 0, 1), 0);  // rotated rows
  const Node* quad = sum(square(mixed), 0);                                  // [M]
  const Node* proj = matmul(rows, v);
  const Node* logdet = sum(log(square(diag(l))));
  const Node* top = reduce(Op::ReduceMax, add(proj, quad));
  return sub(add(sum(mul(proj, quad)), top), mul(logdet, 0.5));
}

}  // namespace

// --- values are kept -------------------------------------------------------------------------

TEST_CASE("simplify: composites and their gradients keep their values") {
  using Builder = const Node* (*)(Graph&);
  struct Composite {
    const char* name;
    Builder build;
    std::int64_t rows;
  };
  for (Composite comp : {Composite{"vae", vae_objective, 1}, Composite{"mlp", mlp_objective, 1},
                         Composite{"structured", structured_objective, 5}}) {
    for (std::int64_t m : {1, 3}) {
      for (int trial = 0; trial < 3; ++trial) {
        Graph g;
        std::vector<const Node*> roots = with_gradient(comp.build(g));
        Bindings b;
        b.sizes["M"] = m;
        std::mt19937_64 rng(static_cast<std::uint64_t>(100 * m + trial));
        bind_all(roots, b, rng, -1, 1, comp.rows);
        if (b.inputs.count("N")) {
          b.inputs["N"] = Tensor::scalar(1000);
          b.inputs["Mb"] = Tensor::scalar(static_cast<double>(m));
        }
        check_same_values(roots, b, std::string(comp.name) + " M=" + std::to_string(m) +
                                        " trial " + std::to_string(trial));
      }
    }
  }
}

TEST_CASE("simplify: random elementwise expressions keep their values") {
  // Random expression trees over a few inputs, with constants 0, 1, -1, 0.5, 2 sprinkled in so
  // that the identities fire, and their gradients.
  const Op unaries[] = {Op::Neg, Op::Exp, Op::Square, Op::Tanh, Op::Sigmoid, Op::Softplus,
                        Op::StopGradient, Op::Log, Op::Sqrt, Op::Log1p};
  const Op binaries[] = {Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Min, Op::Max};
  const double constants[] = {0, 1, -1, 0.5, 2};
  for (int trial = 0; trial < 60; ++trial) {
    std::mt19937_64 rng(7000 + trial);
    auto pick = [&](std::size_t n) {
      return static_cast<std::size_t>(std::uniform_int_distribution<std::size_t>(0, n - 1)(rng));
    };
    Graph g;
    Extent M = Extent::runtime(g.symbol("M"));
    Shape s = {M, c(2)};
    std::vector<const Node*> pool = {input(g, "a", InputKind::Param, s),
                                     input(g, "b", InputKind::Param, s),
                                     input(g, "r", InputKind::Param, {c(2)}),
                                     input(g, "k", InputKind::Param, {})};
    pool.push_back(broadcast(pool[2], s));
    pool.push_back(broadcast(pool[3], s));
    for (int step = 0; step < 12; ++step) {
      const Node* x = pool[pick(pool.size())];
      if (x->shape() != s) x = x->is_scalar() ? broadcast(x, s) : broadcast(x, s, 1u);
      const Node* n;
      switch (pick(3)) {
        case 0: {
          Op op = unaries[pick(std::size(unaries))];
          // log, sqrt and log1p only of positive values.
          if (op == Op::Log || op == Op::Sqrt || op == Op::Log1p) x = unary(Op::Softplus, x);
          if (op == Op::Exp || op == Op::Square) x = unary(Op::Tanh, x);  // no overflow
          n = unary(op, x);
          break;
        }
        case 1: {
          const Node* y = pool[pick(pool.size())];
          if (y->shape() != s) y = y->is_scalar() ? broadcast(y, s) : broadcast(y, s, 1u);
          Op op = binaries[pick(std::size(binaries))];
          if (op == Op::Div) y = add(unary(Op::Softplus, y), 0.5);
          n = binary(op, x, y);
          break;
        }
        default: {
          const Node* k = constant(g, constants[pick(std::size(constants))]);
          Op op = binaries[pick(3)];
          n = pick(2) ? binary(op, k, x) : binary(op, x, k);
          break;
        }
      }
      // Keep magnitudes tame for the next steps.
      pool.push_back(pick(4) == 0 ? unary(Op::Tanh, n) : n);
    }
    const Node* objective = sum(unary(Op::Tanh, pool.back()));
    for (std::size_t i = pool.size() - 4; i < pool.size() - 1; ++i) {
      objective = add(objective, sum(unary(Op::Tanh, pool[i])));
    }
    std::vector<const Node*> roots = with_gradient(objective);
    Bindings b;
    b.sizes["M"] = 2;
    bind_all(roots, b, rng);
    check_same_values(roots, b, "random expression " + std::to_string(trial));
  }
}

TEST_CASE("simplify: leaves and untouched graphs come back as they are") {
  Graph g;
  const Node* x = input(g, "x", InputKind::Param, {c(3)});
  const Node* k = constant(g, 2, {c(3)});
  std::vector<const Node*> out = vmc::diff::simplify({x, k, exp(x), x});
  CHECK(out[0] == x);
  CHECK(out[1] == k);
  CHECK(out[2] == exp(x));
  CHECK(out[3] == x);
  CHECK(vmc::diff::simplify({}).empty());
}

// --- each rule -------------------------------------------------------------------------------

TEST_CASE("simplify: identities of add, sub, mul, div, pow") {
  Graph g;
  Extent M = Extent::runtime(g.symbol("M"));
  const Node* x = input(g, "x", InputKind::Param, {M, c(3)});
  const Node* y = input(g, "y", InputKind::Param, {M, c(3)});
  const Node* zero = constant_like(x, 0);
  const Node* one = constant_like(x, 1);

  CHECK(simplified(mul(x, 1.0)) == x);
  CHECK(simplified(mul(one, x)) == x);
  CHECK(simplified(add(x, 0.0)) == x);
  CHECK(simplified(add(zero, x)) == x);
  CHECK(simplified(sub(x, zero)) == x);
  CHECK(simplified(div(x, one)) == x);
  CHECK(simplified(binary(Op::Pow, x, one)) == x);

  const Node* zx = simplified(mul(zero, x));
  CHECK(zx->is_const(0));
  CHECK(zx->shape() == x->shape());
  CHECK(simplified(mul(x, 0.0))->is_const(0));
  CHECK(simplified(div(zero, x))->is_const(0));
  const Node* diff = simplified(sub(x, x));
  CHECK(diff->is_const(0));
  CHECK(diff->shape() == x->shape());
  CHECK(simplified(sub(exp(x), exp(x)))->is_const(0));

  CHECK(simplified(sub(zero, x)) == neg(x));
  CHECK(simplified(mul(x, -1.0)) == neg(x));
  CHECK(simplified(neg(neg(x))) == x);
  CHECK(simplified(neg(neg(neg(x)))) == neg(x));
  CHECK(simplified(neg(sub(x, y))) == sub(y, x));
  CHECK(simplified(add(x, neg(y))) == sub(x, y));
  CHECK(simplified(add(neg(x), y)) == sub(y, x));
  CHECK(simplified(sub(x, neg(y))) == add(x, y));
  CHECK(simplified(mul(x, neg(y))) == neg(mul(x, y)));
  CHECK(simplified(mul(neg(x), y)) == neg(mul(x, y)));
  CHECK(simplified(binary(Op::Pow, x, constant_like(x, 2))) == square(x));
  CHECK(simplified(binary(Op::Pow, x, constant_like(x, 0.5))) == unary(Op::Sqrt, x));

  // Constants go first in commutative ops, so x·2 and 2·x are one node.
  const Node* two_x = simplified(mul(x, 2.0));
  CHECK(simplified(mul(constant_like(x, 2), x)) == two_x);
  CHECK(two_x->arg(0)->is_const(2));
  CHECK(simplified(add(x, 3.0)) == simplified(add(constant_like(x, 3), x)));
  // c1·(c2·x) = (c1 c2)·x.
  CHECK(simplified(mul(mul(x, 2.0), 3.0)) == simplified(mul(x, 6.0)));
  CHECK(simplified(mul(mul(x, 2.0), 0.5)) == x);
  // Non-commutative ops keep their order.
  CHECK(simplified(sub(constant_like(x, 2), x)) == sub(constant_like(x, 2), x));
  CHECK(simplified(div(constant_like(x, 2), x)) == div(constant_like(x, 2), x));
}

TEST_CASE("simplify: log, exp, sigmoid and softplus identities") {
  Graph g;
  Extent M = Extent::runtime(g.symbol("M"));
  const Node* a = input(g, "a", InputKind::Param, {M, c(2)});
  CHECK(simplified(log(exp(a))) == a);
  CHECK(simplified(exp(log(a))) == a);
  CHECK(simplified(log(unary(Op::Sigmoid, a))) == unary(Op::LogSigmoid, a));
  CHECK(simplified(unary(Op::Log1p, exp(a))) == unary(Op::Softplus, a));
  CHECK(simplified(square(unary(Op::Sqrt, a))) == a);
  CHECK(simplified(square(neg(a))) == square(a));

  // square(exp(0.5 a)) = exp(a): the Gaussian's σ² from log σ², exactly the node exp(a).
  const Node* expected = exp(a);
  CHECK(simplified(square(exp(mul(a, 0.5)))) == expected);
  CHECK(simplified(square(exp(mul(constant_like(a, 0.5), a)))) == expected);
  // Other scales give exp(c·a) with c doubled.
  CHECK(simplified(square(exp(mul(a, 1.5)))) == exp(simplified(mul(a, 3.0))));
  CHECK(simplified(square(exp(a))) == exp(simplified(mul(a, 2.0))));
  // The rules compose: log(exp(log(exp(a)))) = a; log(square(exp(0.5 a))) = a.
  CHECK(simplified(log(exp(log(exp(a))))) == a);
  CHECK(simplified(log(square(exp(mul(a, 0.5))))) == a);
}

TEST_CASE("simplify: transposes fold into products and cancel") {
  Graph g;
  Extent M = Extent::runtime(g.symbol("M"));
  const Node* a = input(g, "a", InputKind::Param, {c(3), M});
  const Node* b = input(g, "b", InputKind::Param, {c(3), c(2)});
  const Node* v = input(g, "v", InputKind::Param, {c(3)});
  CHECK(simplified(transpose(transpose(a))) == a);
  CHECK(simplified(transpose(transpose(transpose(a)))) == transpose(a));
  CHECK(simplified(matmul(transpose(a), b)) == matmul(a, b, true));
  CHECK(simplified(matmul(transpose(b), a)) == matmul(b, a, true));
  CHECK(simplified(matmul(transpose(a), transpose(transpose(b)))) == matmul(a, b, true));
  CHECK(simplified(matmul(transpose(transpose(a)), b, true)) == matmul(a, b, true));
  const Node* p = input(g, "p", InputKind::Param, {M, c(2)});
  CHECK(simplified(matmul(transpose(a), p, true)) == matmul(a, p));  // the flag flips back
  const Node* bt = input(g, "bt", InputKind::Param, {c(2), c(3)});
  CHECK(simplified(matmul(bt, transpose(bt))) == matmul(bt, bt, false, true));
  CHECK(simplified(matmul(transpose(a), transpose(bt))) == matmul(a, bt, true, true));
  CHECK(simplified(matmul(transpose(bt), transpose(a), true, true)) == matmul(bt, a));
  CHECK(simplified(matmul(transpose(a), v)) == matmul(a, v, true));
  CHECK(simplified(matmul(v, transpose(bt))) == matmul(v, bt, false, true));
  // Products with a zero are zero, at the product's shape.
  const Node* z = simplified(matmul(transpose(a), constant(g, 0, {c(3), c(2)})));
  CHECK(z->is_const(0));
  CHECK(z->shape() == Shape{M, c(2)});
}

TEST_CASE("simplify: constant folding") {
  Graph g;
  const Node* x = input(g, "x", InputKind::Param, {c(2), c(3)});
  CHECK(simplified(add(constant(g, 2), constant(g, 3)))->is_const(5));
  const Node* folded = simplified(exp(constant(g, 0, {c(2), c(3)})));
  CHECK(folded->is_const(1));
  CHECK(folded->shape() == Shape{c(2), c(3)});
  CHECK(simplified(unary(Op::Log, constant(g, 1)))->is_const(0));
  CHECK(simplified(mul(add(constant(g, 1), constant(g, 2)), sub(constant(g, 5), constant(g, 1))))
            ->is_const(12));
  CHECK(simplified(binary(Op::Greater, constant(g, 2), constant(g, 1)))->is_const(1));
  CHECK(simplified(binary(Op::Pow, constant(g, 2), constant(g, 10)))->is_const(1024));
  CHECK(simplified(unary(Op::Sqrt, constant(g, 16)))->is_const(4));
  // A folded constant scalar broadcast to a shape, and shape ops of constants, are constants.
  const Node* bc = simplified(broadcast(add(constant(g, 1), constant(g, 1)), {c(2), c(3)}));
  CHECK(bc->is_const(2));
  CHECK(bc->shape() == Shape{c(2), c(3)});
  CHECK(simplified(transpose(constant(g, 3, {c(2), c(3)})))->is_const(3));
  CHECK(simplified(transpose(constant(g, 3, {c(2), c(3)})))->shape() == Shape{c(3), c(2)});
  CHECK(simplified(reshape(constant(g, 3, {c(2), c(3)}), {c(6)}))->is_const(3));
  // Constant operands of a non-constant expression fold, the rest stays.
  CHECK(simplified(add(x, add(constant(g, 1), constant(g, 2)))) == simplified(add(x, 3.0)));
  CHECK(simplified(mul(x, exp(constant(g, 0)))) == x);
  // Sums of zero are zero; select of a constant condition is a branch.
  CHECK(simplified(sum(mul(x, 0.0), 1))->is_const(0));
  CHECK(simplified(sum(mul(x, 0.0), 1))->shape() == Shape{c(2)});
  const Node* y = input(g, "y", InputKind::Param, {c(2), c(3)});
  CHECK(simplified(select(constant_like(x, 1), x, y)) == x);
  CHECK(simplified(select(constant_like(x, 0), x, y)) == y);
  CHECK(simplified(select(y, x, x)) == x);
}

TEST_CASE("simplify: stop_gradient is removed after differentiation") {
  Graph g;
  const Node* x = input(g, "x", InputKind::Param, {c(3)});
  CHECK(simplified(unary(Op::StopGradient, x)) == x);
  CHECK(simplified(exp(unary(Op::StopGradient, log(x)))) == x);
  const Node* objective = sum(mul(unary(Op::StopGradient, exp(x)), x));
  std::vector<const Node*> roots = with_gradient(objective);
  CHECK(contains(roots, Op::StopGradient));
  std::vector<const Node*> simple = vmc::diff::simplify(roots);
  CHECK_FALSE(contains(simple, Op::StopGradient));
  CHECK(simple[0] == simplified(sum(mul(exp(x), x))));
  CHECK(simple[1] == exp(x));  // the gradient saw exp(x) as a constant
}

TEST_CASE("simplify: broadcasts of broadcasts merge") {
  Graph g;
  Extent M = Extent::runtime(g.symbol("M"));
  const Node* v = input(g, "v", InputKind::Param, {c(3)});
  // [3] → [M, 3] (new axis 0) → [M, 4, 3] (new axis 1): one broadcast with new axes {0, 1}.
  const Node* twice = broadcast(broadcast(v, {M, c(3)}, 1u), {M, c(4), c(3)}, 2u);
  const Node* merged = simplified(twice);
  CHECK(merged == broadcast(v, {M, c(4), c(3)}, 3u));
  // [3] → [3, 2] (new axis 1) → [5, 3, 2] (new axis 0): new axes {0, 2}.
  CHECK(simplified(broadcast(broadcast(v, {c(3), c(2)}, 2u), {c(5), c(3), c(2)}, 1u)) ==
        broadcast(v, {c(5), c(3), c(2)}, 5u));
  // [3] → [2, 3] (new axis 0) → [2, 3, M] (new axis 2): new axes {0, 2}.
  CHECK(simplified(broadcast(broadcast(v, {c(2), c(3)}, 1u), {c(2), c(3), M}, 4u)) ==
        broadcast(v, {c(2), c(3), M}, 5u));
  // Three deep, with a scalar: everything new.
  const Node* s = input(g, "s", InputKind::Param, {});
  const Node* deep = broadcast(broadcast(broadcast(s, {c(2)}), {c(2), c(3)}, 2u), {c(4), c(2), c(3)}, 1u);
  CHECK(simplified(deep) == broadcast(s, {c(4), c(2), c(3)}, 7u));

  Bindings b;
  b.sizes["M"] = 2;
  std::mt19937_64 rng(3);
  bind_all({twice, deep}, b, rng);
  check_same_values({twice, deep, broadcast(broadcast(v, {c(3), c(2)}, 2u), {c(5), c(3), c(2)}, 1u)},
                    b, "merged broadcasts");
}

TEST_CASE("simplify: elementwise work moves inside broadcasts") {
  Graph g;
  Extent M = Extent::runtime(g.symbol("M"));
  const Node* v = input(g, "v", InputKind::Param, {c(3)});
  const Node* u = input(g, "u", InputKind::Param, {c(3)});
  Shape s = {M, c(3)};
  const Node* bv = broadcast(v, s);
  const Node* bu = broadcast(u, s);
  CHECK(simplified(exp(bv)) == broadcast(exp(v), s));
  CHECK(simplified(unary(Op::Tanh, neg(bv))) == broadcast(unary(Op::Tanh, neg(v)), s));
  CHECK(simplified(add(bv, bu)) == broadcast(add(v, u), s));
  CHECK(simplified(mul(exp(bv), bu)) == broadcast(mul(exp(v), u), s));
  // Different new axes stay apart.
  const Node* col = broadcast(input(g, "w", InputKind::Param, {M}), s, 2u);
  CHECK(simplified(add(bv, col)) == add(bv, col));
  // A constant scalar factor of a sum over everything moves out of the sum.
  const Node* x = input(g, "x", InputKind::Param, s);
  const Node* k = input(g, "k", InputKind::Param, {});
  CHECK(simplified(sum(mul(k, x))) == mul(k, sum(x)));
  CHECK(simplified(sum(mul(mul(k, x), 1.0))) == mul(k, sum(x)));

  Bindings b;
  b.sizes["M"] = 3;
  std::mt19937_64 rng(5);
  std::vector<const Node*> roots = {exp(bv), add(bv, bu), mul(exp(bv), bu), sum(mul(k, x)),
                                    add(bv, col)};
  bind_all(roots, b, rng);
  check_same_values(roots, b, "work inside broadcasts");
}

TEST_CASE("simplify: equal subexpressions become one node") {
  Graph g;
  const Node* x = input(g, "x", InputKind::Param, {c(2)});
  // (x·1)·exp(x + 0) and x·exp(x) simplify to the same node.
  const Node* messy = mul(mul(x, 1.0), exp(add(x, 0.0)));
  const Node* clean = mul(x, exp(x));
  CHECK(simplified(messy) == clean);
  std::vector<const Node*> both = vmc::diff::simplify({messy, clean});
  CHECK(both[0] == both[1]);
  CHECK(count_nodes(both) == 3);
  CHECK(count_nodes({messy, clean}) > 3);
}

TEST_CASE("simplify: results are fixed points") {
  for (auto build : {vae_objective, mlp_objective, structured_objective}) {
    Graph g;
    std::vector<const Node*> once = vmc::diff::simplify(with_gradient(build(g)));
    std::vector<const Node*> twice = vmc::diff::simplify(once);
    CHECK(once == twice);
  }
}

TEST_CASE("simplify: the gradient of a small VAE shrinks") {
  Graph g;
  std::vector<const Node*> roots = with_gradient(vae_objective(g));
  REQUIRE(roots.size() == 7);  // the ELBO and six parameter gradients
  std::size_t before = count_nodes(roots);
  std::vector<const Node*> simple = vmc::diff::simplify(roots);
  std::size_t after = count_nodes(simple);
  MESSAGE("VAE objective and gradient: " << before << " nodes, " << after << " simplified");
  CHECK(after < before);
  CHECK_FALSE(contains(simple, Op::StopGradient));
  for (const Node* n : topological_order(simple)) {  // folded into matmul flags
    if (n->op() == Op::MatMul) {
      CHECK(n->arg(0)->op() != Op::Transpose);
      CHECK(n->arg(1)->op() != Op::Transpose);
    }
  }
  // log(sigmoid(·)) became log_sigmoid, and no exp(0.5 ·)² remains.
  CHECK(contains(simple, Op::LogSigmoid));
  CHECK(contains(simple, Op::Softplus));
  for (const Node* n : topological_order(simple)) {
    if (n->op() == Op::Square) CHECK(n->arg(0)->op() != Op::Exp);
    if (n->op() == Op::Log) CHECK(n->arg(0)->op() != Op::Sigmoid);
  }
  // The count is of distinct nodes: the roots share most of the graph.
  std::size_t separate = 0;
  for (const Node* r : simple) separate += count_nodes({r});
  CHECK(separate > after);
}

TEST_CASE("simplify: a 100,000-node chain simplifies without deep recursion") {
  Graph g;
  const Node* x = input(g, "x", InputKind::Param, {});
  const Node* n = x;
  for (int i = 0; i < 100000; ++i) n = i % 3 == 0 ? mul(n, 1.0) : add(exp(log(n)), 0.0);
  CHECK(simplified(n) == x);
  const Node* k = constant(g, 0);
  for (int i = 0; i < 100000; ++i) k = add(k, constant(g, 1));
  CHECK(simplified(k)->is_const(100000));
  CHECK(count_nodes({k}) == 100000 + 2);
}

// --- stabilize (compiler/diff/stabilize.cpp), before differentiation --------------------------

TEST_CASE("stabilize: sqrt of a product with an exp takes the exp out, so its gradient is finite") {
  Graph g;
  const Node* x = input(g, "x", InputKind::Param, {c(3)});
  const Node* s = input(g, "s", InputKind::Param, {});
  // brms's sqrt(spd): sqrt(s² · 2 · exp(-500 x²)), whose exp underflows to 0 at |x| ≥ 1.2.
  const Node* spd = mul(broadcast_to(mul(square(s), 2.0), x->shape()), exp(mul(square(x), -500.0)));
  const Node* f = sum(unary(Op::Sqrt, spd));
  const Node* stable = vmc::diff::stabilize({f}).front();
  CHECK(stable != f);
  CHECK(contains({stable}, Op::Sqrt));  // sqrt(s² · 2) stays: no exp in it
  Bindings b;
  b.inputs["s"] = Tensor::scalar(1.5);
  for (const std::vector<double>& xs : {std::vector<double>{0.01, -0.05, 0.03}, std::vector<double>{2.0, -3.0, 0.02}}) {
    b.inputs["x"] = Tensor{{3}, xs};
    CHECK(evaluate(stable, b).item() == doctest::Approx(evaluate(f, b).item()).epsilon(1e-14));
    std::vector<const Node*> grads = vmc::diff::gradient(stable, {x, s});
    std::vector<Tensor> got = evaluate(grads, b);
    for (double v : got[0].values) CHECK(std::isfinite(v));
    CHECK(std::isfinite(got[1].item()));
    // d/dx_k of sqrt(2) s exp(-250 x_k²) = -500 x_k · that.
    for (std::size_t k = 0; k < 3; ++k) {
      double want = -500 * xs[k] * std::sqrt(2.0) * 1.5 * std::exp(-250 * xs[k] * xs[k]);
      CHECK(got[0].values[k] == doctest::Approx(want).epsilon(1e-12));
    }
  }
  // Without the rewrite the underflowed elements give 0.5 / sqrt(0) · 0 = NaN.
  b.inputs["x"] = Tensor{{3}, {2.0, -3.0, 0.02}};
  std::vector<Tensor> raw = evaluate(vmc::diff::gradient(f, {x}), b);
  CHECK(std::isnan(raw[0].values[0]));
  // A factor that may be negative keeps the root whole: sqrt(x · exp(y)) ≠ sqrt(x) exp(y/2) for x < 0.
  const Node* unsure = unary(Op::Sqrt, mul(x, exp(x)));
  CHECK(vmc::diff::stabilize({unsure}).front() == unsure);
  const Node* whole_exp = unary(Op::Sqrt, exp(x));
  CHECK(vmc::diff::stabilize({whole_exp}).front() == exp(mul(x, 0.5)));
}

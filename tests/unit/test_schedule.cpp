// A kernel's schedule (compiler/codegen/schedule.hpp), decided before any LLVM is written: which
// products the runtime may defer (abi.h, vmc_gemm_rows_*), and that the buffers they read stay
// untouched to the kernel's end, since a threaded step computes them after every kernel returned.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "codegen/schedule.hpp"
#include "ir/builder.hpp"
#include "jit/compiled_model.hpp"
#include "test_lower_helpers.hpp"

using namespace vmc;
using namespace lower_test;

TEST_CASE("schedule: a VAE's weight gradients are deferred products whose operands live to the end") {
  struct Case {
    const char* model;
    std::set<std::string> weights;
  };
  for (const Case& c : {Case{"bernoulli_vae", {"dec_W", "mu_W", "enc_W", "zm_W", "zv_W"}},
                        Case{"gaussian_vae", {"dec_W", "mu_W", "lv_W", "enc_W", "zm_W", "zv_W"}}}) {
    CAPTURE(c.model);
    for (Estimator::Ref e : {Estimator::A, Estimator::B}) {
      Compiled m(stdlib_text(c.model), sema_options({{"D", 784}}), lower_options(e));
      REQUIRE_MESSAGE(m.ok(), m.messages());
      std::vector<codegen::KernelSpec> specs = jit::kernel_specs(m.l(), {"elbo_grad", "elbo"});
      const codegen::KernelSpec& grad = specs[0];
      CHECK(!grad.row_symbols.empty());
      CHECK(specs[1].row_symbols.empty());  // only the training step's kernel is split by rows
      std::vector<const ir::Node*> inputs;
      for (const ir::Node* n : ir::topological_order(grad.outputs)) {
        if (n->op() == ir::Op::Input) inputs.push_back(n);
      }
      codegen::Schedule s = codegen::schedule(grad.outputs, inputs, 4, grad.row_symbols);
      std::set<std::string> deferred;
      for (std::size_t k = 0; k < grad.outputs.size(); ++k) {
        if (s.deferred.count(grad.outputs[k])) deferred.insert(m.l().function.outputs[k].name);
      }
      std::set<std::string> expected;
      for (const std::string& w : c.weights) expected.insert("grad." + w);
      CHECK(deferred == expected);  // the weights' Xᵀ·δ; not the biases (sums) nor the elbo
      // No buffer computed after a deferred product shares a slot with one of its operands.
      for (const ir::Node* n : s.deferred) {
        auto at = std::find(s.computed.begin(), s.computed.end(), n) - s.computed.begin();
        for (const ir::Node* operand : n->args()) {
          const codegen::Placement& p = s.where(operand);
          if (p.home != codegen::Home::Workspace) continue;
          for (auto t = static_cast<std::size_t>(at) + 1; t < s.computed.size(); ++t) {
            const codegen::Placement& q = s.where(s.computed[t]);
            CHECK_FALSE((q.home == codegen::Home::Workspace && q.index == p.index));
          }
        }
      }
      // Without the row symbols (any other kernel) nothing is deferred.
      CHECK(codegen::schedule(grad.outputs, inputs, 4).deferred.empty());
    }
  }
}

TEST_CASE("schedule: a short cheap chain with several users is recomputed in each, anything dearer is stored") {
  ir::Graph g;
  const ir::Shape mat{ir::Extent::constant(8), ir::Extent::constant(6)};
  const ir::Node* x = ir::input(g, "x", ir::InputKind::Data, {ir::Extent::constant(8), ir::Extent::constant(5)});
  const ir::Node* w = ir::input(g, "w", ir::InputKind::Param, {ir::Extent::constant(5), ir::Extent::constant(6)});
  const ir::Node* bias = ir::input(g, "b", ir::InputKind::Param, {ir::Extent::constant(6)});
  const ir::Node* other = ir::input(g, "y", ir::InputKind::Data, mat);
  const ir::Node* product = ir::matmul(x, w);
  // A bias added to a product's output, and its negated absolute value: a chain of three cheap
  // ops that loads one full-size array (the product) and a broadcast vector.
  const ir::Node* logits = ir::add(product, ir::broadcast(bias, mat, 1u));
  const ir::Node* folded = ir::neg(ir::unary(ir::Op::Abs, logits));
  // Two users each of `logits` and `folded`, in loops of their own (sums over different axes).
  const ir::Node* exp_folded = ir::exp(folded);
  // Loads two full-size arrays: stored for its two users.
  const ir::Node* two_loads = ir::mul(product, other);
  // A costly op: stored for its two users.
  const ir::Node* costly = ir::exp(product);
  // Five cheap ops: longer than is recomputed.
  const ir::Node* long_chain = ir::neg(ir::square(ir::neg(ir::square(ir::neg(product)))));
  std::vector<const ir::Node*> outputs;
  for (const ir::Node* n : {logits, folded, two_loads, costly, long_chain}) {
    outputs.push_back(ir::sum(ir::log(ir::add(n, 10.0)), 0));
    outputs.push_back(ir::sum(ir::exp(n), 1));
  }
  outputs.push_back(ir::sum(ir::log(exp_folded), 0));
  std::vector<const ir::Node*> inputs{x, w, bias, other};
  codegen::Schedule s = codegen::schedule(outputs, inputs, 8);
  CHECK(s.stored(product));  // a product's output always has a buffer
  CHECK_FALSE(s.stored(logits));
  CHECK_FALSE(s.stored(folded));
  CHECK(s.stored(two_loads));
  CHECK(s.stored(costly));
  CHECK(s.stored(long_chain));
  // The product's buffer stays live for every loop that recomputes the chain: no buffer
  // computed before the last of them shares its slot.
  const codegen::Placement& p = s.where(product);
  REQUIRE(p.home == codegen::Home::Workspace);
  auto at = [&](const ir::Node* n) { return std::find(s.computed.begin(), s.computed.end(), n) - s.computed.begin(); };
  std::ptrdiff_t last_reader = 0;
  for (std::size_t t = 0; t < s.computed.size(); ++t) {
    std::vector<const ir::Node*> reads;
    for (const ir::Node* a : s.computed[t]->args()) codegen::stored_reads(s, a, reads);
    if (std::find(reads.begin(), reads.end(), product) != reads.end()) last_reader = static_cast<std::ptrdiff_t>(t);
  }
  CHECK(last_reader > at(two_loads));
  for (std::ptrdiff_t t = at(product) + 1; t < last_reader; ++t) {
    const codegen::Placement& q = s.where(s.computed[static_cast<std::size_t>(t)]);
    CHECK_FALSE((q.home == codegen::Home::Workspace && q.index == p.index));
  }
}

TEST_CASE("schedule: a value whose users are all computed in one loop, at its index, needs no buffer") {
  ir::Graph g;
  const ir::Shape mat{ir::Extent::constant(8), ir::Extent::constant(6)};
  const ir::Node* l = ir::input(g, "l", ir::InputKind::Data, mat);
  // e / (1 + e) with e = exp(l): e has two users, both inlined into the one loop of the sum.
  const ir::Node* e = ir::exp(l);
  const ir::Node* sigmoid = ir::div(e, ir::add(e, 1.0));
  // exp(2 l) read by a sum and by the loop of a stored output: two loops, so a buffer.
  const ir::Node* twice = ir::exp(ir::mul(l, 2.0));
  // log(l + 3) read at its own index and, through a transpose, at another: a buffer.
  const ir::Node* shifted = ir::log(ir::add(l, 3.0));
  const ir::Node* other_index = ir::add(shifted, ir::transpose(ir::transpose(shifted)));
  const std::vector<const ir::Node*> outputs{ir::sum(sigmoid), ir::sum(twice), ir::mul(twice, l),
                                             ir::sum(ir::mul(other_index, ir::exp(ir::transpose(ir::transpose(shifted)))))};
  codegen::Schedule s = codegen::schedule(outputs, {l}, 8);
  CHECK_FALSE(s.stored(e));
  CHECK_FALSE(s.stored(sigmoid));
  CHECK(s.stored(twice));
  CHECK(s.stored(shifted));
}

TEST_CASE("schedule: an elementwise buffer sharing a full sum's loads is computed in the sum's loop") {
  ir::Graph g;
  const ir::Shape mat{ir::Extent::constant(8), ir::Extent::constant(6)};
  const ir::Node* l = ir::input(g, "l", ir::InputKind::Data, mat);
  const ir::Node* x = ir::input(g, "x", ir::InputKind::Data, mat);
  const ir::Node* y = ir::input(g, "y", ir::InputKind::Data, mat);
  const ir::Node* seed = ir::input(g, "seed", ir::InputKind::Param, {});
  // A likelihood's Σ x·l − exp(l), then its adjoint (x − exp(l))·scale, where the scale is a
  // scalar computed after the sum: the adjoint rides in the sum's loop, the scale moved before.
  const ir::Node* loglik = ir::sum(ir::sub(ir::mul(x, l), ir::exp(l)));
  const ir::Node* scale = ir::mul(ir::exp(seed), 2.0);
  const ir::Node* adjoint = ir::mul(ir::sub(x, ir::exp(l)), ir::broadcast(scale, mat));
  // Not riders: one that shares no load with the sum, one that reads the sum itself, one that
  // reads a full-size buffer computed after the sum.
  const ir::Node* apart = ir::exp(ir::mul(y, 3.0));
  const ir::Node* after = ir::mul(l, ir::broadcast(loglik, mat));
  const ir::Node* later = ir::mul(ir::add(l, x), ir::log(ir::add(after, 5.0)));
  const std::vector<const ir::Node*> outputs{loglik, scale, adjoint, apart, after, later};
  codegen::Schedule s = codegen::schedule(outputs, {l, x, y, seed}, 8);
  REQUIRE(s.riders.count(loglik));
  CHECK(s.riders.at(loglik) == std::vector<const ir::Node*>{adjoint});
  CHECK(s.riding == std::set<const ir::Node*>{adjoint});
  auto at = [&](const ir::Node* n) { return std::find(s.computed.begin(), s.computed.end(), n) - s.computed.begin(); };
  CHECK(at(scale) < at(adjoint));
  CHECK(at(adjoint) < at(loglik));
  CHECK(at(loglik) < at(apart));
}

TEST_CASE("schedule: no buffer written in a sum's loop shares a slot with one read there") {
  ir::Graph g;
  const ir::Shape mat{ir::Extent::constant(8), ir::Extent::constant(6)};
  const ir::Node* l = ir::input(g, "l", ir::InputKind::Data, mat);
  const ir::Node* bias = ir::input(g, "b", ir::InputKind::Param, {ir::Extent::constant(6)});
  const ir::Node* w = ir::input(g, "w", ir::InputKind::Param, {ir::Extent::constant(6), ir::Extent::constant(3)});
  // exp(b), stored at its own size for its broadcast, read last by the first rider (at every
  // row); the second rider is a workspace buffer (a product's operand): were the first
  // rider's reads counted at its own place in the order, not at its sum's loop, the second
  // would take exp(b)'s slot and overwrite it in the loop's first row.
  const ir::Node* e = ir::exp(bias);
  const ir::Node* first = ir::mul(l, ir::broadcast(e, mat));
  const ir::Node* second = ir::exp(ir::mul(l, 2.0));
  const std::vector<const ir::Node*> outputs{ir::sum(e), ir::sum(ir::mul(l, l)), first,
                                             ir::matmul(second, w)};
  codegen::Schedule s = codegen::schedule(outputs, {l, bias, w}, 8);
  REQUIRE(s.riders.count(outputs[1]));
  REQUIRE(s.riders.at(outputs[1]).size() == 2);
  REQUIRE(s.where(e).home == codegen::Home::Workspace);
  REQUIRE(s.where(second).home == codegen::Home::Workspace);
  CHECK(s.where(e).index != s.where(second).index);
}

TEST_CASE("schedule: a sum over the rows of an elementwise buffer is accumulated in that buffer's loop") {
  ir::Graph g;
  const ir::Shape mat{ir::Extent::constant(8), ir::Extent::constant(6)};
  const ir::Node* l = ir::input(g, "l", ir::InputKind::Data, mat);
  const ir::Node* h = ir::input(g, "h", ir::InputKind::Data, mat);
  const ir::Node* w = ir::input(g, "w", ir::InputKind::Param, {ir::Extent::constant(6), ir::Extent::constant(3)});
  // An adjoint δ (stored: a product reads it) and its bias gradient Σ_rows δ: accumulated in
  // δ's loop. Σ_rows of a product's output is not (no elementwise loop computes it).
  const ir::Node* delta = ir::mul(ir::sub(ir::exp(l), h), ir::add(ir::mul(h, h), 1.0));
  const ir::Node* bias_grad = ir::reduce(ir::Op::Sum, delta, 0);
  const ir::Node* product = ir::matmul(delta, w);
  const ir::Node* product_rows = ir::reduce(ir::Op::Sum, product, 0);
  const std::vector<const ir::Node*> outputs{product, bias_grad, product_rows};
  codegen::Schedule s = codegen::schedule(outputs, {l, h, w}, 8);
  REQUIRE(s.accumulators.count(delta));
  CHECK(s.accumulators.at(delta) == std::vector<const ir::Node*>{bias_grad});
  CHECK(s.accumulating == std::set<const ir::Node*>{bias_grad});
  auto at = [&](const ir::Node* n) { return std::find(s.computed.begin(), s.computed.end(), n) - s.computed.begin(); };
  CHECK(at(bias_grad) + 1 == at(delta));
}

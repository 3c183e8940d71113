// A kernel's schedule (compiler/codegen/schedule.hpp), decided before any LLVM is written: which
// products the runtime may defer (abi.h, vmc_gemm_rows_*), and that the buffers they read stay
// untouched to the kernel's end, since a threaded step computes them after every kernel returned.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "codegen/schedule.hpp"
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
    for (Estimator e : {Estimator::A, Estimator::B}) {
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

// JIT vs interpreter, quick smoke version (the thorough differential suite builds on it).
#include <doctest/doctest.h>

#include "jit/compiled_model.hpp"
#include "test_lower_helpers.hpp"

using namespace lower_test;

TEST_CASE("jit: stdlib models' elbo_grad equals the interpreter (f64 and f32)") {
  struct Case { const char* model; Dims dims; };
  const Case cases[] = {
      {"gaussian_vae", {{"D", 6}, {"H", 5}, {"J", 2}}},
      {"bernoulli_vae", {{"D", 6}, {"H", 5}, {"J", 2}}},
      {"logistic_regression", {{"D", 3}}},
      {"eight_schools", {{"J", 8}}},
      {"ppca", {{"D", 4}}},
  };
  double worst[2] = {0, 0};
  for (const Case& c : cases) {
    for (Estimator e : {Estimator::A, Estimator::B, Estimator::Stl, Estimator::Iwae}) {
      Compiled m(stdlib_text(c.model), sema_options(c.dims), lower_options(e, 2));
      REQUIRE_MESSAGE(m.ok(), m.messages());
      ir::Bindings b = m.synthetic(3, 6, 4, 0.5);
      std::vector<const ir::Node*> outs;
      for (const ir::Output& o : m.l().function.outputs) outs.push_back(o.node);
      std::vector<ir::Tensor> want = ir::evaluate(outs, b);
      for (auto precision : {codegen::Precision::F64, codegen::Precision::F32}) {
        Diagnostics d;
        auto jit = jit::CompiledModel::build(m.l(), precision, d, c.model);
        REQUIRE(jit);
        std::vector<ir::Tensor> got = jit->run("elbo_grad", b);
        double eps = precision == codegen::Precision::F64 ? 1e-13 : 1e-5;
        for (std::size_t k = 0; k < want.size(); ++k) {
          double scale = 1;
          for (double v : want[k].values) scale = std::max(scale, std::abs(v));
          for (std::size_t i = 0; i < want[k].values.size(); ++i) {
            CAPTURE(c.model);
            CAPTURE(lower::to_string(e));
            CAPTURE(codegen::to_string(precision));
            CAPTURE(m.l().function.outputs[k].name);
            double err = std::abs(got[k].values[i] - want[k].values[i]) / (eps * scale);
            worst[precision == codegen::Precision::F64] = std::max(worst[precision == codegen::Precision::F64], err);
            CHECK(err <= 10);
          }
        }
      }
    }
  }
  MESSAGE("worst error / (eps·scale): f32 ", worst[0], ", f64 ", worst[1]);
}

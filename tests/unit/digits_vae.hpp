// Test fixtures: a stdlib VAE compiled for f32 with estimator A (DigitsVae), its data the
// embedded digits; read() a file whole.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "jit/compiled_model.hpp"
#include "test_lower_helpers.hpp"
#include "vmc/data.hpp"
#include "vmc/trainer.hpp"

namespace vmc::unit_test {

using namespace lower_test;

inline std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct DigitsVae {
  vmc::data::Array x = vmc::data::embedded_digits("x", false);
  std::optional<Compiled> m;
  std::unique_ptr<jit::CompiledModel> compiled;

  explicit DigitsVae(const std::string& model, const std::vector<std::string>& kernels = {"elbo_grad"}) {
    vmc::sema::Options so;
    so.data_shapes["x"] = x.shape;
    m.emplace(read(std::string(VMC_SOURCE_DIR) + "/stdlib/" + model + ".vmodel"), so,
              lower_options(Estimator::A));
    REQUIRE_MESSAGE(m->ok(), m->messages());
    Diagnostics d;
    compiled = jit::CompiledModel::build(m->l(), codegen::Precision::F32, d, model, kernels);
    REQUIRE(compiled);
  }
  vmc::runtime::Trainer trainer(const vmc::runtime::TrainerOptions& o) const {
    return vmc::runtime::Trainer(compiled->info(), {{"x", x}}, lower::initial_params(m->l(), 3), o);
  }
  vmc::runtime::Trainer trainer(int threads) const {
    vmc::runtime::TrainerOptions o;
    o.threads = threads;
    return trainer(o);
  }
};

}  // namespace vmc::unit_test

// libFuzzer target: the checkpoint reader (runtime/src/fit.cpp) on arbitrary bytes, into a
// trainer of a small hand-written model (abi.h only: no compiler, no LLVM). A damaged file must
// be a RuntimeError naming it. With VMC_FUZZ_SEED_DIR set, the target first writes a valid
// checkpoint there, the seed a mutation starts from.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

#include "vmc/abi.h"
#include "vmc/fit.hpp"
#include "vmc/trainer.hpp"
#include "tiny_model.hpp"

namespace {

// The bound Σ_i −(x_i − mu)²/2 over a minibatch of x[N], scaled by N/M, and its gradient (the
// model of tests/unit/test_trainer.cpp, without its row-free part).
void elbo_grad(const void* const* in, const int64_t* sizes, void* const* out, void*, vmc_context*) {
  const double mu = *static_cast<const double*>(in[0]);
  const auto* x = static_cast<const double*>(in[1]);
  const double n = *static_cast<const double*>(in[2]), m = *static_cast<const double*>(in[3]);
  double f = 0, g = 0;
  for (int64_t i = 0; i < sizes[1]; ++i) f += -0.5 * (x[i] - mu) * (x[i] - mu), g += x[i] - mu;
  *static_cast<double*>(out[0]) = n / m * f;
  *static_cast<double*>(out[1]) = n / m * g;
}
int64_t workspace(const int64_t*) { return 0; }

struct Tiny : TinyModel {
  Tiny() : TinyModel(elbo_grad, workspace, /*row_free_part=*/false) {}
};

}  // namespace

namespace {

vmc::runtime::Arrays rows() {
  vmc::data::Array x{"x", {10}, {}, false};
  for (int i = 0; i < 10; ++i) x.values.push_back(0.1 * i);
  return {{"x", x}};
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("VMC_FUZZ_SEED_DIR")) {
    static Tiny m;
    vmc::runtime::TrainerOptions o;
    o.default_batch = 4;
    vmc::runtime::Trainer t(m.info, rows(), {{"mu", {0.5}}}, o);
    vmc::runtime::FitHistory h;
    for (int s = 0; s < 3; ++s) t.step();
    vmc::runtime::write_checkpoint(std::string(dir) + "/valid.bin", t, h);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Tiny m;
  static const std::string path = [] {
    char tmpl[] = "/tmp/vmc_fuzz_ckpt.XXXXXX";
    return std::string(::mkdtemp(tmpl)) + "/checkpoint.bin";
  }();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  vmc::runtime::TrainerOptions o;
  o.default_batch = 4;
  vmc::runtime::Trainer t(m.info, rows(), {{"mu", {0.5}}}, o);
  for (bool params_only : {false, true}) {
    vmc::runtime::FitHistory h;
    try {
      vmc::runtime::read_checkpoint(path, t, h, params_only);
      t.step();  // whatever was read must be usable
    } catch (const vmc::runtime::RuntimeError&) {
    }
  }
  return 0;
}

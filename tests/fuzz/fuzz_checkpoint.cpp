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

namespace {

// The bound Σ_i −(x_i − mu)²/2 over a minibatch of x[N], scaled by N/M, and its gradient (the
// model of tests/unit/test_trainer.cpp, without its row-free part).
void elbo_grad(const void* const* in, const int64_t* sizes, void* const* out, void*) {
  const double mu = *static_cast<const double*>(in[0]);
  const auto* x = static_cast<const double*>(in[1]);
  const double n = *static_cast<const double*>(in[2]), m = *static_cast<const double*>(in[3]);
  double f = 0, g = 0;
  for (int64_t i = 0; i < sizes[1]; ++i) f += -0.5 * (x[i] - mu) * (x[i] - mu), g += x[i] - mu;
  *static_cast<double*>(out[0]) = n / m * f;
  *static_cast<double*>(out[1]) = n / m * g;
}
int64_t workspace(const int64_t*) { return 0; }

struct Tiny {
  const char* size_names[2] = {"N", "M"};
  const char* size_dims[2] = {"N", "N"};
  int64_t batch_extent[1] = {-2};  // the size symbol 1, M
  vmc_buffer_info inputs[5] = {
      {"mu", VMC_PARAM, 0, 0, nullptr, VMC_IDENTITY, 0, 0, ""},
      {"x", VMC_DATA, 0, 1, batch_extent, 0, 0, 0, "N"},
      {"N", VMC_SIZE, 0, 0, nullptr, 0, 0, 0, ""},
      {"M", VMC_SIZE, 0, 0, nullptr, 0, 0, 0, ""},
      {"eps.mu", VMC_NOISE, 0, 1, batch_extent, 0, 0, 0, ""},
  };
  vmc_buffer_info outputs[2] = {
      {"elbo", VMC_OUTPUT, 0, 0, nullptr, 0, 0, 0, ""},
      {"grad.mu", VMC_OUTPUT, 0, 0, nullptr, 0, 0, 0, ""},
  };
  int32_t reads[5] = {1, 1, 1, 1, 1};
  vmc_kernel_info kernel{"elbo_grad", elbo_grad, workspace, 2, outputs, reads};
  vmc_model_info info{VMC_ABI_VERSION, 8, 2, size_names, size_dims, 5, inputs, 1, 0, 0, nullptr, 1, &kernel};
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

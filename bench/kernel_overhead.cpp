// One elbo_grad call of a compiled model against the same products alone, in one process:
// the share of a step spent outside GEMM (fused loops, reductions, special functions).
//
//   build/bench/vmc_kernel_overhead [MODEL] [--set DIM=V ...] [--batch M] [--reps R]
//
// Defaults: stdlib/gaussian_vae.vmodel with D = 784 (Fashion-MNIST's pixels), M = 100, f32.
// Inputs are synthetic: timing does not depend on the values.
#include <algorithm>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "codegen/schedule.hpp"
#include "driver/commands.hpp"
#include "driver/frontend.hpp"
#include "lower/synthetic.hpp"
#include "vmc/abi.h"

using namespace vmc;
using Clock = std::chrono::steady_clock;

namespace {

struct Gemm {
  bool ta, tb;
  std::int64_t m, n, k, lda, ldb;
};

double median_us(const std::function<void()>& f, int reps) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  driver::ModelArgs args;
  args.model_path = "stdlib/gaussian_vae.vmodel";
  args.set = {"D=784"};
  args.no_cache = true;
  std::int64_t batch = 100;
  int reps = 200;
  bool model_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--set" && i + 1 < argc) {
      if (!model_given) args.set.clear();
      args.set.push_back(argv[++i]);
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::atoll(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      args.model_path = a;
      model_given = true;
      args.set.clear();
    }
  }
  driver::FrontEnd fe;
  if (!driver::compile_model(fe, args, driver::Stage::Native)) return 1;
  const lower::Lowered& l = *fe.lowered;
  lower::SyntheticOptions so;
  so.rows = 60000;
  so.batch = batch;
  ir::Bindings b = lower::synthetic_bindings(l, *fe.model, so);
  const jit::CompiledModel& model = *fe.compiled;
  const jit::CompiledKernel* k = model.kernel("elbo_grad");

  // Buffers once, as the fit loop will hold them.
  jit::CompiledModel::Call step = model.prepare("elbo_grad", b);

  // The same products alone: every matmul of the kernel's schedule, at these sizes.
  codegen::Schedule s = codegen::schedule(k->outputs, model.inputs(), 4);
  auto extent = [&](const ir::Extent& e) {
    return ir::concrete_shape({e}, *l.function.graph, b)[0];
  };
  std::vector<Gemm> gemms;
  double flops = 0;
  for (const ir::Node* n : s.computed) {
    if (n->op() != ir::Op::MatMul) continue;
    const ir::Node* a = n->arg(0);
    const ir::Node* c = n->arg(1);
    Gemm g{};
    g.ta = n->attrs().transpose_a && a->rank() == 2;
    g.tb = n->attrs().transpose_b && c->rank() == 2;
    std::int64_t r0 = a->rank() == 2 ? extent(a->shape()[0]) : 1, r1 = extent(a->shape().back());
    g.m = g.ta ? r1 : r0;
    g.k = g.ta ? r0 : r1;
    g.lda = r1;
    std::int64_t s0 = extent(c->shape()[0]), s1 = c->rank() == 2 ? extent(c->shape()[1]) : 1;
    g.n = g.tb ? s0 : s1;
    g.ldb = s1;
    flops += 2.0 * g.m * g.n * g.k;
    gemms.push_back(g);
  }
  std::vector<float> A(1 << 22, 0.01f), B(1 << 22, 0.02f), C(1 << 22);
  auto products = [&] {
    for (const Gemm& g : gemms) {
      vmc_gemm_f32(nullptr, g.ta, g.tb, g.m, g.n, g.k, 1, A.data(), g.lda, B.data(), g.ldb, 0, C.data(), g.n);
    }
  };
  for (int w = 0; w < 20; ++w) {
    step();
    products();
  }
  // Interleaved, so both see the same machine state.
  double step_us = 0, gemm_us = 0;
  for (int round = 0; round < 3; ++round) {
    step_us += median_us([&] { step(); }, reps) / 3;
    gemm_us += median_us(products, reps) / 3;
  }
  std::printf("%s, M = %lld, f32, %zu products (%.1f MFLOP per step)\n", args.model_path.c_str(),
              static_cast<long long>(batch), gemms.size(), flops / 1e6);
  std::printf("  elbo_grad call      %9.1f us  (%.0f steps/s, %.1f GFLOP/s)\n", step_us, 1e6 / step_us,
              flops / step_us / 1e3);
  std::printf("  products alone      %9.1f us  (%.1f GFLOP/s)\n", gemm_us, flops / gemm_us / 1e3);
  std::printf("  outside the products %8.1f us  = %.1f %% of the call\n", step_us - gemm_us,
              100 * (step_us - gemm_us) / step_us);
  return 0;
}

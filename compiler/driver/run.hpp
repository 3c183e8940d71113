// The commands that run a model on data: fit, eval, sample. They share the way data is bound
// (--data, the embedded default set), checked against the model's declarations, and turned into
// a runtime::Trainer over the compiled kernels.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver/commands.hpp"
#include "vmc/optimizers.hpp"

namespace vmc::driver {

struct DataArgs {
  std::vector<std::string> data;       // NAME=PATH, or FILE.json (every array named in the data block)
  std::vector<std::string> test_data;  // the same, for held-out data
  bool raw_pixels = false;             // keep u1 image data as 0–255 instead of [0, 1]
};

struct FitArgs {
  ModelArgs model;
  DataArgs data;
  std::vector<std::string> batch;  // "M" (the subsampled plate) or "DIM=M"
  std::int64_t steps = 0;          // total steps; 0: from --epochs, else 2000
  double epochs = 0;
  std::string optimizer{runtime::default_optimizer().name};
  std::optional<double> lr;        // default: the optimizer's own
  std::uint64_t seed = 1;
  int threads = 1;
  std::string out = "vmc-out";
  bool resume = false;
  double tol_rel_obj = 0;
  // "converged": a model whose latents are all global stops when its iterates have converged
  // (runtime/include/vmc/convergence.hpp), --steps a cap; "steps": it runs every step.
  std::string until = "converged";
  double tol_mcse = 0.01;          // the convergence rule's MCSE, in units of each component's scale
  std::string lr_schedule;         // "": adapt for a converging fit without --lr, else constant
  std::string start = "laplace";   // an automatic guide over global latents starts from a Laplace approximation, or "init"
  double clip_grad = 0;
  std::int64_t eval_every = 0;
  std::int64_t checkpoint_every = 0;  // steps; 0: every 5 minutes and at the end
  bool quiet = false;
};
int run_fit(const FitArgs& args);

struct EvalArgs {
  ModelArgs model;
  DataArgs data;
  std::string params;        // a checkpoint.bin
  std::int64_t batch = 0;    // rows per kernel call (0: 100, fewer for many samples)
  std::uint64_t seed = 1;
  int threads = 1;
};
int run_eval(const EvalArgs& args);

struct SampleArgs {
  ModelArgs model;
  DataArgs data;
  std::string params;        // a checkpoint.bin
  std::int64_t draws = 100;
  std::string from = "guide";  // or "model"
  std::string out = "";        // a CSV file (default: draws.csv / model_draws.csv in the cwd)
  std::uint64_t seed = 1;
};
int run_sample(const SampleArgs& args);

struct LooArgs {
  ModelArgs model;
  DataArgs data;
  std::string params;          // a checkpoint.bin
  std::int64_t draws = 4000;   // of the guide
  std::string out = "loo.csv"; // per datapoint: elpd_loo, p_loo, khat
  std::string log_lik;         // when given: the S x N log-likelihood matrix, as CSV
  std::uint64_t seed = 1;
};
// `vmc loo`: PSIS-LOO of a fitted model of global latents from its guide's draws, importance-
// weighted by p/q (runtime/include/vmc/psis.hpp, psis_loo).
int run_loo(const LooArgs& args);

struct BenchArgs {
  ModelArgs model;
  DataArgs data;
  std::vector<std::string> batch;  // as fit's --batch
  int threads = 1;
  std::int64_t steps = 200;        // timed steps, after `warmup`
  std::int64_t warmup = 20;
  std::uint64_t seed = 1;
  bool json = false;
  bool stages = false;             // -v: compile time per stage
};
// `vmc bench`: compile ms, steps/s, datapoints/s, GFLOP/s (from the IR), the in-run GEMM bound
// and the share of it reached, peak resident memory.
int run_bench(const BenchArgs& args);

}  // namespace vmc::driver

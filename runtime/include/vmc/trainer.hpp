// The optimisation engine: one compiled model (runtime/include/vmc/abi.h), its data, its params
// and optimizer state, and the buffers every kernel call needs, allocated once.
//
// A step draws the next minibatch of every subsampled plate (a seeded shuffle per epoch; the
// last batch of an epoch is the remainder, scaled N/M' with its own size M'), fills the noise
// from Philox by (seed, step, site, datapoint index, element), runs "elbo_grad" — split across
// threads by rows when the objective allows it — and moves the params up the gradient of the
// bound per datapoint. Everything a step depends on is a function of the seed and the step
// counter, so a run is bit-identical from run to run for a fixed thread count, and a resumed
// run continues bit-for-bit.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vmc/abi.h"
#include "vmc/collective.hpp"
#include "vmc/data.hpp"
#include "vmc/optimizers.hpp"

namespace vmc::runtime {

// The data a model runs on, by the data block's names (the minibatch views are cut from it).
using Arrays = std::map<std::string, data::Array>;

struct TrainerOptions {
  std::uint64_t seed = 1;
  int threads = 1;
  // Minibatch size per subsampled dim; a dim not named gets `default_batch` (capped at its N).
  std::map<std::string, std::int64_t> batch;
  std::int64_t default_batch = 100;
  const Optimizer* optimizer = &default_optimizer();  // an entry of optimizers()
  double lr = 1e-3;
  double clip_grad = 0;  // > 0: the gradient's global L2 norm (per datapoint) is clipped to it
  // Data-parallel ranks (not owned; must outlive the trainer), or nullptr for one process. With
  // R > 1 ranks every rank builds its trainer from the same data and options: rank r keeps
  // only its shard of the primary plate's rows (rows part(N, R, r): rank 0's from row 0),
  // takes its slice of every global minibatch (rows fetched from their shards' ranks), and the
  // slices' bounds and gradients are summed over the ranks before one identical update on every
  // rank. R ranks follow one process with the same global batch up to the order of
  // floating-point sums. What needs every row (whole_data_draws, gradient_noise, record_step)
  // is refused; sample() on the training data works on rank 0 for its shard's first rows.
  Collective* collective = nullptr;
  // How a multi-threaded float32 step stores the updated params (the values are the same either
  // way): through the cache, best when the threads' cores share one, or streamed past it, best
  // when they do not (the other core then reads them from memory instead of taking each line
  // from this core's cache, which costs 4x on a VM whose vCPUs move between CCDs). Auto times
  // both for a few steps every 2,048 and keeps the faster.
  enum class ParamStores { Auto, Cached, Streamed };
  ParamStores param_stores = ParamStores::Auto;
  // A float32 step of an optimizer that fuses into products (Optimizer::fuses_into_products) moves
  // each weight's params in its gradient product's epilogue, from registers (the gradient never stored), when its operands bound every
  // gradient well inside float range, so that the step cannot be refused once params have
  // moved; otherwise, and with clip_grad, the gradient is stored, checked and then applied.
  // The params are bit for bit the same either way; false always takes the second path.
  bool fused_update = true;
};

// A user-facing failure of the engine (bad data for the model, a checkpoint that does not fit).
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StepResult {
  double elbo = 0;                // the step's estimate of the whole data set's bound
  double elbo_per_datapoint = 0;  // ... divided by the number of datapoints
  std::int64_t rows = 0;          // datapoints in this minibatch (of the primary plate)
  bool finite = true;             // false: nothing was updated (see `problem`)
  std::string problem;            // "the gradient of 'W' has NaN at element 12", ...
};

// Draws of named values: each a flat array in C order with its shape (one draw's shape).
struct Draws {
  std::vector<std::string> names;
  std::vector<std::vector<std::int64_t>> shapes;
  std::vector<std::vector<double>> values;  // values[k]: all draws of names[k], draw-major
  std::int64_t count = 0;
};

// One dense product a kernel asked the runtime for (vmc_gemm_*), as `vmc bench` records them.
struct GemmCall {
  std::int32_t transpose_a = 0, transpose_b = 0;
  std::int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  double beta = 0;                                  // 0: C overwritten; otherwise accumulated
  const void *a = nullptr, *b = nullptr, *c = nullptr;  // where the step's operands were
  double seconds = 0;  // how long it took inside the step (replay_gemms: per call, in the replay)
};
// Where a training step's time goes, thread by thread (vmc bench -v): mean microseconds per
// step in each phase (Trainer::time_step_phases).
struct StepPhases {
  enum Phase {
    Gather,       // the minibatch's data rows gathered, noise drawn
    Products,     // the kernel's products (vmc_gemm)
    Elementwise,  // the rest of the kernel: the fused elementwise loops and reductions
    Waiting,      // at the step's barriers, for the other threads
    Gradients,    // the weight gradients the kernels left, over all rows (a split step)
    Check,        // the other gradients summed over threads; every gradient checked
    Update,       // the optimizer's update of this thread's slices
    Main,         // the calling thread between those (the bound's sum, the kept state)
    Count
  };
  static const char* name(int phase);
  std::vector<std::vector<double>> per_thread;  // [thread][phase], µs per step
  double step_us = 0;                           // wall time per step
  int steps = 0;
};

// The library behind vmc_gemm_f32 (configured with -DVMC_GEMM=...): "eigen" (the default;
// "avx512+eigen" when the runtime is built for AVX-512, whose f32 products past the smallest
// sizes run vmc's own sgemm), "openblas" or "dnnl". Products in f64 always use Eigen under "dnnl".
const char* gemm_backend();
// Whether that library allocates memory inside a product (oneDNN's sgemm does, per call), so a
// training step is not allocation-free.
bool gemm_backend_allocates();

// The noise of the gradient at fixed params, per param (Trainer::gradient_noise).
struct GradientNoise {
  std::string param;
  std::int64_t size = 0;       // elements
  double variance = 0;         // Σ_i Var[g_i]: the trace of the gradient's covariance
  double mean_norm2 = 0;       // ‖E g‖²
  double snr = 0;              // mean over elements of |E g_i| / sd(g_i)
  std::int64_t snr_elements = 0;  // the elements in that mean (sd > 0)
};

// The products of one training step, per thread.
struct GemmProfile {
  std::vector<std::vector<GemmCall>> per_thread;
  double flops() const;  // 2·m·n·k summed
  std::size_t calls() const;
};

class Trainer {
 public:
  // `info` (and the code behind it) must outlive the trainer. `init` gives every param's
  // unconstrained starting values in C order. Throws RuntimeError when the data do not fit the
  // model's inputs (a missing array, a wrong rank or extent, an out-of-range index).
  Trainer(const vmc_model_info& info, Arrays data,
          const std::map<std::string, std::vector<double>>& init, const TrainerOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  StepResult step();
  // Whether `flag` is true on any rank (itself with one process): ranks agree to stop together.
  bool any_rank(bool flag);
  // Puts back the params and optimizer state of the last step (one in every 50) whose bound was
  // finite, as it was before that step's update; returns that step's number, or −1 when none
  // was kept. For a fit that gives up on non-finite steps.
  std::int64_t restore_last_good_state();

  std::int64_t steps_done() const;
  std::int64_t datapoints_seen() const;
  // The number of datapoints the bound is "per": the primary subsampled plate's N, else the
  // leading extent of the first data array, else 1.
  std::int64_t datapoints() const;
  // Whether the last step stored the params streamed (TrainerOptions::param_stores).
  bool params_streamed() const;
  // Steps so far whose weights moved in their gradient products' epilogue
  // (TrainerOptions::fused_update).
  std::int64_t fused_updates() const;
  // The primary subsampled dim ("" when the model has none) and its minibatch size.
  const std::string& primary_dim() const;
  // Without a subsampled plate: the data array whose leading extent datapoints() is ("" when the
  // bound is not divided: no data array).
  const std::string& datapoints_array() const;
  std::int64_t batch_size() const;
  // Steps in one pass over the primary plate's data (1 without a subsampled plate).
  std::int64_t steps_per_epoch() const;
  const TrainerOptions& options() const;
  const vmc_model_info& info() const;

  // Params, unconstrained, as doubles; names in the model's input order.
  std::vector<std::string> param_names() const;
  std::vector<std::int64_t> param_shape(const std::string& name) const;
  std::vector<double> param(const std::string& name) const;
  // Sets a param's unconstrained values (as many as it has; the optimizer's state is kept).
  void set_param(const std::string& name, const std::vector<double>& values);
  // Every param's values, concatenated in param_names() order (`out` is resized), and back.
  void all_params(std::vector<double>& out) const;
  void set_params(const std::vector<double>& flat);
  // The step size of the next steps (a schedule's, fit.hpp).
  void set_lr(double lr);
  // The estimate of the bound per datapoint and its gradient (all_params order) at the current
  // params, with noise from evaluation stream `stream`, draw `draw` (the same for the same
  // pair): no step is taken. Whole data only (no ranks); a subsampled plate's first M rows.
  double bound_and_gradient(std::uint64_t stream, std::uint64_t draw, std::vector<double>& grad);

  // The bound per datapoint on `data` (same arrays and extents as the training data but for the
  // subsampled plates' N), from `kernel` ("elbo", or "elbo_grad" whose gradient is ignored): the
  // rows in order in batches of the training batch size (or `batch` if > 0), fresh noise from
  // the evaluation stream `stream` (never the training steps' noise).
  double evaluate(const Arrays& data, const std::string& kernel, std::uint64_t stream,
                  std::int64_t batch = 0);

  // One training step (it counts as one) with every product it makes recorded, per thread.
  GemmProfile record_step();
  // `steps` training steps (they count) with the time of each phase measured on every thread.
  StepPhases time_step_phases(int steps);
  // Nanoseconds for a cache line to go from the first of the trainer's threads to the second
  // and back (the median of a few thousand round trips; 0 with one thread). What a split step
  // pays for every line one thread writes and the other then reads or writes: ~60-120 ns
  // between cores that share a cache, ~400 ns between a VM's vCPUs placed on different dies.
  double thread_round_trip_ns();
  // Seconds per step of the recorded products alone, each thread replaying its own calls at
  // once, through the same vmc_gemm: the in-run GEMM bound. Operands::AsInStep gives every
  // memory region the step's products touched its own buffer of the same size (a param both
  // threads read stays one buffer), so the products stream as much memory as in the step;
  // Operands::Reused runs every call of a thread on the same three buffers, which stay in
  // cache: a looser bound no step can reach.
  // Operands::AfterUpdate is AsInStep with every thread writing its slice of the params between
  // repetitions, as the update does between steps: the products then read params other cores
  // wrote, what a multi-threaded step pays and the plain bound does not.
  enum class Operands { AsInStep, Reused, AfterUpdate };
  // `per_call` (optional): each call's mean seconds in the replay, per thread, in the profile's
  // order (set beside GemmCall::seconds, the same call's time inside the step).
  double replay_gemms(const GemmProfile& profile, int repeats, Operands operands = Operands::AsInStep,
                      std::vector<std::vector<double>>* per_call = nullptr);

  // How noisy the gradient is at the current params: `draws` gradients of the bound per
  // datapoint (the optimizer's scale) on one fixed minibatch, the first M rows of the training
  // data, each with fresh noise from evaluation stream `stream` (two trainers with the same seed
  // see the same ε, so at the same params their draws pair up). Does not change the trainer.
  std::vector<GradientNoise> gradient_noise(std::int64_t draws, std::uint64_t stream);

  // Throws RuntimeError when `data` cannot be evaluated (another row shape, a missing array), so
  // held-out data is checked before any training time is spent on it.
  void check_data(const Arrays& data) const;

  // `count` draws of the whole training data's bound from `kernel` (all rows in one call, so no
  // N/M scaling): with estimator A and one sample, each is log p(x, z) − log q(z) at one guide
  // draw — the importance log-weights PSIS needs.
  std::vector<double> whole_data_draws(const std::string& kernel, std::int64_t count, std::uint64_t stream);

  // Runs a sampling kernel ("sample_guide", "sample_model", "reconstruct") `count` times on the
  // first `rows` rows of each subsampled plate of `data` (or of the training data when empty),
  // with noise from evaluation stream `stream`. `noise` overrides named noise inputs with fixed
  // values (the same for every draw), e.g. a grid of latents for a decoder's manifold picture.
  // With `chunk` > 0 and one subsampled plate, its rows are run `chunk` at a time (the kernel's
  // memory is that of `chunk` rows) and put back together: the same draws as in one call.
  Draws sample(const std::string& kernel, std::int64_t count, std::int64_t rows,
               std::uint64_t stream, const Arrays* data = nullptr,
               const std::map<std::string, std::vector<double>>& noise = {}, std::int64_t chunk = 0);

  // The engine's state (params, optimizer moments, counters) as bytes, and back. restore()
  // throws RuntimeError when the state belongs to another model or optimizer.
  std::string save_state() const;
  // params_only: take the params alone (for eval and sample, whatever optimizer or batch size
  // the fit used).
  void restore_state(const std::string& bytes, bool params_only = false);

  struct Impl;  // the engine for the model's precision (trainer.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmc::runtime

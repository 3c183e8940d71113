// The engine behind vmc::runtime::Trainer (runtime/include/vmc/trainer.hpp): Engine<T> for the
// model's precision, and what it is built from (the state's byte format; aligned buffers are
// aligned.hpp, the thread pool pool.hpp, the division of work between threads partition.hpp, a
// kernel call's context and the step's observer context.hpp, the minibatches minibatch.hpp, the
// bound data and the ranks' shards shards.hpp, a step's store and last-good-state policies
// step_policies.hpp, the optimizers optimizers.hpp). Internal to the runtime. Its members are
// defined by concern:
//   engine_data.cpp   construction, binding data to the model's inputs, one kernel call
//   engine_step.cpp   a training step: plan, run the kernels, sum the bound, check, update
//   engine_update.cpp the optimizer's update and the last good state
//   engine_ranks.cpp  data-parallel ranks: shards, each rank's slice of the minibatch
//   engine_products.cpp  a split step's deferred weight gradients, and the gradient check
//   engine_eval.cpp   evaluation, importance weighting, gradient noise, sampling
//   engine_bench.cpp  vmc bench's timings: the GEMM profile and its replay, phases, round trip
//   trainer.cpp       the public Trainer, and the engine's state as bytes
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <numeric>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aligned.hpp"
#include "fnv.hpp"
#include "context.hpp"
#include "gemm_sum.hpp"
#include "minibatch.hpp"
#include "shards.hpp"
#include "step_policies.hpp"
#include "partition.hpp"
#include "pool.hpp"
#include "vmc/philox.hpp"
#include "vmc/trainer.hpp"

namespace vmc::runtime {

struct Trainer::Impl {
  virtual ~Impl() = default;
  virtual StepResult step() = 0;
  virtual bool any_rank(bool flag) = 0;
  virtual std::int64_t restore_last_good() = 0;
  virtual double evaluate(const Arrays& data, const std::string& kernel, std::uint64_t stream,
                          std::int64_t batch) = 0;
  virtual Draws sample(const std::string& kernel, std::int64_t count, std::int64_t rows,
                       std::uint64_t stream, const Arrays* data,
                       const std::map<std::string, std::vector<double>>& noise, std::int64_t chunk) = 0;
  virtual std::vector<double> param(const std::string& name) const = 0;
  virtual void set_param(const std::string& name, const std::vector<double>& values) = 0;
  virtual void all_params(std::vector<double>& out) const = 0;
  virtual std::string save_state() const = 0;
  virtual void restore_state(const std::string& bytes, bool params_only) = 0;
  virtual void check_data(const Arrays& data) const = 0;
  virtual GemmProfile record_step() = 0;
  virtual StepPhases time_step_phases(int steps) = 0;
  virtual double thread_round_trip_ns() = 0;
  virtual std::vector<GradientNoise> gradient_noise(std::int64_t draws, std::uint64_t stream) = 0;
  virtual double bound_and_gradient(std::uint64_t stream, std::uint64_t draw, std::vector<double>& grad) = 0;
  virtual double replay_gemms(const GemmProfile& profile, int repeats, bool as_in_step, bool after_update,
                              std::vector<std::vector<double>>* per_call) = 0;
  virtual std::vector<double> whole_data_draws(const std::string& kernel, std::int64_t count,
                                               std::uint64_t stream) = 0;

  const vmc_model_info* info = nullptr;
  TrainerOptions options;
  std::int64_t steps = 0, seen = 0, updates = 0;
  std::int64_t datapoints = 1;
  std::string primary;
  std::string datapoints_of;  // without a subsampled plate: the data array whose rows are the datapoints
  std::int64_t primary_batch = 0, steps_per_epoch = 1;
  bool params_streamed = false;  // the last step's update streamed the params (engine_step.cpp)
  std::int64_t fused_updates = 0;  // steps whose weights moved in their products' epilogue
};

namespace detail {

// Evaluation and sampling draw their noise from steps no training run reaches.
constexpr std::uint64_t kEvalStepBase = std::uint64_t{1} << 37;
constexpr std::uint64_t kEvalStreamStride = std::uint64_t{1} << 24;

inline std::uint64_t eval_step(std::uint64_t stream, std::uint64_t k) {
  return kEvalStepBase + (stream % (std::uint64_t{1} << 12)) * kEvalStreamStride + k;
}

// The noise key of sample l of the ones an estimate averages: the run's seed for the first (so
// that --samples 1 draws what it always drew), a splitmix64 mix of seed and l for the others.
inline std::uint64_t sample_seed(std::uint64_t seed, std::uint32_t l) {
  if (l == 0) return seed;
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (std::uint64_t{l} + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}



inline std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Rows 0, 1, ..., n − 1: a whole data set in order (evaluation and sampling).
inline std::vector<std::int64_t> first_rows(std::int64_t n) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  std::iota(rows.begin(), rows.end(), std::int64_t{0});
  return rows;
}

inline bool is_batch_symbol(const vmc_model_info& info, int s) {
  return std::strcmp(info.sizes[s], info.size_dims[s]) != 0;
}

// Whether the runtime can store the updated params past the cache (TrainerOptions::param_stores).
#if defined(__AVX512F__)
inline constexpr bool kStreamedStores = true;
#else
inline constexpr bool kStreamedStores = false;
#endif

template <typename T>
class Engine final : public Trainer::Impl {
 public:
  Engine(const vmc_model_info& model, Arrays data, const std::map<std::string, std::vector<double>>& init,
         const TrainerOptions& o);

  // ---- binding data ----

  Dataset<T> bind(const Arrays& arrays, const std::string& what) const;

  const vmc_kernel_info* find_kernel(const std::string& name) const {
    for (int k = 0; k < info->n_kernels; ++k) {
      if (name == info->kernels[k].name) return &info->kernels[k];
    }
    return nullptr;
  }
  const vmc_kernel_info& kernel(const std::string& name) const {
    const vmc_kernel_info* k = find_kernel(name);
    if (!k) throw RuntimeError("the model was not compiled with a '" + name + "' kernel");
    return *k;
  }

  // ---- one kernel call ----

  struct Slot {
    std::vector<const void*> inputs;
    std::vector<void*> outputs;
    std::vector<std::int64_t> sizes;
    std::vector<Aligned<T>> reals;
    std::vector<std::vector<std::int64_t>> ints;
    std::vector<Aligned<T>> outs;
    std::vector<std::vector<std::int64_t>> out_shapes;
    Aligned<unsigned char> workspace;
    std::vector<Aligned<T>> sums;  // call_estimate's running sums of the outputs
    std::vector<double> log_weights, weights;  // an importance-weighted call's, [K × rows]
    Aligned<T> importance;                     // ... one sample's weights, the kernel's input
  };

  // What one call sees: the rows of each subsampled dim (datapoint indices) and the whole
  // batch's size per dim (the N/M scaling), the noise step, fixed noise.
  struct CallSpec {
    std::vector<std::span<const std::int64_t>> rows;  // per sub
    std::vector<std::int64_t> batch;                   // per sub
    std::uint64_t noise_step = 0;
    // Which of the samples an estimate averages (vmc_model_info::samples) the call draws: its
    // noise has its own key (sample_seed), so sample 0 is the noise of a one-sample run.
    std::uint32_t noise_sample = 0;
    // An importance-weighted bound's VMC_WEIGHT input: the sample's weight per row (or one).
    const T* weights = nullptr;
    std::size_t n_weights = 0;
    const std::map<std::string, std::vector<double>>* fixed = nullptr;
    // Ranks: the primary plate's data rows come from `local` (this rank's slice of the
    // minibatch, fetched from the other ranks' shards) at positions `local_rows`, while `rows`
    // keeps their indices in the whole data set (the noise's key).
    const Dataset<T>* local = nullptr;
    std::span<const std::int64_t> local_rows;
  };

  std::int64_t dim_value(const Dataset<T>& ds, const std::string& dim) const {
    auto it = ds.dims.find(dim);
    if (it == ds.dims.end()) throw RuntimeError("no data gives the extent of dim " + dim);
    return it->second;
  }

  std::int64_t extent(std::int64_t e, const std::vector<std::int64_t>& sizes) const {
    return e >= 0 ? e : sizes[-e - 1];
  }

  // One kernel call on `slot`'s buffers; `context` (may be null) goes to the kernel and the
  // routines it calls back into: its thread, where its deferred products go, the observer.
  void call(const vmc_kernel_info& k, Slot& slot, const Dataset<T>& ds, const CallSpec& spec,
            vmc_context* context) const;
  // The estimate of the bound (and its gradient) the model's estimator makes from an elbo or
  // elbo_grad kernel, in slot.outs: the mean of info->samples calls, each with its own sample's
  // noise; or an importance-weighted bound's two passes (abi.h, vmc_model_info::samples).
  // `spec` is as it was on return.
  void call_estimate(const vmc_kernel_info& k, Slot& slot, const Dataset<T>& ds, CallSpec& spec,
                     vmc_context* context) const;
  void call_importance_weighted(const vmc_kernel_info& k, Slot& slot, const Dataset<T>& ds, CallSpec& spec,
                                vmc_context* context) const;
  // The context of thread t's kernel calls: the step's observer (vmc bench), and where the
  // products the kernel may defer go (none: it computes them).
  vmc_context context(int t, std::vector<DeferredGemm>* defer = nullptr) const { return {defer, observer_, t, true}; }
  // The context of the products thread t computes for the kernels.
  vmc_context products_context(int t) const { return {nullptr, observer_, t, false}; }

  void fill_noise(const vmc_buffer_info& b, std::uint32_t site, const CallSpec& spec,
                  const std::vector<std::int64_t>& sizes, T* out, std::size_t count) const;

  int sub_of_dim(const std::string& dim) const {
    int j = batches_.of_dim(dim);
    if (j < 0) throw RuntimeError("input batched over dim '" + dim + "', which is not subsampled");
    return j;
  }
  int symbol_named(const std::string& name) const {
    for (int s = 0; s < info->n_sizes; ++s) {
      if (name == info->sizes[s]) return s;
    }
    return -1;
  }

  // ---- ranks (TrainerOptions::collective) ----

  // Splits the primary plate's data into the ranks' shards (rank r keeps rows part(N, R, r);
  // rank 0 keeps every row) once the trainer is built.
  void setup_ranks();
  // The rank whose shard holds global row g.
  int owner(std::int64_t g) const;
  // This rank's slice `mine` of the step's minibatch `batch` into shards_.fetched: every rank sends
  // the rows it holds of every other rank's slice, in one exchange.
  void fetch_slice(std::span<const std::int64_t> batch, std::span<const std::int64_t> mine);
  // Throws when the training data is split across ranks: `what` needs every row of it. With
  // `rows` > 0, only the first rows: rank 0's shard may hold them.
  void require_whole_data(const char* what, std::int64_t rows = -1) const {
    if (!shards_.distributed) return;
    if (rows >= 0 && shards_.rank == 0 && rows <= shards_.rows) return;
    throw RuntimeError(std::string(what) + " needs " +
                       (rows >= 0 ? "the first " + std::to_string(rows) + " rows" : std::string("every row")) +
                       " of the training data, but with " + std::to_string(shards_.ranks) +
                       " ranks each holds a shard (rank " + std::to_string(shards_.rank) + ": " +
                       std::to_string(shards_.rows) + " rows)");
  }
  bool any_rank(bool flag) override {
    if (!options.collective || options.collective->size() <= 1) return flag;
    return options.collective->max(flag ? 1 : 0) > 0;
  }

  // ---- a training step ----

  StepResult step() override;

  // What one step does, decided before it runs (plan_step) and read by each of its phases.
  struct StepPlan {
    StorePolicy::Choice stores;                       // params stored past the cache or not
    std::chrono::steady_clock::time_point start;      // for the store policy's trial
    std::span<const std::int64_t> mine;                // this process's rows of the primary plate
    std::int64_t rows = 0;                             // datapoints in the minibatch
    bool split = false;  // the rows split across threads (each a part)
    int parts = 1;
    int copies = 0;      // the row-free part's extra copies in the parts' sum, taken out again
    bool keep_step = false;      // a step that keeps the last good state (when its bound is finite)
    bool fusable = false;        // its update may run in the products' epilogue (if the guard agrees)
    bool defer = false;          // the kernels leave their weight gradients to the runtime
    bool checked_early = false;  // those are checked as they are made
    double per_datapoint = 1;    // the gradient's factor before clipping
  };
  // The phases of a step, in order (engine_step.cpp).
  StepPlan plan_step();                 // the minibatch and its split; what the step may do
  void run_kernels(const StepPlan& p);  // each part's kernel, then the deferred products
  double sum_bound(const StepPlan& p);  // the parts' bounds (with ranks, bounds and gradients summed)
  void check_and_update(const StepPlan& p, double elbo, bool keep);  // gradients checked, then updated
  StepResult conclude(const StepPlan& p, double elbo, bool keep);    // the result, counters, policy
  // Thread t's slice of gradient output o summed over the parts, into slot 0.
  void sum_parts(const StepPlan& p, int o, int t);
  std::string largest_param() const;  // for a step whose bound is not finite
  StorePolicy stores_;

  // The params and optimizer state of every kGoodEvery-th step whose bound was finite, copied
  // before its update, and put back when a fit gives up on non-finite steps: the finite values
  // the params keep after a bad step can themselves give a NaN bound. Each thread copies the
  // slices it updates, a piece at a time just before updating it (the copy's reads bring the
  // piece into cache for the update); one thread copying all of it, while the others waited,
  // cost 6 us a step on average (300 us every 50th step; Bernoulli VAE, 2 threads).
  struct Good {
    Aligned<T> param;
    std::vector<Aligned<T>> moments;
  };
  void prepare_good();  // sizes good_ (allocating the first time only)
  void keep_current_as_good();  // the params and optimizer state as they are now (a resume's)
  void check_finite_param(int i) const;  // a restored param: RuntimeError naming a non-finite element
  std::int64_t restore_last_good() override;

  // A step's update: the gradient's factor (1 / datapoints, clipped), the update's number
  // (1 for the first: a bias correction's), the params stored past the cache or not.
  struct Update {
    double scale;
    std::int64_t number;
    bool stream;
  };
  // Thread th's slice of every param and its optimizer state: with `keep`, copied into good_;
  // with `u`, then moved up its gradient (already summed into slot 0). With `owned`, a param
  // whose gradient a deferred product made is updated where th computed it (step_blocks_[th]).
  void update_slice(const vmc_kernel_info& k, int th, const Update* u, bool keep, bool owned);
  // Elements [b, e) of the param whose gradient is output o moved up it, by the optimizer's
  // update (optimizers.hpp).
  void update_range(int o, std::size_t b, std::size_t e, const Update& u);
  // A split step's deferred products (abi.h, vmc_gemm_rows_*): `outs` gets the gradient output
  // each one writes, when every part left the same products into its own outputs; false when
  // they do not line up (then each part computes its own, as if nothing had been deferred).
  bool plan_products(int parts, int copies, std::vector<int>& outs) const;
  // Thread t's block of every planned product, summed over the parts' rows into slot 0 (the
  // row-free call's part taken out `copies` times); with `check`, each block checked at once.
  // With `fused` (float32, an optimizer with an epilogue, a step the guard lets through), a
  // block's params are moved in the product's epilogue instead (fused_products, optimizers.hpp)
  // and the block marked `updated`.
  void run_products(int t, int parts, int copies, const std::vector<int>& outs, bool check, const Update* fused);
  // An update in the products' epilogue (TrainerOptions::fused_update) moves params before the step
  // has been checked, so it is taken only when nothing can refuse the step: the bound finite,
  // every gradient provably well inside float range. Thread t bounds what its kernel made
  // (before the kernels' barrier): for each product it left, k·max|op(A)|·max|op(B)| over its
  // operands (≥ each element's magnitude, partial sums included), and the largest magnitude of
  // its other gradient outputs (which the step sums over the parts).
  void bound_part(int t);
  // After the barrier, from every part's bounds, the same answer on every thread.
  bool fusable_step(int parts, const std::vector<int>& outs) const;
  static constexpr double kFusedLimit = 1e30;  // far inside float32's 3.4e38
  // The step's check of the summed gradient output o, elements [b, e): their sum of squares
  // added to thread t's, the first non-finite one named in its problem.
  void check_range(int o, std::size_t b, std::size_t e, int t);
  // Thread t asks for its part of the next step's data rows (a software prefetch).
  void prefetch_next_rows(int t, int parts);
  // Thread t computes the products part p left, as the kernel would have.
  void run_own_products(int p, int t);

  // ---- evaluation and sampling ----

  double evaluate(const Arrays& arrays, const std::string& name, std::uint64_t stream,
                  std::int64_t batch) override;

  void check_data(const Arrays& arrays) const override { bind(arrays, "test "); }

  GemmProfile record_step() override;
  StepPhases time_step_phases(int steps) override;
  double thread_round_trip_ns() override;

  double bound_and_gradient(std::uint64_t stream, std::uint64_t draw, std::vector<double>& grad) override;
  std::vector<GradientNoise> gradient_noise(std::int64_t draws, std::uint64_t stream) override;

  double replay_gemms(const GemmProfile& profile, int repeats, bool as_in_step, bool after_update,
                      std::vector<std::vector<double>>* per_call) override;

  std::int64_t test_datapoints(const Dataset<T>& ds) const;

  Draws sample(const std::string& name, std::int64_t count, std::int64_t rows, std::uint64_t stream,
               const Arrays* arrays, const std::map<std::string, std::vector<double>>& noise,
               std::int64_t chunk) override;

  std::vector<double> whole_data_draws(const std::string& name, std::int64_t count,
                                       std::uint64_t stream) override;

  std::vector<double> param(const std::string& name) const override {
    for (int i : param_inputs_) {
      if (name == info->inputs[i].name) {
        const Aligned<T>& p = params_[i];
        return std::vector<double>(p.data, p.data + p.size);
      }
    }
    throw RuntimeError("no param named '" + name + "'");
  }

  void set_param(const std::string& name, const std::vector<double>& values) override {
    for (int i : param_inputs_) {
      if (name == info->inputs[i].name) {
        Aligned<T>& p = params_[i];
        if (values.size() != static_cast<std::size_t>(p.size)) {
          throw RuntimeError("param '" + name + "' has " + std::to_string(p.size) + " values, not " +
                             std::to_string(values.size()));
        }
        for (std::size_t k = 0; k < values.size(); ++k) p.data[k] = static_cast<T>(values[k]);
        return;
      }
    }
    throw RuntimeError("no param named '" + name + "'");
  }

  void all_params(std::vector<double>& out) const override {
    std::size_t n = 0;
    for (int i : param_inputs_) n += static_cast<std::size_t>(params_[i].size);
    out.resize(n);
    std::size_t at = 0;
    for (int i : param_inputs_) {
      const Aligned<T>& p = params_[i];
      for (std::int64_t k = 0; k < p.size; ++k) out[at++] = static_cast<double>(p.data[k]);
    }
  }

  // ---- state ----

  std::uint64_t fingerprint() const {
    std::uint64_t h = fnv1a(&info->real_bytes, sizeof info->real_bytes);
    for (int i : param_inputs_) {
      const vmc_buffer_info& b = info->inputs[i];
      h = fnv1a(std::string(b.name), h);
      h = fnv1a(b.extents, sizeof(std::int64_t) * b.rank, h);
      h = fnv1a(&b.transform, sizeof b.transform, h);
    }
    return h;
  }

  std::string save_state() const override;

  void restore_state(const std::string& bytes, bool params_only) override;

  Pool pool_;
  Minibatches batches_;
  Dataset<T> train_;
  std::vector<Aligned<T>> params_;                // by input index (empty for non-params)
  std::vector<std::vector<Aligned<T>>> moments_;  // optimizer state, by input index
  std::vector<Good> good_;                        // by input index (params only)
  std::int64_t good_step_ = -1, good_updates_ = 0;
  std::vector<int> param_inputs_;
  std::vector<int> grad_of_;                      // elbo_grad output o + 1 → input index
  const vmc_kernel_info* grad_kernel_ = nullptr;
  std::vector<Slot> slots_;
  std::vector<Slot> eval_slots_;                  // bound_and_gradient's buffers, kept between calls
  SpinBarrier barrier_{1};
  CallSpec step_base_;
  std::vector<CallSpec> step_specs_;
  std::vector<double> step_sumsq_;
  std::vector<std::string> step_bad_;
  std::vector<std::vector<DeferredGemm>> deferred_;  // per slot: the products its call left
  std::vector<std::vector<int>> plans_;              // per thread: plan_products' outputs
  std::vector<unsigned char> gathered_;              // per output: summed by those products
  std::vector<std::exception_ptr> step_errors_;      // per thread, in the kernels' phase
  struct PartBound {
    std::vector<double> products;  // per deferred product
    double rest = 0;               // the part's other gradient outputs
  };
  std::vector<PartBound> part_bounds_;  // per thread: bound_part's
  bool step_fused_ = false;             // this step's products moved their params
  // Who watches the steps (vmc bench's record_step and time_step_phases), or nullptr.
  StepObserver* observer_ = nullptr;
  std::vector<std::vector<GemmTerm<T>>> step_terms_;  // per thread: run_products' pieces
  // A thread's block of a deferred product's output o: elements first + r·ld + [0, cols) for
  // r < rows. The thread that computed a block updates its params (update_slice).
  struct Block {
    int o;
    std::size_t first, rows, cols, ld;
    bool updated;  // its params already moved, in the product's epilogue
  };
  std::vector<std::vector<Block>> step_blocks_;  // per thread: run_products' blocks
  struct Prefetch {
    const T* data;    // the whole array in train_
    std::size_t row;  // elements per datapoint
  };
  std::vector<Prefetch> prefetch_;  // the real data batched over the primary plate
  Shards<T> shards_;  // data-parallel ranks (engine_ranks.cpp)
};

}  // namespace detail
}  // namespace vmc::runtime

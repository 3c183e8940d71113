// Engine<T>: a training step (the minibatch, split across threads, checked, then the update of
// engine_update.cpp).
#include "engine.hpp"

#include <limits>
#include <optional>

namespace vmc::runtime::detail {

namespace {

// Σ x² in two 64-byte vector accumulators (GCC/Clang vector extensions): the compiler kept an
// array of 16 lane sums in scalar registers and shuffled every product into them, 170 µs per
// step for the Bernoulli VAE's 652,824 gradient values (perf annotate); this is one load and
// one FMA per 16 floats.
template <typename V, typename T>
double sum_of_squares_as(const T* x, std::size_t n) {
  constexpr std::size_t kLanes = sizeof(V) / sizeof(T);
  V acc0 = {}, acc1 = {};
  std::size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    V a, b;
    std::memcpy(&a, x + i, sizeof a);
    std::memcpy(&b, x + i + kLanes, sizeof b);
    acc0 += a * a;
    acc1 += b * b;
  }
  double ss = 0;
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  V acc = acc0 + acc1;
  for (std::size_t l = 0; l < kLanes; ++l) ss += static_cast<double>(acc[l]);
  return ss;
}
typedef float Floats16 __attribute__((vector_size(64)));
typedef double Doubles8 __attribute__((vector_size(64)));

}  // namespace

double sum_of_squares(const float* x, std::size_t n) { return sum_of_squares_as<Floats16>(x, n); }
double sum_of_squares(const double* x, std::size_t n) { return sum_of_squares_as<Doubles8>(x, n); }

// On the values' bits with the sign cleared, as unsigned integers: they order as the magnitudes
// do, with Inf above every finite value and NaN above Inf, so one integer max per 16 values
// also finds a NaN (a float max would drop it).
float largest_magnitude(const float* x, std::size_t n) {
  typedef std::uint32_t Bits16 __attribute__((vector_size(64)));
  constexpr std::uint32_t kMagnitude = 0x7fffffff, kInf = 0x7f800000;
  Bits16 acc0 = {}, acc1 = {};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    Bits16 a, b;
    std::memcpy(&a, x + i, sizeof a);
    std::memcpy(&b, x + i + 16, sizeof b);
    a &= kMagnitude;
    b &= kMagnitude;
    acc0 = acc0 > a ? acc0 : a;
    acc1 = acc1 > b ? acc1 : b;
  }
  std::uint32_t most = 0;
  for (; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    most = std::max(most, bits & kMagnitude);
  }
  for (int l = 0; l < 16; ++l) most = std::max({most, acc0[l], acc1[l]});
  if (most >= kInf) return std::numeric_limits<float>::infinity();
  float largest;
  std::memcpy(&largest, &most, sizeof largest);
  return largest;
}

template <typename T>
StepResult Engine<T>::step() {
  // How this step stores the updated params (TrainerOptions::param_stores): in a trial of
  // Auto, by the trial's arm; otherwise by the last trial's choice, or as the options say.
  using Stores = TrainerOptions::ParamStores;
  const bool can_stream = kStreamedStores && std::is_same_v<T, float> && options.threads > 1;
  int arm = -1;
  if (can_stream && options.param_stores == Stores::Auto && steps >= store_trial_.next &&
      steps < store_trial_.next + 2 * kStoreTrial) {
    arm = steps - store_trial_.next < kStoreTrial ? 0 : 1;
  }
  const bool stream = can_stream && (arm >= 0 ? arm == 1
                                              : options.param_stores == Stores::Streamed ||
                                                    (options.param_stores == Stores::Auto && store_trial_.streamed));
  const auto step_start = std::chrono::steady_clock::now();
  std::optional<PhaseTimer> caller;  // the calling thread outside the pool's runs
  caller.emplace(phase_row(0) ? phase_row(0) + StepPhases::Main : nullptr);
  const vmc_kernel_info& k = kernel("elbo_grad");
  for (const Sub& sub : subs_) {
    if (sub.n == 0) throw RuntimeError("no data rows for the plate over " + sub.dim);
  }
  const int threads = options.threads;
  // Every buffer below is a member reused from step to step: a step allocates nothing.
  CallSpec& base = step_base_;
  base.rows.clear();
  base.batch.clear();
  base.noise_step = static_cast<std::uint64_t>(steps);
  for (std::size_t j = 0; j < subs_.size(); ++j) {
    base.rows.push_back(batch_rows(j, steps));
    base.batch.push_back(static_cast<std::int64_t>(base.rows.back().size()));
  }
  StepResult result;
  result.rows = primary_index_ >= 0 ? base.batch[primary_index_] : datapoints;
  // This process's rows of the primary plate: the whole minibatch, or with ranks its slice,
  // whose data it fetches from the ranks holding them.
  std::span<const std::int64_t> mine;
  if (primary_index_ >= 0) {
    mine = base.rows[primary_index_];
    if (distributed_) {
      auto [b, e] = part(mine.size(), ranks_, rank_);
      std::span<const std::int64_t> batch = mine;
      mine = batch.subspan(b, e - b);
      fetch_slice(batch, mine);
    }
  }
  bool split = threads > 1 && info->rows_additive && primary_index_ >= 0 && mine.size() >= static_cast<std::size_t>(threads);
  int parts = split ? threads : 1;
  // The part of the bound that does not depend on the rows is in every part's output: it is
  // taken out again so that the sum over threads and ranks counts it once (on rank 0).
  const int copies = info->row_free_part && primary_index_ >= 0
                         ? parts - (!distributed_ || rank_ == 0 ? 1 : 0)
                         : 0;
  // The update in the weight gradients' epilogue (bound_part): not on a step that keeps the last good
  // state (copied before the update), with clipping (which needs the whole gradient's norm
  // first), with ranks (summed after the products) or a row-free part (taken out after).
  const bool keep_step = steps % kGoodEvery == 0;
  const bool fusable = std::is_same_v<T, float> && options.fused_update && gemm_fuses_adam() && !distributed_ &&
                       options.optimizer->fuses_into_products && options.clip_grad <= 0 && copies == 0 && !keep_step;
  // The gradient's factor per datapoint, before any clipping (a fused step has none).
  const double per_datapoint = 1.0 / static_cast<double>(datapoints);
  // A split batch's weight gradients are not summed from per-thread copies: the kernels leave
  // those products (vmc_gemm_rows_*) and each thread then computes a block of every one over
  // all the parts' rows, once all kernels are done. So does a step that may fuse the update.
  const bool defer = parts > 1 || fusable;
  // One process: the deferred products' blocks are the final gradient, checked (finite, sum of
  // squares) right after each is computed, while in cache. With ranks, after the sum over ranks.
  const bool checked_early = defer && !distributed_;
  const int n_out = k.n_outputs;
  gathered_.assign(static_cast<std::size_t>(n_out), 0);
  step_fused_ = false;
  std::fill(step_sumsq_.begin(), step_sumsq_.end(), 0.0);
  for (std::string& b : step_bad_) b.clear();
  caller.reset();
  pool_.run([&](int t) {
    double* const timing = t_phase_row = phase_row(t);
    step_errors_[t] = nullptr;
    step_blocks_[t].clear();  // run_products' (none when the products do not line up)
    try {
      struct Deferring {  // set for this thread's kernel calls only, even when one throws
        explicit Deferring(std::vector<DeferredGemm>* to) {
          to->clear();
          t_gemm_defer = to;
        }
        ~Deferring() { t_gemm_defer = nullptr; }
      };
      if (t < parts) {
        CallSpec& spec = step_specs_[t];
        spec = base;
        if (primary_index_ >= 0) {
          auto [b, e] = split ? part(mine.size(), parts, t) : std::pair<std::size_t, std::size_t>{0, mine.size()};
          spec.rows[primary_index_] = mine.subspan(b, e - b);
          if (distributed_) {
            spec.local = &fetched_;
            spec.local_rows = {positions_.data() + b, e - b};
          }
        }
        std::optional<Deferring> deferring;
        if (defer) deferring.emplace(&deferred_[t]);
        call(k, slots_[t], train_, spec);
        if (fusable) {
          PhaseTimer checking(timing ? timing + StepPhases::Check : nullptr);
          bound_part(t);
        }
      }
      if (copies > 0 && t == parts - 1) {
        CallSpec& none = step_specs_[threads];
        none = base;
        none.rows[primary_index_] = {};
        std::optional<Deferring> deferring;
        if (defer) deferring.emplace(&deferred_[threads]);
        call(k, slots_[threads], train_, none);
      }
    } catch (...) {
      step_errors_[t] = std::current_exception();
    }
    if (!defer) {
      if (step_errors_[t]) std::rethrow_exception(step_errors_[t]);
      return;
    }
    // Every thread waits for every kernel (even one that failed), then all decide the same.
    {
      PhaseTimer waiting(timing ? timing + StepPhases::Waiting : nullptr);
      barrier_.wait();
    }
    PhaseTimer gradients(timing ? timing + StepPhases::Gradients : nullptr);
    for (const std::exception_ptr& e : step_errors_) {
      if (e) {
        if (step_errors_[t]) std::rethrow_exception(step_errors_[t]);
        return;
      }
    }
    if (plan_products(parts, copies, plans_[t])) {
      const bool fuse = fusable && fusable_step(parts, plans_[t]);
      if (t == 0) step_fused_ = fuse;
      const Update u{per_datapoint, updates + 1, stream};
      run_products(t, parts, copies, plans_[t], checked_early && !fuse, fuse ? &u : nullptr);
    } else {
      if (t < parts) run_own_products(t);
      if (copies > 0 && t == parts - 1) run_own_products(threads);
    }
  });
  caller.emplace(phase_row(0) ? phase_row(0) + StepPhases::Main : nullptr);
  if (defer) {
    for (int o : plans_[0]) gathered_[o] = 1;
  }
  if (step_fused_) ++fused_updates;
  // Sum the parts (slices of every gradient across threads), check them, take the step.
  double elbo = 0;
  for (int t = 0; t < parts; ++t) elbo += static_cast<double>(slots_[t].outs[0].data[0]);
  if (copies > 0) elbo -= copies * static_cast<double>(slots_[threads].outs[0].data[0]);
  // Thread t's slice of gradient output o summed over the parts, into slot 0.
  auto sum_parts = [&](int o, int t) {
    if ((parts == 1 && copies == 0) || gathered_[o]) return;
    T* g0 = slots_[0].outs[o].data;
    auto [b, e] = part(slots_[0].outs[o].size, threads, t);
    for (int p = 1; p < parts; ++p) {
      const T* gp = slots_[p].outs[o].data;
      for (std::size_t i = b; i < e; ++i) g0[i] += gp[i];
    }
    if (copies > 0) {
      const T* ge = slots_[threads].outs[o].data;
      const T c = static_cast<T>(copies);
      for (std::size_t i = b; i < e; ++i) g0[i] -= c * ge[i];
    }
  };
  if (distributed_) {
    // Every rank's bound and gradient summed: the same numbers on every rank from here on.
    pool_.run([&](int t) {
      for (int o = 1; o < n_out; ++o) sum_parts(o, t);
    });
    for (int o = 1; o < n_out; ++o) options.collective->sum(slots_[0].outs[o].data, slots_[0].outs[o].size);
    options.collective->sum(&elbo, 1);
  }
  result.elbo = elbo;
  result.elbo_per_datapoint = elbo / static_cast<double>(datapoints);
  const bool keep = std::isfinite(elbo) && keep_step;
  if (keep) prepare_good();
  std::vector<double>& sumsq = step_sumsq_;
  std::vector<std::string>& bad = step_bad_;
  caller.reset();
  pool_.run([&](int t) {
    double* const timing = phase_row(t);
    {
      PhaseTimer checking(timing ? timing + StepPhases::Check : nullptr);
      for (int o = 1; o < n_out && bad[t].empty(); ++o) {
        if (!distributed_) sum_parts(o, t);
        if (checked_early && gathered_[o]) continue;  // checked as its blocks were computed
        auto [b, e] = part(slots_[0].outs[o].size, threads, t);
        check_range(o, b, e, t);
      }
    }
    {
      PhaseTimer waiting(timing ? timing + StepPhases::Waiting : nullptr);
      barrier_.wait();
    }
    // Every thread decides the same from the same numbers: all update their slices, or none.
    bool ok = std::isfinite(elbo);
    for (const std::string& problem : bad) ok &= problem.empty();
    double scale = per_datapoint;
    if (ok && options.clip_grad > 0) {
      double norm = std::sqrt(std::accumulate(sumsq.begin(), sumsq.end(), 0.0)) * scale;
      if (norm > options.clip_grad) scale *= options.clip_grad / norm;
    }
    {
      PhaseTimer updating(timing ? timing + StepPhases::Update : nullptr);
      const Update u{scale, updates + 1, stream};
      update_slice(k, t, ok ? &u : nullptr, keep, checked_early);
    }
    if (!ok) return;
    // The next step's rows asked for last, so that the update's streams do not evict them.
    PhaseTimer gathering(timing ? timing + StepPhases::Gather : nullptr);
    prefetch_next_rows(t, parts);
  });
  caller.emplace(phase_row(0) ? phase_row(0) + StepPhases::Main : nullptr);
  std::string gradient_problem;
  for (int t = 0; t < threads && gradient_problem.empty(); ++t) gradient_problem = bad[t];
  if (!std::isfinite(elbo)) {
    // Name a param either way: the one whose gradient is not finite, else the largest in
    // magnitude (where a divergent fit has run off to).
    result.finite = false;
    result.problem = std::string("the bound is ") + (std::isnan(elbo) ? "NaN" : "infinite");
    if (!gradient_problem.empty()) {
      result.problem += " and " + gradient_problem;
    } else if (!param_inputs_.empty()) {
      int worst = param_inputs_[0];
      double largest = -1;
      std::size_t at = 0;
      for (int i : param_inputs_) {
        for (std::size_t x = 0; x < params_[i].size; ++x) {
          double v = std::abs(static_cast<double>(params_[i].data[x]));
          if (v > largest) {
            largest = v;
            worst = i;
            at = x;
          }
        }
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(params_[worst].data[at]));
      result.problem += std::string(" (the largest param value is '") + info->inputs[worst].name + "' = " + buf +
                        " at element " + std::to_string(at) + ")";
    }
  } else if (!gradient_problem.empty()) {
    result.finite = false;
    result.problem = gradient_problem;
  }
  if (keep) {
    good_step_ = steps;
    good_updates_ = updates;
  }
  params_streamed = stream;
  if (arm >= 0) {
    store_trial_.seconds[arm] += std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    if (steps + 1 == store_trial_.next + 2 * kStoreTrial) {
      store_trial_.streamed = store_trial_.seconds[1] < store_trial_.seconds[0];
      store_trial_.seconds[0] = store_trial_.seconds[1] = 0;
      store_trial_.next += kStoreRetune;
    }
  }
  ++steps;
  seen += result.rows;
  if (result.finite) ++updates;  // the threads have taken the step
  return result;
}

// The members defined here, for both precisions.
template StepResult Engine<float>::step();
template StepResult Engine<double>::step();

}  // namespace vmc::runtime::detail

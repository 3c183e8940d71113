// Engine<T>: a training step, phase by phase: its plan (the minibatch, its split, what it may do),
// the kernels and the deferred products, the bound summed, the gradients checked and the update
// of engine_update.cpp, the result.
#include "engine.hpp"
#include "optimizers.hpp"

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

// A step, phase by phase.
template <typename T>
StepResult Engine<T>::step() {
  const StepPlan plan = plan_step();
  run_kernels(plan);
  const double elbo = sum_bound(plan);
  const bool keep = std::isfinite(elbo) && plan.keep_step;
  check_and_update(plan, elbo, keep);
  return conclude(plan, elbo, keep);
}

// The minibatch of every subsampled plate (with ranks, this rank's slice of it fetched), how its
// rows are split across threads, and what the step may do.
template <typename T>
typename Engine<T>::StepPlan Engine<T>::plan_step() {
  PhaseTimer main(observer_, 0, StepPhases::Main);
  StepPlan p;
  p.start = std::chrono::steady_clock::now();
  p.stores = stores_.choose(steps, options.param_stores,
                            kStreamedStores && std::is_same_v<T, float> && options.threads > 1);
  for (const Minibatches::Plate& plate : batches_.plates) {
    if (plate.n == 0) throw RuntimeError("no data rows for the plate over " + plate.dim);
  }
  const int threads = options.threads;
  // Every buffer below is a member reused from step to step: a step allocates nothing.
  CallSpec& base = step_base_;
  base.rows.clear();
  base.batch.clear();
  base.noise_step = static_cast<std::uint64_t>(steps);
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    base.rows.push_back(batches_.rows(j, steps, options.seed));
    base.batch.push_back(static_cast<std::int64_t>(base.rows.back().size()));
  }
  const int primary = batches_.primary;
  p.rows = primary >= 0 ? base.batch[primary] : datapoints;
  // This process's rows of the primary plate: the whole minibatch, or with ranks its slice,
  // whose data it fetches from the ranks holding them.
  if (primary >= 0) {
    p.mine = base.rows[primary];
    if (shards_.distributed) {
      auto [b, e] = part(p.mine.size(), shards_.ranks, shards_.rank);
      std::span<const std::int64_t> batch = p.mine;
      p.mine = batch.subspan(b, e - b);
      fetch_slice(batch, p.mine);
    }
  }
  p.split = threads > 1 && info->rows_additive && primary >= 0 && p.mine.size() >= static_cast<std::size_t>(threads);
  p.parts = p.split ? threads : 1;
  // The part of the bound that does not depend on the rows is in every part's output: it is
  // taken out again so that the sum over threads and ranks counts it once (on rank 0).
  p.copies = info->row_free_part && primary >= 0 ? p.parts - (!shards_.distributed || shards_.rank == 0 ? 1 : 0) : 0;
  p.keep_step = keeps_good_state(steps);
  // The update in the weight gradients' epilogue (bound_part): not on a step that keeps the last
  // good state (copied before the update), with clipping (which needs the whole gradient's norm
  // first), with ranks (summed after the products) or a row-free part (taken out after).
  // Samples drawn at run time (vmc_model_info::samples): each part's kernel is called once per
  // sample and its outputs combined, so its products are computed in the kernel, not deferred.
  const bool averaged = info->samples > 1 || info->importance_weighted;
  p.fusable = !averaged && std::is_same_v<T, float> && options.fused_update && fuses_into_products(*options.optimizer) &&
              !shards_.distributed && options.clip_grad <= 0 && p.copies == 0 && !p.keep_step;
  p.per_datapoint = 1.0 / static_cast<double>(datapoints);
  // A split batch's weight gradients are not summed from per-thread copies: the kernels leave
  // those products (vmc_gemm_rows_*) and each thread then computes a block of every one over
  // all the parts' rows, once all kernels are done. So does a step that may fuse the update.
  p.defer = !averaged && (p.parts > 1 || p.fusable);
  // One process: the deferred products' blocks are the final gradient, checked (finite, sum of
  // squares) right after each is computed, while in cache. With ranks, after the sum over ranks.
  p.checked_early = p.defer && !shards_.distributed;
  gathered_.assign(static_cast<std::size_t>(grad_kernel_->n_outputs), 0);
  step_fused_ = false;
  std::fill(step_sumsq_.begin(), step_sumsq_.end(), 0.0);
  for (std::string& b : step_bad_) b.clear();
  return p;
}

// Each thread runs the kernel on its part of the rows (and the last the row-free call); then,
// when they were deferred, every thread computes its blocks of the weight gradients over all the
// parts' rows, moving their params in the products' epilogue when the guard lets the step fuse.
template <typename T>
void Engine<T>::run_kernels(const StepPlan& p) {
  const vmc_kernel_info& k = *grad_kernel_;
  const int threads = options.threads;
  pool_.run([&](int t) {
    step_errors_[t] = nullptr;
    step_blocks_[t].clear();  // run_products' (none when the products do not line up)
    try {
      if (t < p.parts) {
        CallSpec& spec = step_specs_[t];
        spec = step_base_;
        if (batches_.primary >= 0) {
          auto [b, e] = p.split ? part(p.mine.size(), p.parts, t) : std::pair<std::size_t, std::size_t>{0, p.mine.size()};
          spec.rows[batches_.primary] = p.mine.subspan(b, e - b);
          if (shards_.distributed) {
            spec.local = &shards_.fetched;
            spec.local_rows = {shards_.positions.data() + b, e - b};
          }
        }
        deferred_[t].clear();
        vmc_context ctx = context(t, p.defer ? &deferred_[t] : nullptr);
        call_estimate(k, slots_[t], train_, spec, &ctx);
        if (p.fusable) {
          PhaseTimer checking(observer_, t, StepPhases::Check);
          bound_part(t);
        }
      }
      if (p.copies > 0 && t == p.parts - 1) {
        CallSpec& none = step_specs_[threads];
        none = step_base_;
        none.rows[batches_.primary] = {};
        deferred_[threads].clear();
        vmc_context ctx = context(t, p.defer ? &deferred_[threads] : nullptr);
        call_estimate(k, slots_[threads], train_, none, &ctx);
      }
    } catch (...) {
      step_errors_[t] = std::current_exception();
    }
    if (!p.defer) {
      if (step_errors_[t]) std::rethrow_exception(step_errors_[t]);
      return;
    }
    // Every thread waits for every kernel (even one that failed), then all decide the same.
    {
      PhaseTimer waiting(observer_, t, StepPhases::Waiting);
      barrier_.wait();
    }
    PhaseTimer gradients(observer_, t, StepPhases::Gradients);
    for (const std::exception_ptr& e : step_errors_) {
      if (e) {
        if (step_errors_[t]) std::rethrow_exception(step_errors_[t]);
        return;
      }
    }
    if (plan_products(p.parts, p.copies, plans_[t])) {
      const bool fuse = p.fusable && fusable_step(p.parts, plans_[t]);
      if (t == 0) step_fused_ = fuse;
      const Update u{p.per_datapoint, updates + 1, p.stores.stream};
      run_products(t, p.parts, p.copies, plans_[t], p.checked_early && !fuse, fuse ? &u : nullptr);
    } else {
      if (t < p.parts) run_own_products(t, t);
      if (p.copies > 0 && t == p.parts - 1) run_own_products(threads, t);
    }
  });
}

template <typename T>
void Engine<T>::sum_parts(const StepPlan& p, int o, int t) {
  if ((p.parts == 1 && p.copies == 0) || gathered_[o]) return;
  T* g0 = slots_[0].outs[o].data;
  auto [b, e] = part(slots_[0].outs[o].size, options.threads, t);
  for (int q = 1; q < p.parts; ++q) {
    const T* gq = slots_[q].outs[o].data;
    for (std::size_t i = b; i < e; ++i) g0[i] += gq[i];
  }
  if (p.copies > 0) {
    const T* ge = slots_[options.threads].outs[o].data;
    const T c = static_cast<T>(p.copies);
    for (std::size_t i = b; i < e; ++i) g0[i] -= c * ge[i];
  }
}

// The parts' bounds summed (the row-free part counted once); with ranks, every rank's bound and
// gradients summed, so that every rank has the same numbers from here on.
template <typename T>
double Engine<T>::sum_bound(const StepPlan& p) {
  PhaseTimer main(observer_, 0, StepPhases::Main);
  if (p.defer) {
    for (int o : plans_[0]) gathered_[o] = 1;
  }
  if (step_fused_) ++fused_updates;
  const int n_out = grad_kernel_->n_outputs;
  double elbo = 0;
  for (int t = 0; t < p.parts; ++t) elbo += static_cast<double>(slots_[t].outs[0].data[0]);
  if (p.copies > 0) elbo -= p.copies * static_cast<double>(slots_[options.threads].outs[0].data[0]);
  if (shards_.distributed) {
    pool_.run([&](int t) {
      for (int o = 1; o < n_out; ++o) sum_parts(p, o, t);
    });
    for (int o = 1; o < n_out; ++o) options.collective->sum(slots_[0].outs[o].data, slots_[0].outs[o].size);
    options.collective->sum(&elbo, 1);
  }
  return elbo;
}

// Each thread sums its slices of the parts' gradients and checks them; then, after a barrier,
// every thread decides the same (all update, or none) and moves its slices and blocks of the
// params, copying them first on a step that keeps the last good state.
template <typename T>
void Engine<T>::check_and_update(const StepPlan& p, double elbo, bool keep) {
  if (keep) {
    PhaseTimer main(observer_, 0, StepPhases::Main);
    prepare_good();
  }
  const vmc_kernel_info& k = *grad_kernel_;
  const int n_out = k.n_outputs;
  pool_.run([&](int t) {
    {
      PhaseTimer checking(observer_, t, StepPhases::Check);
      for (int o = 1; o < n_out && step_bad_[t].empty(); ++o) {
        if (!shards_.distributed) sum_parts(p, o, t);
        if (p.checked_early && gathered_[o]) continue;  // checked as its blocks were computed
        auto [b, e] = part(slots_[0].outs[o].size, options.threads, t);
        check_range(o, b, e, t);
      }
    }
    {
      PhaseTimer waiting(observer_, t, StepPhases::Waiting);
      barrier_.wait();
    }
    bool ok = std::isfinite(elbo);
    for (const std::string& problem : step_bad_) ok &= problem.empty();
    double scale = p.per_datapoint;
    if (ok && options.clip_grad > 0) {
      double norm = std::sqrt(std::accumulate(step_sumsq_.begin(), step_sumsq_.end(), 0.0)) * scale;
      if (norm > options.clip_grad) scale *= options.clip_grad / norm;
    }
    {
      PhaseTimer updating(observer_, t, StepPhases::Update);
      const Update u{scale, updates + 1, p.stores.stream};
      update_slice(k, t, ok ? &u : nullptr, keep, p.checked_early);
    }
    if (!ok) return;
    // The next step's rows asked for last, so that the update's streams do not evict them.
    PhaseTimer gathering(observer_, t, StepPhases::Gather);
    prefetch_next_rows(t, p.parts);
  });
}

// The step's result (a bound that is not finite, or a gradient that is not, named with the
// param it concerns), and the counters and the store policy's bookkeeping.
template <typename T>
StepResult Engine<T>::conclude(const StepPlan& p, double elbo, bool keep) {
  PhaseTimer main(observer_, 0, StepPhases::Main);
  StepResult result;
  result.rows = p.rows;
  result.elbo = elbo;
  result.elbo_per_datapoint = elbo / static_cast<double>(datapoints);
  std::string gradient_problem;
  for (int t = 0; t < options.threads && gradient_problem.empty(); ++t) gradient_problem = step_bad_[t];
  if (!std::isfinite(elbo)) {
    // Name a param either way: the one whose gradient is not finite, else the largest in
    // magnitude (where a divergent fit has run off to).
    result.finite = false;
    result.problem = std::string("the bound is ") + (std::isnan(elbo) ? "NaN" : "infinite");
    if (!gradient_problem.empty()) result.problem += " and " + gradient_problem;
    else if (!param_inputs_.empty()) result.problem += " (the largest param value is " + largest_param() + ")";
  } else if (!gradient_problem.empty()) {
    result.finite = false;
    result.problem = gradient_problem;
  }
  if (keep) {
    good_step_ = steps;
    good_updates_ = updates;
  }
  params_streamed = p.stores.stream;
  stores_.record(steps, p.stores, std::chrono::duration<double>(std::chrono::steady_clock::now() - p.start).count());
  ++steps;
  seen += result.rows;
  if (result.finite) ++updates;  // the threads have taken the step
  return result;
}

// "'W' = 3.1e+08 at element 12": the param value largest in magnitude.
template <typename T>
std::string Engine<T>::largest_param() const {
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
  return std::string("'") + info->inputs[worst].name + "' = " + buf + " at element " + std::to_string(at);
}

// The members defined here, for both precisions.
template StepResult Engine<float>::step();
template StepResult Engine<double>::step();

}  // namespace vmc::runtime::detail

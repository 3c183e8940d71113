// `vmc bench`: a model's training step timed, its FLOPs counted from the IR, and the in-run GEMM
// bound (the step's recorded products replayed alone).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <sys/resource.h>
#include <unistd.h>

#include "driver/binding.hpp"
#include "driver/outputs.hpp"
#include "driver/run.hpp"
#include "ir/interpreter.hpp"
#include "ir/rewriter.hpp"
#include "lower/synthetic.hpp"
#include "vmc/abi.h"
#include "vmc/trainer.hpp"

namespace vmc::driver {
namespace {

// FLOPs of one evaluation of `roots` at the given sizes, counted from the IR: 2·m·n·k per
// product, one per element for elementwise operations and reductions' inputs, none for
// structure (broadcasts, transposes, slices, gathers).
double ir_flops(const std::vector<const ir::Node*>& roots, const ir::Bindings& sizes) {
  double total = 0;
  auto count = [&](const ir::Node* n) {
    double c = 1;
    for (std::int64_t e : ir::concrete_shape(n->shape(), n->graph(), sizes)) c *= static_cast<double>(e);
    return c;
  };
  ir::visit(roots, [&](const ir::Node& n) {
    switch (n.op()) {
#define VMC_OP(name, text, arity, kind, ...) case ir::Op::name: kind##_flops(n); break;
#define Leaf_flops(n)
#define Structure_flops(n)
#define Unary_flops(n) total += count(&n)
#define Binary_flops(n) total += count(&n)
#define Select_flops(n) total += count(&n)
#define Reduce_flops(n) total += count(n.arg(0))
#define Linalg_flops(n)                                                                   \
  if (n.op() == ir::Op::MatMul || n.op() == ir::Op::TriSolve) {                          \
    double a = count(n.arg(0)), b = count(n.arg(1)), c = count(&n);                      \
    total += 2 * a * b / std::max(1.0, std::sqrt(a * b / std::max(1.0, c)));             \
  } else {                                                                                \
    total += count(&n);                                                                   \
  }
#include "ir/ops.def"
#undef VMC_OP
#undef Leaf_flops
#undef Structure_flops
#undef Unary_flops
#undef Binary_flops
#undef Select_flops
#undef Reduce_flops
#undef Linalg_flops
    }
  });
  return total;
}

// Resident memory now (Linux /proc/self/statm), in MB.
double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}


// -v: every product of thread 0's step, its mean time inside 20 recorded steps against the
// same call replayed alone (operands as in the step): which products lose speed in a step.
void print_products(runtime::Trainer& trainer, const runtime::GemmProfile& gemms, int repeats) {
  if (gemms.per_thread.empty() || gemms.per_thread[0].empty()) return;
  const std::vector<runtime::GemmCall>& calls = gemms.per_thread[0];
  std::vector<double> in_step(calls.size(), 0.0);
  int recorded = 0;
  for (int r = 0; r < 20; ++r) {
    runtime::GemmProfile p = trainer.record_step();
    if (p.per_thread.empty() || p.per_thread[0].size() != calls.size()) continue;  // an epoch's last batch
    for (std::size_t i = 0; i < calls.size(); ++i) in_step[i] += p.per_thread[0][i].seconds;
    ++recorded;
  }
  std::vector<std::vector<double>> replayed;
  trainer.replay_gemms(gemms, repeats, runtime::Trainer::Operands::AsInStep, &replayed);
  if (recorded == 0 || replayed.empty()) return;
  std::printf("  products of thread 0 (mean of %d steps against the replay):\n", recorded);
  std::printf("    %-24s %10s %10s %7s\n", "m x n x k (op)", "in step us", "alone us", "ratio");
  double total_step = 0, total_alone = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const runtime::GemmCall& g = calls[i];
    char shape[64];
    std::snprintf(shape, sizeof shape, "%lldx%lldx%lld (%s%s)", static_cast<long long>(g.m),
                  static_cast<long long>(g.n), static_cast<long long>(g.k), g.transpose_a ? "T" : "N",
                  g.transpose_b ? "T" : "N");
    double step_us = 1e6 * in_step[i] / recorded, alone_us = 1e6 * replayed[0][i];
    total_step += step_us;
    total_alone += alone_us;
    std::printf("    %-24s %10.1f %10.1f %6.2fx\n", shape, step_us, alone_us, alone_us > 0 ? step_us / alone_us : 0.0);
  }
  std::printf("    %-24s %10.1f %10.1f %6.2fx\n", "all", total_step, total_alone,
              total_alone > 0 ? total_step / total_alone : 0.0);
}

// -v: the step's time by phase on every thread (Trainer::time_step_phases).
void print_phases(const runtime::StepPhases& phases) {
  if (phases.per_thread.empty()) return;
  std::printf("  where a step goes (us per step, mean of %d steps of %.1f us):\n", phases.steps, phases.step_us);
  std::printf("    %-28s", "phase");
  for (std::size_t t = 0; t < phases.per_thread.size(); ++t) std::printf("  thread %-3zu", t);
  std::printf("\n");
  std::vector<double> sum(phases.per_thread.size(), 0.0);
  for (int p = 0; p < runtime::StepPhases::Count; ++p) {
    std::printf("    %-28s", runtime::StepPhases::name(p));
    for (std::size_t t = 0; t < phases.per_thread.size(); ++t) {
      std::printf("  %10.1f", phases.per_thread[t][p]);
      sum[t] += phases.per_thread[t][p];
    }
    std::printf("\n");
  }
  std::printf("    %-28s", "all");
  for (double x : sum) std::printf("  %10.1f", x);
  std::printf("\n");
}

}  // namespace

int run_bench(const BenchArgs& args) {
  runtime::TrainerOptions topt;
  if (!parse_batch(args.batch, topt)) return 1;
  topt.seed = args.seed;
  topt.threads = args.threads;
  Bound b;
  ModelArgs margs = args.model;
  margs.kernels = {"elbo_grad"};
  if (!bind_model(b, margs, args.data, true)) return 1;
  const double compile_ms = b.fe.times.total();
  try {
    // FLOPs of one step from the IR at the minibatch's sizes (a whole batch on one thread).
    ir::Bindings sizes;
    const vmc_model_info& info = b.fe.compiled->info();
    for (int i = 0; i < info.n_inputs; ++i) {
      const vmc_buffer_info& in = info.inputs[i];
      if (in.kind != VMC_DATA || !b.train.count(in.name)) continue;
      for (int k = 0; k < in.rank; ++k) {
        if (in.extents[k] >= 0) continue;
        int sym = static_cast<int>(-in.extents[k] - 1);
        sizes.sizes[info.size_dims[sym]] = b.train.at(in.name).shape[k];
      }
    }
    for (int sym = 0; sym < info.n_sizes; ++sym) {
      bool batch = std::string(info.sizes[sym]) != info.size_dims[sym];
      std::int64_t full = sizes.sizes.count(info.size_dims[sym]) ? sizes.sizes.at(info.size_dims[sym]) : 1;
      std::int64_t m = topt.batch.count(info.size_dims[sym]) ? topt.batch.at(info.size_dims[sym]) : topt.default_batch;
      sizes.sizes[info.sizes[sym]] = batch ? std::min(m, full) : full;
    }
    // The trainer holds the only copy of the data from here (the steady memory a fit needs).
    runtime::Trainer trainer(b.fe.compiled->info(), std::move(b.train), lower::initial_params(*b.fe.lowered, args.seed),
                             topt);
    if (trainer.primary_dim().empty()) topt.lr = 1e-2;
    for (std::int64_t s = 0; s < args.warmup; ++s) trainer.step();
    runtime::GemmProfile gemms = trainer.record_step();
    // The timed steps and the bound (the step's products alone on operands laid out as in the
    // step: the memory they stream is part of what they cost) in alternating blocks, so that
    // both see the same machine: a VM's speed can change within a run (a neighbour's load, its
    // vCPUs moved to other dies), and a ratio of figures measured seconds apart would then
    // say more about the VM than about the step. Each block's first step after a replay is
    // untimed (the replay's buffers evicted the step's).
    const int repeats = static_cast<int>(std::max<std::int64_t>(20, args.steps / 2));
    const std::int64_t blocks = std::clamp<std::int64_t>(args.steps / 50, 1, 8);
    double seconds = 0, replay_seconds = 0, steady_mb = 0;
    std::int64_t rows = 0, replays = 0;
    for (std::int64_t block = 0; block < blocks; ++block) {
      if (block > 0) trainer.step();
      const std::int64_t steps = args.steps * (block + 1) / blocks - args.steps * block / blocks;
      auto start = std::chrono::steady_clock::now();
      for (std::int64_t s = 0; s < steps; ++s) rows += trainer.step().rows;
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (block == 0) steady_mb = current_rss_mb();  // while training, before the bound's buffers
      const std::int64_t reps = repeats * (block + 1) / blocks - repeats * block / blocks;
      replay_seconds += trainer.replay_gemms(gemms, static_cast<int>(reps), runtime::Trainer::Operands::AsInStep) *
                        static_cast<double>(reps);
      replays += reps;
    }
    double steps_per_s = static_cast<double>(args.steps) / seconds;
    double bound = static_cast<double>(replays) / replay_seconds;
    // How far apart the threads' cores are, measured now, as the timed steps left them (a VM may
    // move its vCPUs under load: a split step's exchanges cost ~4x more between dies).
    const double round_trip_ns = trainer.thread_round_trip_ns();
    // Looser, the products on a few buffers that stay in cache; and, tighter, with the params
    // written between repetitions by the threads' slices as the update writes them (with
    // threads on cores that share no cache, the lines then move every step).
    double bound_hot = 1 / trainer.replay_gemms(gemms, repeats, runtime::Trainer::Operands::Reused);
    double bound_updated = 1 / trainer.replay_gemms(gemms, repeats, runtime::Trainer::Operands::AfterUpdate);

    std::vector<const ir::Node*> roots;
    for (const ir::Output& o : b.fe.lowered->function.outputs) roots.push_back(o.node);
    double flops = ir_flops(roots, sizes);
    double per_row = trainer.batch_size() > 0 ? flops / static_cast<double>(trainer.batch_size()) : flops;

    Json out;
    out["model"] = b.fe.model->name;
    out["precision"] = args.model.precision;
    out["estimator"] = args.model.estimator;
    out["batch"] = trainer.primary_dim().empty() ? trainer.datapoints() : trainer.batch_size();
    out["threads"] = args.threads;
    out["steps"] = args.steps;
    out["compile_ms"] = compile_ms;
    out["from_cache"] = b.fe.compiled->timing().from_cache;
    Json stages = Json::object();
    for (const auto& [stage, ms] : b.fe.times.all()) stages[stage] = ms;
    out["compile_stages_ms"] = stages;
    out["steps_per_s"] = steps_per_s;
    out["datapoints_per_s"] = static_cast<double>(rows) / seconds;
    out["flops_per_step"] = flops;
    out["gflops"] = flops * steps_per_s / 1e9;
    out["gemm_flops_per_step"] = gemms.flops();
    out["gemm_calls_per_step"] = gemms.calls();
    out["gemm_backend"] = runtime::gemm_backend();
    out["gemm_bound_steps_per_s"] = bound;
    out["percent_of_gemm_bound"] = 100 * steps_per_s / bound;
    out["gemm_bound_operands_in_cache_steps_per_s"] = bound_hot;
    out["percent_of_gemm_bound_operands_in_cache"] = 100 * steps_per_s / bound_hot;
    out["gemm_bound_params_updated_steps_per_s"] = bound_updated;
    out["percent_of_gemm_bound_params_updated"] = 100 * steps_per_s / bound_updated;
    if (args.threads > 1) out["thread_round_trip_ns"] = round_trip_ns;
    out["peak_rss_mb"] = peak_rss_mb();
    out["steady_rss_mb"] = steady_mb;
    runtime::StepPhases phases;
    if (args.stages) {
      phases = trainer.time_step_phases(static_cast<int>(std::max<std::int64_t>(20, args.steps / 4)));
      Json by_phase = Json::object();
      for (int p = 0; p < runtime::StepPhases::Count; ++p) {
        Json per_thread = Json::array();
        for (const std::vector<double>& t : phases.per_thread) per_thread.push_back(t[p]);
        by_phase[runtime::StepPhases::name(p)] = per_thread;
      }
      out["step_phases_us"] = by_phase;
      out["step_phases_step_us"] = phases.step_us;
      out["params_streamed"] = trainer.params_streamed();
    }
    out["fused_updates"] = trainer.fused_updates();
    out["steps_done"] = trainer.steps_done();
    if (args.json) {
      std::cout << out.dump(2) << '\n';
      return 0;
    }
    std::printf("vmc bench %s: %s, estimator %s, %s %lld, %d thread%s, %lld steps after %lld warm-up\n",
                b.fe.model->name.c_str(), args.model.precision.c_str(), args.model.estimator.c_str(),
                trainer.primary_dim().empty() ? "all data, N =" : "M =",
                static_cast<long long>(out["batch"].get<std::int64_t>()), args.threads, args.threads == 1 ? "" : "s",
                static_cast<long long>(args.steps), static_cast<long long>(args.warmup));
    std::printf("  compile        %9.1f ms%s\n", compile_ms, b.fe.compiled->timing().from_cache ? " (object cache)" : "");
    if (args.stages) {
      for (const auto& [stage, ms] : b.fe.times.all()) std::printf("    %-14s %9.2f ms\n", stage.c_str(), ms);
    }
    std::printf("  steps/s        %9.1f\n", steps_per_s);
    std::printf("  datapoints/s   %9.0f\n", static_cast<double>(rows) / seconds);
    std::printf("  GFLOP/s        %9.1f   (%.2f MFLOP per step, %.3f per datapoint; %.0f %% in products)\n",
                flops * steps_per_s / 1e9, flops / 1e6, per_row / 1e6, 100 * gemms.flops() / std::max(1.0, flops));
    std::printf("  GEMM bound     %9.1f steps/s   (the step's %zu products alone, same shapes, threads and operand layout; %s)\n",
                bound, gemms.calls(), runtime::gemm_backend());
    std::printf("  of the bound   %9.1f %%\n", 100 * steps_per_s / bound);
    if (args.stages) {
      std::printf("    operands in cache %6.1f steps/s   (every call of a thread on the same three buffers: %.1f %%)\n",
                  bound_hot, 100 * steps_per_s / bound_hot);
      std::printf("    params updated    %6.1f steps/s   (the params written by each thread's slice between "
                  "repetitions, as the update does: %.1f %%)\n",
                  bound_updated, 100 * steps_per_s / bound_updated);
    }
    std::printf("  memory         %9.0f MB resident while training (peak %.0f MB, when the data loaded)\n",
                steady_mb, peak_rss_mb());
    if (args.stages) {
      if (args.threads > 1) {
        std::printf("  params stored   %s (of the two, the faster in the last timed trial)\n",
                    trainer.params_streamed() ? "streamed past the cache" : "through the cache");
        std::printf("  fused updates  %9lld of %lld steps   (the weights moved by the optimizer in their gradient products' "
                    "epilogue; not on the steps that keep the last good state, nor with --clip-grad)\n",
                    static_cast<long long>(trainer.fused_updates()), static_cast<long long>(trainer.steps_done()));
        std::printf("  round trip     %9.0f ns   (a cache line from thread 0 to thread 1 and back, after the timed "
                    "steps: ~100 between cores that share a cache%s)\n",
                    round_trip_ns,
                    round_trip_ns > 250 ? "; these share none (other dies or sockets, or a VM's vCPUs moved "
                                          "apart), so every line one thread writes and the other reads costs more"
                                        : "");
      }
      print_phases(phases);
      print_products(trainer, gemms, repeats);
    }
  } catch (const runtime::RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  }
  return 0;
}

}  // namespace vmc::driver

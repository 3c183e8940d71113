// `vmc fit`, `vmc eval` and `vmc sample`: a compiled model bound to data (binding.hpp) and
// run by the runtime (runtime/include/vmc/trainer.hpp, fit.hpp).
#include "driver/run.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "driver/binding.hpp"
#include "driver/outputs.hpp"
#include "driver/ranks.hpp"
#include "lower/synthetic.hpp"
#include "vmc/fit.hpp"
#include "vmc/images.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {
namespace {

namespace fs = std::filesystem;
using runtime::Arrays;
using runtime::RuntimeError;

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{SIGINT};  // which one: the exit status is 128 + it, as a shell's
extern "C" void on_interrupt(int sig) {
  // The first asks for a clean stop; a second (Ctrl-C again while setting up or writing) ends
  // the process as the signal would have.
  if (g_interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal.store(sig);
}

// SIGINT and SIGTERM (a scheduler's stop) ask for a clean stop from the moment a fit starts:
// one that arrives while the data load or the model compiles stops the fit before its first
// step, with the results so far written (with ranks, every rank stops at the same step, even
// when the signal reached one that was still setting up). The previous handlers are back
// when the fit returns.
struct InterruptHandlers {
  InterruptHandlers() {
    g_interrupted.store(false);
    int_ = std::signal(SIGINT, on_interrupt);
    term_ = std::signal(SIGTERM, on_interrupt);
  }
  ~InterruptHandlers() {
    std::signal(SIGINT, int_);
    std::signal(SIGTERM, term_);
  }
  InterruptHandlers(const InterruptHandlers&) = delete;
  InterruptHandlers& operator=(const InterruptHandlers&) = delete;

 private:
  void (*int_)(int) = SIG_DFL;
  void (*term_)(int) = SIG_DFL;
};

}  // namespace

int run_fit(const FitArgs& args) {
  // With mpirun -np R (ranks > 1): every rank loads, compiles and steps; rank 0 alone prints
  // and writes (ARCHITECTURE.md's "Ranks").
  runtime::Collective* const ranks = world();
  const int rank = ranks ? ranks->rank() : 0;
  const int n_ranks = ranks ? ranks->size() : 1;
  const bool leader = rank == 0;
  InterruptHandlers interrupts;
  RankAgreement ranks_agree(ranks);
  auto agree = [&](bool ok) { return ranks_agree.agree(ok); };

  runtime::TrainerOptions topt;
  Bound b;
  const std::string dir = args.out;
  const std::string checkpoint = dir + "/checkpoint.bin";
  std::optional<std::string> image;
  Preview image_rows;
  bool globals = false;
  std::unique_ptr<runtime::Trainer> trainer;
  runtime::FitHistory history;
  double compile_ms = 0;
  std::uint64_t data_hash = 0;
  // Everything before training; false after reporting a problem (on every rank that has one).
  auto set_up = [&]() -> bool {
    if (!parse_batch(args.batch, topt)) return false;
    try {
      topt.optimizer = &runtime::optimizer_named(args.optimizer);
    } catch (const std::invalid_argument& e) {
      error("--optimizer", e.what());
      return false;
    }
    if (args.lr && !(*args.lr > 0 && std::isfinite(*args.lr))) {
      error("--lr", "the learning rate must be a positive number");
      return false;
    }
    topt.seed = args.seed;
    topt.threads = args.threads;
    topt.clip_grad = args.clip_grad;
    topt.collective = ranks;

    ModelArgs margs = args.model;
    margs.kernels = {"elbo_grad", "sample_guide", "sample_model", "reconstruct"};
    if (!args.data.test_data.empty()) margs.kernels.push_back("elbo");
    // Each rank reads its copy of the data ({rank} paths) and keeps only its shard of the rows.
    DataArgs data = args.data;
    name_rank_copies(data, rank);
    if (!leader) data.test_data.clear();  // rank 0 alone evaluates held-out data
    if (!bind_model(b, margs, data, true)) return false;
    compile_ms = b.fe.times.total();
    topt.lr = learning_rate(b, *topt.optimizer, args.lr);

    // What the pictures need of the training data, taken now: the trainer then holds the only
    // copy of it (in the model's precision), unless PSIS needs the arrays again (global latents).
    const sema::Model& model = *b.fe.model;
    image = image_data(b);
    if (image && leader) image_rows = preview(b.train.at(*image), 64);
    globals = std::any_of(model.latents.begin(), model.latents.end(), [](const sema::Variable& v) { return !v.local; });
    if (ranks) data_hash = hash_data(b.train);
    try {
      auto init = lower::initial_params(*b.fe.lowered, args.seed);
      if (globals && leader) trainer = std::make_unique<runtime::Trainer>(b.fe.compiled->info(), b.train, init, topt);
      else trainer = std::make_unique<runtime::Trainer>(b.fe.compiled->info(), std::move(b.train), init, topt);
    } catch (const RuntimeError& e) {
      error(args.model.model_path, e.what());
      return false;
    }
    if (b.have_test && leader) {
      try {
        trainer->check_data(b.test);
      } catch (const RuntimeError& e) {
        std::string files;
        for (const auto& [name, path] : b.test_files) files += (files.empty() ? "" : ", ") + path;
        error(files, e.what());
        return false;
      }
    }
    return true;
  };
  if (!agree(set_up())) return 1;
  if (ranks && !same_on_every_rank(*ranks, data_hash)) {
    if (leader) {
      error(args.model.model_path, "the ranks read different training data: with {rank} in a --data path, "
                                   "every rank's file must be a copy of the same data (each rank keeps its "
                                   "own shard of the rows)");
    }
    return 1;
  }

  // The output directory must take files before any time is spent training (and is made only
  // once the model and data are known to be good).
  bool dir_ok = true;
  if (leader) {
    dir_ok = prepare_output_dir(dir);
    // A process killed while writing leaves its temporary file (CHECKPOINT.tmp.PID) beside
    // the intact previous checkpoint: clear those of earlier runs.
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(dir, ignored)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("checkpoint.bin.tmp.", 0) == 0) fs::remove(entry.path(), ignored);
    }
  }
  if (!agree(dir_ok)) return 1;

  // --resume: rank 0 reads the checkpoint and every rank restores the same bytes (the ranks
  // need not share a file system).
  if (args.resume) {
    bool ok = true;
    std::string bytes;
    if (leader) {
      if (!fs::exists(checkpoint)) {
        error(checkpoint, "no checkpoint to resume from (run without --resume first)");
        ok = false;
      } else {
        try {
          bytes = runtime::read_checkpoint_bytes(checkpoint);
        } catch (const RuntimeError& e) {
          error(args.model.model_path, e.what());
          ok = false;
        }
      }
    }
    if (!agree(ok)) return 1;
    if (ranks) ranks->broadcast(bytes, 0);
    try {
      runtime::restore_checkpoint(bytes, checkpoint, *trainer, history);
    } catch (const RuntimeError& e) {
      error(args.model.model_path, e.what());
      ok = false;
    }
    if (!agree(ok)) return 1;
  }
  ranks_agree.release();
  const sema::Model& model = *b.fe.model;

  std::int64_t steps = args.steps;
  if (steps <= 0) {
    steps = args.epochs > 0 ? static_cast<std::int64_t>(std::ceil(args.epochs * static_cast<double>(trainer->steps_per_epoch())))
                            : 2000;
  }
  const bool quiet = args.quiet || !leader;
  bool terminal = ::isatty(STDOUT_FILENO) && !quiet;
  if (!quiet) {
    std::printf("fit %s: %s, estimator %s (L = %d), %s, lr %g, seed %llu, %d thread%s\n",
                model.name.c_str(), b.embedded ? "embedded digits (1797 x 64)" : "data bound",
                args.model.estimator.c_str(), args.model.samples, std::string(topt.optimizer->name).c_str(), topt.lr,
                static_cast<unsigned long long>(args.seed), args.threads, args.threads == 1 ? "" : "s");
    if (ranks) std::printf("  %d MPI ranks, each with its shard of the data and its slice of every minibatch\n", n_ranks);
    std::string batching = trainer->primary_dim().empty()
                               ? std::string("every step sees all the data")
                               : "minibatch " + std::to_string(trainer->batch_size()) + " (" +
                                     std::to_string(trainer->steps_per_epoch()) + " steps per epoch)";
    std::printf("  %lld datapoints, %s, %lld steps; compiled in %.0f ms%s\n",
                static_cast<long long>(trainer->datapoints()), batching.c_str(), static_cast<long long>(steps),
                compile_ms, b.fe.compiled->timing().from_cache ? " (object cache)" : "");
    if (args.resume) {
      std::printf("  resuming at step %lld\n", static_cast<long long>(trainer->steps_done()));
    }
    std::fflush(stdout);
  }

  runtime::LoopOptions lo;
  lo.steps = steps;
  lo.tol_rel_obj = args.tol_rel_obj;
  lo.eval_every = args.eval_every;
  lo.test = b.have_test && leader ? &b.test : nullptr;
  lo.quiet = quiet;
  lo.terminal = terminal;
  if (leader) lo.checkpoint_path = checkpoint;
  lo.checkpoint_every = args.checkpoint_every;
  lo.interrupt = &g_interrupted;
  runtime::LoopResult r;
  Json summary;
  std::vector<std::string> warnings;
  try {
    // The other ranks' loops say nothing (rank 0 prints every warning once).
    std::ostream silent(nullptr);
    r = runtime::run_fit(*trainer, history, lo, leader ? std::cout : silent);
  } catch (const std::exception& e) {
    // "OUT/checkpoint.bin: cannot write: No space left on device" names its file; anything else
    // is about the model's run.
    std::string what = e.what();
    auto colon = what.find(": ");
    if (what.rfind(dir + "/", 0) == 0 && colon != std::string::npos) error(what.substr(0, colon), what.substr(colon + 2));
    else error(args.model.model_path, what);
    // A rank that cannot go on while the others wait in the step's sums stops them all.
    if (ranks) ranks->abort(1);
    return 1;
  }
  if (!leader) {
    // The other ranks' work ends with the steps: rank 0 evaluates and writes.
    if (r.stop_reason == "nonfinite") return 1;
    return r.stop_reason == "interrupted" ? 128 + g_signal.load() : 0;
  }
  try {
    if (r.stop_reason == "steps" && args.steps <= 0 && args.epochs > 0) r.stop_reason = "epochs";
    if (r.stop_reason == "interrupted") std::cout << "interrupted: writing the results so far\n";

    std::optional<double> test_elbo;
    if (b.have_test) test_elbo = trainer->evaluate(b.test, "elbo", kStreamTest);
    runtime::write_trace_csv(dir + "/trace.csv", history);

    summary["model"] = model.name;
    summary["model_file"] = args.model.model_path;
    summary["estimator"] = args.model.estimator;
    summary["samples"] = args.model.samples;
    // Without a subsampled plate every step is one pass over all the data.
    summary["batch"] = trainer->primary_dim().empty() ? trainer->datapoints() : trainer->batch_size();
    summary["steps"] = trainer->steps_done();
    summary["epochs"] = static_cast<double>(trainer->steps_done()) / static_cast<double>(trainer->steps_per_epoch());
    summary["datapoints"] = trainer->datapoints();
    summary["datapoints_seen"] = trainer->datapoints_seen();
    summary["seed"] = trainer->options().seed;
    summary["threads"] = args.threads;
    summary["ranks"] = n_ranks;
    summary["precision"] = args.model.precision;
    summary["optimizer"] = topt.optimizer->name;
    summary["lr"] = topt.lr;
    summary["compile_ms"] = compile_ms;
    summary["fit_s"] = history.wall_s;
    summary["steps_per_s"] = r.fit_s > 0 ? static_cast<double>(r.steps_this_session) / r.fit_s : 0.0;
    summary["datapoints_per_s"] = r.fit_s > 0 ? static_cast<double>(r.datapoints_this_session) / r.fit_s : 0.0;
    summary["final_elbo_per_datapoint"] = number(r.final_smoothed);
    if (test_elbo) summary["test_elbo_per_datapoint"] = number(*test_elbo);
    summary["stop_reason"] = r.stop_reason;
    summary["nonfinite_steps"] = r.nonfinite_steps;
    if (!r.problem.empty()) summary["last_nonfinite_problem"] = r.problem;
    if (r.restored_step >= 0) summary["restored_step"] = r.restored_step;
    if (!history.tests.empty()) {
      Json t = Json::array();
      for (const runtime::TestPoint& p : history.tests) t.push_back({{"step", p.step}, {"elbo_per_datapoint", number(p.elbo)}});
      summary["test_trace"] = t;
    }
    Json params = Json::object();
    for (const std::string& n : trainer->param_names()) params[n] = shape_json(trainer->param_shape(n));
    summary["params"] = params;

    std::vector<std::string> files = {"summary.json", "trace.csv", "checkpoint.bin"};
    if (globals) {
      Posterior p = posterior(*trainer, model, 1000);
      summary["posterior"] = p.moments;
      runtime::write_file_atomic(dir + "/draws.csv", p.csv);
      files.push_back("draws.csv");
      std::optional<double> k = psis(args, b, *trainer, 1000);
      if (k) {
        summary["psis_khat"] = number(*k);
        if (!(*k <= 0.7)) {
          char buf[200];
          std::snprintf(buf, sizeof buf, "PSIS k-hat of the guide is %.2f (> 0.7): the guide is a poor fit to the "
                        "posterior, so its moments may be unreliable", *k);
          warnings.emplace_back(buf);
        }
      }
    }
    if (image) {
      for (const std::string& f : pictures(*trainer, b, dir, *image, image_rows)) files.push_back(f);
    }
    elbo_svg(dir + "/elbo.svg", model.name, history);
    files.push_back("elbo.svg");
    if (r.stop_reason == "nonfinite") warnings.push_back("stopped after repeated non-finite steps: " + r.problem);
    summary["warnings"] = warnings;
    summary["files"] = files;
    runtime::write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");

    for (const std::string& w : warnings) std::cerr << "warning: " << w << '\n';
    if (!args.quiet) {
      std::printf("done: %lld steps (%s), smoothed elbo per datapoint %.6g", static_cast<long long>(trainer->steps_done()),
                  r.stop_reason.c_str(), r.final_smoothed);
      if (test_elbo) std::printf(", test %.6g", *test_elbo);
      std::printf(", %.2f s, %.0f datapoints/s\n  results in %s/:", r.fit_s,
                  summary["datapoints_per_s"].get<double>(), dir.c_str());
      for (const std::string& f : files) std::printf(" %s", f.c_str());
      std::printf("\n");
    }
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  } catch (const std::exception& e) {
    error(dir, e.what());
    return 1;
  }
  if (r.stop_reason == "nonfinite") {
    std::string restored = r.restored_step >= 0
                               ? "; the params written are those of step " + std::to_string(r.restored_step) +
                                     ", the last kept with a finite bound"
                               : "";
    error(args.model.model_path, "the fit stopped: " + r.problem + " on " + std::to_string(lo.max_nonfinite) +
                                     " steps in a row from step " + std::to_string(r.first_nonfinite_step) +
                                     restored + " (try a smaller --lr or --clip-grad)");
    return 1;
  }
  return r.stop_reason == "interrupted" ? 128 + g_signal.load() : 0;
}

// ----------------------------------------------------------------------------------------------

namespace {

// A trainer over `arrays` with the params of a fit's checkpoint.
std::unique_ptr<runtime::Trainer> from_checkpoint(const Bound& b, const Arrays& arrays, const std::string& path,
                                                  const runtime::TrainerOptions& o) {
  auto t = std::make_unique<runtime::Trainer>(b.fe.compiled->info(), arrays,
                                              lower::initial_params(*b.fe.lowered, 1), o);
  runtime::FitHistory ignored;
  runtime::read_checkpoint(path, *t, ignored, /*params_only=*/true);
  return t;
}

}  // namespace

int run_eval(const EvalArgs& args) {
  // An importance-weighted bound over local latents: per-datapoint log-weights (the default
  // estimator, one sample) averaged K times in the runtime, so K = 5000 costs time, not a graph
  // of 5000 copies of the model.
  const lower::Estimator& estimator = *lower::find_estimator(args.model.estimator);
  bool importance = estimator.importance_weighted;
  auto b = std::make_unique<Bound>();
  ModelArgs margs = args.model;
  if (importance) {
    margs.estimator = lower::default_estimator().name;
    margs.samples = 1;
    margs.kernels = {"log_weights"};
  } else {
    margs.kernels = {"elbo"};
  }
  if (!bind_model(*b, margs, args.data, true)) return 1;
  bool per_row = importance && b->fe.compiled->kernel("log_weights");
  if (importance && !per_row) {
    // Global latents: the bound's log-mean-exp is over the whole data; lowered K times.
    constexpr int kMaxCopies = 200;
    if (args.model.samples > kMaxCopies) {
      error(args.model.model_path, "estimator " + args.model.estimator +
                                       " with global latents unrolls the model once per sample; --samples " +
                                       std::to_string(args.model.samples) + " is more than " +
                                       std::to_string(kMaxCopies));
      return 1;
    }
    b = std::make_unique<Bound>();
    margs = args.model;
    margs.kernels = {"elbo"};
    if (!bind_model(*b, margs, args.data, true)) return 1;
  }
  runtime::TrainerOptions o;
  o.seed = args.seed;
  o.threads = args.threads;
  // The graph's copies of the model per row (the importance samples unrolled) need a smaller batch.
  int copies = args.model.samples;
  o.default_batch = args.batch > 0 ? args.batch : std::max<std::int64_t>(1, 100 / std::max(1, copies / 10));
  if (per_row && args.batch <= 0) o.default_batch = 100;
  try {
    const Arrays& data = b->have_test ? b->test : b->train;
    auto t = from_checkpoint(*b, data, args.params, o);
    double v = per_row ? t->importance_weighted(data, "log_weights", args.model.samples, kStreamEval, o.default_batch)
                       : t->evaluate(data, "elbo", kStreamEval, o.default_batch);
    std::printf("%s estimator %s (%s %d): %.9g per datapoint over %lld datapoints\n", b->fe.model->name.c_str(),
                args.model.estimator.c_str(), (std::string(1, estimator.samples) + " =").c_str(), args.model.samples, v,
                static_cast<long long>(t->datapoints()));
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  }
  return 0;
}

int run_sample(const SampleArgs& args) {
  Bound b;
  ModelArgs margs = args.model;
  std::string kernel = args.from == "model" ? "sample_model" : "sample_guide";
  margs.kernels = {kernel};
  if (!bind_model(b, margs, args.data, true)) return 1;
  if (!b.fe.compiled->kernel(kernel)) {
    error(args.model.model_path, "this model cannot be sampled forwards: " + b.fe.lowered->sample_model_problem);
    return 1;
  }
  std::string out = args.out.empty() ? (args.from == "model" ? "model_draws.csv" : "draws.csv") : args.out;
  try {
    runtime::TrainerOptions o;
    o.seed = args.seed;
    auto t = from_checkpoint(b, b.train, args.params, o);
    // Guide draws: the global latents per draw (a local latent's draws are per datapoint of the
    // first rows); model draws: the first data array's rows.
    runtime::Draws d = t->sample(kernel, args.draws, std::max<std::int64_t>(1, std::min<std::int64_t>(t->batch_size(), 100)),
                                 kStreamSample);
    std::vector<std::size_t> keep;
    for (std::size_t k = 0; k < d.names.size(); ++k) {
      if (kernel != "sample_model" || d.names[k].rfind("mean.", 0) != 0) keep.push_back(k);
    }
    runtime::write_file_atomic(out, draws_csv(d, keep));
    std::printf("%lld draws from the %s to %s\n", static_cast<long long>(d.count), args.from.c_str(), out.c_str());
    if (std::optional<std::string> x = image_data(b); x && kernel == "sample_model") {
      std::string mean = "mean." + *x;
      if (const std::vector<double>* v = output(d, mean)) {
        std::int64_t rows = static_cast<std::int64_t>(v->size()) / b.train.at(*x).shape[1];
        std::string png = out.substr(0, out.rfind('.')) + ".png";
        images::write_png_grid(png, *v, rows, *images::image_shape(b.train.at(*x).shape[1]), 10);
        std::printf("decoder means as images to %s\n", png.c_str());
      }
    }
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  } catch (const std::exception& e) {
    error(out, e.what());
    return 1;
  }
  return 0;
}

}  // namespace vmc::driver

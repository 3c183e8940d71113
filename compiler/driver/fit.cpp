// `vmc fit`: a compiled model bound to data (binding.hpp) trained by the runtime
// (runtime/include/vmc/trainer.hpp, fit.hpp), phase by phase, on one process or on every MPI rank.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "driver/binding.hpp"
#include "driver/guide_scales.hpp"
#include "driver/initial_values.hpp"
#include "driver/laplace.hpp"
#include "ir/builder.hpp"
#include "ir/rewriter.hpp"
#include "driver/out_of_memory.hpp"
#include "driver/outputs.hpp"
#include "driver/ranks.hpp"
#include "driver/record.hpp"
#include "driver/run.hpp"
#include "lower/synthetic.hpp"
#include "vmc/convergence.hpp"
#include "vmc/fit.hpp"
#include "vmc/schedule.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {
namespace {

// Whether the model's kernels factor a matrix (cholesky_decompose): NaN when it is not positive
// definite, which f32 meets long before f64 does.
bool factors_matrices(const lower::Lowered& l) {
  std::vector<const ir::Node*> roots;
  for (const ir::Output& o : l.function.outputs) roots.push_back(o.node);
  bool found = false;
  ir::visit(roots, [&](const ir::Node& n) { found = found || n.op() == ir::Op::Cholesky; });
  return found;
}

namespace fs = std::filesystem;
using runtime::RuntimeError;

// The most steps of a fit that stops when converged, when --steps does not say.
constexpr std::int64_t kConvergedCap = 100000;

std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_setting_up{false};
std::atomic<int> g_signal{SIGINT};  // which one: the exit status is 128 + it, as a shell's
extern "C" void on_interrupt(int sig) {
  // While the data loads and the model compiles nothing has been written and nothing would be
  // lost: end at once, as the signal would, rather than when LLVM returns (minutes for a large
  // model) or a named pipe's writer turns up.
  if (g_setting_up.load()) {
    static const char message[] = "vmc fit: interrupted while setting up: nothing written\n";
    ssize_t ignored = ::write(2, message, sizeof message - 1);
    (void)ignored;
    ::_exit(128 + sig);
  }
  // The first asks for a clean stop; a second (Ctrl-C again while setting up or writing) ends
  // the process as the signal would have.
  if (g_interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal.store(sig);
}

// SIGINT and SIGTERM (a scheduler's stop): while the data loads and the model compiles, the fit
// ends at once with nothing written; from the output directory on, they ask for a clean stop,
// with the results so far written (with ranks, every rank stops at the same step, even when
// the signal reached one that was still resuming). The previous handlers are back when the fit
// returns.
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

// One `vmc fit`, phase by phase. With mpirun -np R (ranks > 1) every rank loads, compiles and
// steps; rank 0 alone prints and writes (ARCHITECTURE.md's "Ranks"). A phase that fails reports
// why and returns false; until training starts, the ranks agree on each phase's outcome (a
// failure on one stops them all, its message printed once).
class Fit {
 public:
  explicit Fit(const FitArgs& args)
      : args_(args),
        ranks_(world()),
        rank_(ranks_ ? ranks_->rank() : 0),
        n_ranks_(ranks_ ? ranks_->size() : 1),
        leader_(rank_ == 0),
        quiet_(args.quiet || !leader_),
        dir_(args.out),
        checkpoint_(dir_ + "/checkpoint.bin"),
        agreement_(ranks_) {}

  int run() {
    g_setting_up.store(true);
    bool ready = agree(set_up()) && same_data_on_every_rank();
    g_setting_up.store(false);
    if (!ready || !agree(prepare_dir())) return 1;
    if (args_.resume && !resume()) return 1;
    agreement_.release();
    announce();
    if (!train()) return 1;
    if (!leader_) return r_.stop_reason == "nonfinite" ? 1 : stop_status();  // rank 0 writes
    if (!write_results()) return 1;
    if (r_.stop_reason == "nonfinite") {
      report_nonfinite();
      return 1;
    }
    return stop_status();
  }

 private:
  bool agree(bool ok) { return agreement_.agree(ok); }
  int stop_status() const { return r_.stop_reason == "interrupted" ? 128 + g_signal.load() : 0; }

  bool set_up();
  bool make_trainer();
  bool same_data_on_every_rank();
  bool prepare_dir();
  bool resume();
  void announce();
  bool train();
  bool step_size();
  bool write_results();
  Json summary(const std::optional<double>& test_elbo) const;
  std::vector<std::string> write_outputs(Json& summary, std::vector<std::string>& warnings);
  void report_nonfinite() const;
  std::string not_converged() const;
  std::string stop_text() const;

  const FitArgs& args_;
  runtime::Collective* const ranks_;
  const int rank_, n_ranks_;
  const bool leader_, quiet_;
  const std::string dir_, checkpoint_;
  InterruptHandlers interrupts_;  // from the start: a signal while setting up stops the fit
  RankAgreement agreement_;

  runtime::TrainerOptions topt_;
  Bound b_;
  std::optional<std::string> image_;  // the image data the pictures show, if any
  Preview image_rows_;
  bool globals_ = false;  // any global latent: draws.csv, the posterior's moments, PSIS
  bool all_global_ = false;  // latents, all global: --until converged applies
  runtime::LrSchedule schedule_;
  std::optional<runtime::AdaptResult> adapted_;
  std::unique_ptr<runtime::Convergence> convergence_;  // --until converged on a model of global latents
  std::optional<double> resumed_lr_;  // the step size the checkpoint's fit used
  std::optional<LaplaceStart> laplace_;
  std::string posterior_table_;       // printed after the fit (global latents)
  std::int64_t draws_ = 0;            // of the guide, for the posterior's summary and draws.csv
  std::unique_ptr<files::OutputLock> lock_;  // rank 0's hold on dir_ while it writes there
  std::unique_ptr<runtime::Trainer> trainer_;
  runtime::FitHistory history_;
  double compile_ms_ = 0;
  std::uint64_t data_hash_ = 0;
  runtime::LoopOptions lo_;
  runtime::LoopResult r_;
};

// The options, the model compiled and bound to its data, and the trainer.
bool Fit::set_up() {
  if (!parse_batch(args_.batch, topt_)) return false;
  if (!args_.lr_schedule.empty()) {
    std::string problem;
    std::optional<runtime::LrSchedule> schedule = runtime::parse_lr_schedule(args_.lr_schedule, problem);
    if (!schedule) {
      error("--lr-schedule", problem);
      return false;
    }
    schedule_ = *schedule;
  }
  try {
    topt_.optimizer = &runtime::optimizer_named(args_.optimizer);
  } catch (const std::invalid_argument& e) {
    error("--optimizer", e.what());
    return false;
  }
  if (args_.lr && !(*args_.lr > 0 && std::isfinite(*args_.lr))) {
    error("--lr", "the learning rate must be a positive number");
    return false;
  }
  topt_.seed = args_.seed;
  topt_.threads = args_.threads;
  topt_.clip_grad = args_.clip_grad;
  topt_.collective = ranks_;

  ModelArgs margs = args_.model;
  margs.kernels = {"elbo_grad", "sample_guide", "sample_model", "reconstruct", "support", "generated"};
  margs.threads = args_.threads;
  margs.optimizer_slots = topt_.optimizer->slots;
  if (!args_.data.test_data.empty()) margs.kernels.push_back("elbo");
  // Each rank reads its copy of the data ({rank} paths) and keeps only its shard of the rows.
  DataArgs data = args_.data;
  name_rank_copies(data, rank_);
  if (!leader_) data.test_data.clear();  // rank 0 alone evaluates held-out data
  if (!bind_model(b_, margs, data, true)) return false;
  compile_ms_ = b_.fe.times.total();
  topt_.lr = learning_rate(b_, *topt_.optimizer, args_.lr);
  if (!make_trainer() ||
      !budget_steps(args_.steps, args_.epochs, static_cast<double>(trainer_->steps_per_epoch()), lo_.steps, leader_)) {
    return false;
  }
  // Latents all global: stop when converged (by default), --steps a cap.
  if (args_.until == "converged" && all_global_) {
    if (args_.steps <= 0 && args_.epochs <= 0) lo_.steps = kConvergedCap;
    runtime::ConvergenceOptions co;
    co.mcse = args_.tol_mcse;
    std::vector<std::int64_t> sizes;
    for (const std::string& n : trainer_->param_names()) {
      std::int64_t size = 1;
      for (std::int64_t e : trainer_->param_shape(n)) size *= e;
      sizes.push_back(size);
    }
    // lowrank's diagonal and factor trade off along flat directions (the same covariance): its
    // locations alone tell whether the fit has converged.
    std::vector<std::string> names = trainer_->param_names();
    bool ranked = std::find(names.begin(), names.end(), "guide.factor") != names.end();
    std::vector<bool> watched;
    for (const std::string& n : names) watched.push_back(!ranked || (n != "guide.factor" && n != "guide.scale"));
    convergence_ = std::make_unique<runtime::Convergence>(names, sizes, co, guide_scales(*trainer_, *b_.fe.model),
                                                          watched);
  }
  if (args_.lr_schedule.empty() && convergence_ && !args_.lr) schedule_.kind = runtime::LrSchedule::Kind::Adapt;
  // Every distribution's arguments inside their supports before any time is spent (a resumed
  // fit's params are the checkpoint's, read later).
  try {
    if (leader_ && !args_.resume && !check_supports(b_, *trainer_, "at the initial values")) return false;
  } catch (const RuntimeError& e) {
    error(args_.model.model_path, e.what());
    return false;
  }
  return true;
}

bool Fit::make_trainer() {
  // What the pictures need of the training data, taken now: the trainer then holds the only
  // copy of it (in the model's precision), unless PSIS needs the arrays again (global latents).
  const sema::Model& model = *b_.fe.model;
  image_ = image_data(b_);
  if (image_ && leader_) image_rows_ = preview(b_.train.at(*image_), 64);
  globals_ = std::any_of(model.latents.begin(), model.latents.end(), [](const sema::Variable& v) { return !v.local; });
  all_global_ = globals_ && std::none_of(model.latents.begin(), model.latents.end(),
                                         [](const sema::Variable& v) { return v.local; });
  data_hash_ = hash_data(b_.train);  // the ranks compare it; the checkpoint records it
  try {
    auto init = lower::initial_params(*b_.fe.lowered, args_.seed);
    if (globals_ && leader_) trainer_ = std::make_unique<runtime::Trainer>(b_.fe.compiled->info(), b_.train, init, topt_);
    else trainer_ = std::make_unique<runtime::Trainer>(b_.fe.compiled->info(), std::move(b_.train), init, topt_);
  } catch (const RuntimeError& e) {
    error(args_.model.model_path, e.what());
    return false;
  }
  if (b_.have_test && leader_) {
    try {
      trainer_->check_data(b_.test);
    } catch (const RuntimeError& e) {
      std::string files;
      for (const auto& [name, path] : b_.test_files) files += (files.empty() ? "" : ", ") + path;
      error(files, e.what());
      return false;
    }
  }
  return true;
}

bool Fit::same_data_on_every_rank() {
  if (!ranks_ || same_on_every_rank(*ranks_, data_hash_)) return true;
  if (leader_) {
    error(args_.model.model_path, "the ranks read different training data: with {rank} in a --data path, "
                                  "every rank's file must be a copy of the same data (each rank keeps its "
                                  "own shard of the rows)");
  }
  return false;
}

// The output directory must take files before any time is spent training (and is made only
// once the model and data are known to be good).
bool Fit::prepare_dir() {
  if (!leader_) return true;
  lock_ = prepare_output_dir(dir_);
  return lock_ != nullptr;
}

// --resume: rank 0 reads the checkpoint and every rank restores the same bytes (the ranks
// need not share a file system).
bool Fit::resume() {
  bool ok = true;
  std::string bytes;
  if (leader_) {
    if (!fs::exists(checkpoint_)) {
      error(checkpoint_, "no checkpoint to resume from (run without --resume first)");
      ok = false;
    } else {
      try {
        bytes = runtime::read_checkpoint_bytes(checkpoint_);
      } catch (const RuntimeError& e) {
        error(args_.model.model_path, e.what());
        ok = false;
      }
    }
  }
  if (!agree(ok)) return false;
  if (ranks_) ranks_->broadcast(bytes, 0);
  try {
    runtime::restore_checkpoint(bytes, checkpoint_, *trainer_, history_);
  } catch (const RuntimeError& e) {
    error(args_.model.model_path, std::string(e.what()) + fitted_on(runtime::checkpoint_meta(bytes), b_));
    ok = false;
  }
  // The convergence check goes on where it was, from the last iterate (the checkpoint's params
  // are the average of the stationary ones); the adapted step size is the checkpoint's.
  if (ok && convergence_ && !history_.convergence.empty()) {
    try {
      convergence_->restore(history_.convergence);
      if (!convergence_->last().empty()) trainer_->set_params(convergence_->last());
    } catch (const std::exception& e) {
      if (leader_) std::cerr << "warning: " << checkpoint_ << ": " << e.what() << ": the convergence check starts afresh\n";
      convergence_->restore(runtime::Convergence(*convergence_).save());
    }
  }
  if (ok) {
    Json record = Json::parse(history_.meta, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("lr") && record["lr"].is_number()) resumed_lr_ = record["lr"].get<double>();
  }
  // The same shapes but other values (another file, or the embedded digits instead of the
  // data the fit began with): allowed, since a fit may go on with more data, but said.
  if (ok && leader_) {
    std::string before = data_difference(history_.meta, b_, data_hash_);
    if (!before.empty()) std::cerr << "warning: " << before << '\n';
  }
  return agree(ok);
}

// The budget, and what the fit is about to do.
void Fit::announce() {
  const std::int64_t steps = lo_.steps;
  if (leader_) note_batch_ignored(args_.batch, trainer_->primary_dim(), trainer_->datapoints());
  if (quiet_) return;
  std::printf("fit %s: %s, estimator %s (L = %d), %s, lr %g, seed %llu, %d thread%s\n",
              b_.fe.model->name.c_str(), b_.embedded ? "embedded digits (1797 x 64)" : "data bound",
              args_.model.estimator.c_str(), args_.model.samples, std::string(topt_.optimizer->name).c_str(),
              topt_.lr, static_cast<unsigned long long>(args_.seed), args_.threads, args_.threads == 1 ? "" : "s");
  if (ranks_) std::printf("  %d MPI ranks, each with its shard of the data and its slice of every minibatch\n", n_ranks_);
  std::string batching = trainer_->primary_dim().empty()
                             ? std::string("every step sees all the data") +
                                   (trainer_->datapoints_array().empty()
                                        ? ""
                                        : " (the bound per datapoint is per row of '" + trainer_->datapoints_array() + "')")
                             : "minibatch " + std::to_string(trainer_->batch_size()) + " (" +
                                   std::to_string(trainer_->steps_per_epoch()) + " steps per epoch)";
  std::printf("  %lld datapoints, %s, %lld steps; compiled in %.0f ms%s\n",
              static_cast<long long>(trainer_->datapoints()), batching.c_str(), static_cast<long long>(steps),
              compile_ms_, b_.fe.compiled->timing().from_cache ? " (object cache)" : "");
  if (args_.resume) std::printf("  resuming at step %lld\n", static_cast<long long>(trainer_->steps_done()));
  std::fflush(stdout);
}

// The optimisation loop (runtime/include/vmc/fit.hpp).
bool Fit::train() {
  lo_.tol_rel_obj = args_.tol_rel_obj;
  lo_.eval_every = args_.eval_every;
  lo_.test = b_.have_test && leader_ ? &b_.test : nullptr;
  lo_.quiet = quiet_;
  lo_.terminal = ::isatty(STDOUT_FILENO) && !quiet_;
  if (leader_) lo_.checkpoint_path = checkpoint_;
  lo_.checkpoint_every = args_.checkpoint_every;
  lo_.interrupt = &g_interrupted;
  lo_.convergence = convergence_.get();
  lo_.explain_nonfinite = [this, draw = std::uint64_t{0}]() mutable {
    std::string problem = support_problem(b_, *trainer_, draw++);
    if (problem.empty() && args_.model.precision == "f32" && factors_matrices(*b_.fe.lowered)) {
      problem = "a matrix given to cholesky_decompose may not be positive definite in f32 (a covariance whose "
                "diagonal jitter is below f32's 7 digits is singular there): try --precision f64";
    }
    return problem;
  };
  if (!step_size()) return false;
  Json record = checkpoint_record(b_, data_hash_);
  record["lr"] = topt_.lr;
  history_.meta = record.dump();
  // trace.csv is appended to as the fit goes (a resumed fit's cut back to its checkpoint).
  if (leader_) lo_.trace_path = dir_ + "/trace.csv";
  try {
    if (leader_) {
      std::string warning = runtime::begin_trace(lo_.trace_path, history_);
      if (!warning.empty()) std::cerr << "warning: " << warning << '\n';
    }
    // The other ranks' loops say nothing (rank 0 prints every warning once).
    std::ostream silent(nullptr);
    r_ = while_doing("training", [&] { return runtime::run_fit(*trainer_, history_, lo_, leader_ ? std::cout : silent); });
  } catch (const std::bad_alloc&) {
    throw;  // main says what ran out of memory
  } catch (const std::exception& e) {
    // "OUT/checkpoint.bin: cannot write: No space left on device" names its file; anything else
    // is about the model's run.
    std::string what = e.what();
    auto colon = what.find(": ");
    if (what.rfind(dir_ + "/", 0) == 0 && colon != std::string::npos) error(what.substr(0, colon), what.substr(colon + 2));
    else error(args_.model.model_path, what);
    // A rank that cannot go on while the others wait in the step's sums stops them all.
    if (ranks_) ranks_->abort(1);
    return false;
  }
  if (r_.stop_reason == "steps" && args_.steps <= 0 && args_.epochs > 0) r_.stop_reason = "epochs";
  return true;
}

// The step size: a resumed fit's is its checkpoint's; --lr-schedule adapt searches for the base
// one first (its trial steps do not count); step and invsqrt give each step's.
bool Fit::step_size() {
  // A model of global latents with an automatic guide starts from a Laplace approximation.
  if (args_.start == "laplace" && all_global_ && !args_.resume && trainer_->steps_done() == 0 && !ranks_ &&
      trainer_->primary_dim().empty()) {
    try {
      laplace_ = while_doing("finding the posterior's mode", [&] { return laplace_start(*trainer_, kStreamLaplace); });
    } catch (const std::exception& e) {
      error(args_.model.model_path, e.what());
      return false;
    }
    if (laplace_ && !quiet_) {
      std::printf("  %s\n", laplace_->summary.c_str());
      std::fflush(stdout);
    }
  }
  if (schedule_.kind == runtime::LrSchedule::Kind::Adapt) {
    if (args_.resume && resumed_lr_) {
      topt_.lr = *resumed_lr_;
    } else if (trainer_->steps_done() == 0) {
      try {
        adapted_ = while_doing("adapting the step size", [&] { return runtime::adapt_lr(*trainer_, topt_.lr); });
      } catch (const std::exception& e) {
        error(args_.model.model_path, e.what());
        return false;
      }
      topt_.lr = adapted_->lr;
      if (!quiet_) {
        std::printf("  step size: adapt: tried");
        for (std::size_t k = 0; k < adapted_->candidates.size(); ++k) {
          std::printf("%s %g (elbo %.4g)", k ? "," : "", adapted_->candidates[k], adapted_->bounds[k]);
        }
        // A larger step is kept over one whose bound was higher, but not beyond twice the trials'
        // noise: say so, or the line reads as a wrong choice.
        double chosen = NAN, best = -INFINITY;
        for (std::size_t k = 0; k < adapted_->candidates.size(); ++k) {
          if (adapted_->candidates[k] == topt_.lr) chosen = adapted_->bounds[k];
          if (adapted_->bounds[k] > best) best = adapted_->bounds[k];
        }
        std::printf("; lr %g%s\n", topt_.lr,
                    chosen < best ? " (a smaller step is chosen only when its bound is higher beyond twice the trials' noise)"
                                  : "");
        std::fflush(stdout);
      }
    }
  }
  trainer_->set_lr(topt_.lr);
  if (schedule_.kind == runtime::LrSchedule::Kind::Step || schedule_.kind == runtime::LrSchedule::Kind::InvSqrt) {
    lo_.lr_at = [base = topt_.lr, schedule = schedule_](std::int64_t t) { return base * schedule.at(t); };
  }
  return true;
}

// Rank 0: the held-out bound, trace.csv, draws and pictures, summary.json (written last), and
// the closing line.
bool Fit::write_results() {
  try {
    if (r_.stop_reason == "interrupted") std::cout << "interrupted: writing the results so far\n";
    std::optional<double> test_elbo;
    if (b_.have_test) test_elbo = trainer_->evaluate(b_.test, "elbo", kStreamTest);
    Json s = summary(test_elbo);
    std::vector<std::string> warnings;
    std::vector<std::string> files = write_outputs(s, warnings);
    if (r_.stop_reason == "nonfinite") warnings.push_back("stopped after repeated non-finite steps: " + r_.problem);
    const bool unconverged = convergence_ && (r_.stop_reason == "steps" || r_.stop_reason == "epochs");
    if (unconverged) warnings.push_back("the fit did not converge in " + std::to_string(trainer_->steps_done()) +
                                        " steps: " + not_converged());
    s["warnings"] = warnings;
    s["files"] = files;
    runtime::write_file_atomic(dir_ + "/summary.json", s.dump(2) + "\n");

    for (const std::string& w : warnings) std::cerr << "warning: " << w << '\n';
    if (!args_.quiet && !posterior_table_.empty()) {
      std::printf("posterior (%lld draws of the guide, on each latent's support%s):\n%s", static_cast<long long>(draws_),
                  b_.fe.model->generated.empty() ? "" : "; the generated block's quantities of each draw",
                  posterior_table_.c_str());
    }
    if (!args_.quiet) {
      std::printf("done: %lld steps (%s), smoothed elbo per datapoint %.6g",
                  static_cast<long long>(trainer_->steps_done()), stop_text().c_str(), r_.final_smoothed);
      if (test_elbo) std::printf(", test %.6g", *test_elbo);
      std::printf(", %.2f s, %.0f datapoints/s\n  results in %s/:", r_.fit_s, s["datapoints_per_s"].get<double>(),
                  dir_.c_str());
      for (const std::string& f : files) std::printf(" %s", f.c_str());
      std::printf("\n");
      if (unconverged) {
        std::printf("NOT CONVERGED after %lld steps: %s; the results are not a posterior to report (raise --steps, "
                    "see elbo.svg)\n",
                    static_cast<long long>(trainer_->steps_done()), not_converged().c_str());
      }
    }
  } catch (const RuntimeError& e) {
    error(args_.model.model_path, e.what());
    return false;
  } catch (const OutOfMemory&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("writing the results to " + dir_);
  } catch (const std::exception& e) {
    error(dir_, e.what());
    return false;
  }
  return true;
}

// Why a fit watched for convergence has not converged.
std::string Fit::not_converged() const {
  if (r_.stop_reason == "interrupted") return "it was interrupted";
  if (r_.stop_reason == "nonfinite") return "it stopped on non-finite steps";
  return convergence_->why_not();
}

// The stop reason in the closing line: how it converged, or what cap it reached.
std::string Fit::stop_text() const {
  if (r_.stop_reason == "converged" && r_.converged_by == "iterates") {
    const runtime::ConvergenceStatus& st = convergence_->status();
    if (st.averaged == 0) return "converged: the model has no params to fit";
    char buf[200];
    std::snprintf(buf, sizeof buf, "converged: the params are the average of the %lld iterates from step %lld, "
                  "Monte Carlo error %.2g of a posterior sd", static_cast<long long>(st.averaged),
                  static_cast<long long>(st.averaged_from), st.mcse);
    return buf;
  }
  if (r_.stop_reason == "converged") return "converged: --tol-rel-obj";
  if (convergence_ && (r_.stop_reason == "steps" || r_.stop_reason == "epochs")) return "the cap, not converged";
  return r_.stop_reason;
}

// summary.json's keys (INTERFACE.md), but for the warnings and files.
Json Fit::summary(const std::optional<double>& test_elbo) const {
  const runtime::Trainer& t = *trainer_;
  Json s;
  s["model"] = b_.fe.model->name;
  s["model_file"] = args_.model.model_path;
  s["estimator"] = args_.model.estimator;
  s["samples"] = args_.model.samples;
  // Without a subsampled plate every step is one pass over all the data.
  s["batch"] = t.primary_dim().empty() ? t.datapoints() : t.batch_size();
  s["steps"] = t.steps_done();
  s["epochs"] = static_cast<double>(t.steps_done()) / static_cast<double>(t.steps_per_epoch());
  s["datapoints"] = t.datapoints();
  s["datapoints_seen"] = t.datapoints_seen();
  s["seed"] = t.options().seed;
  s["threads"] = args_.threads;
  s["ranks"] = n_ranks_;
  s["precision"] = args_.model.precision;
  s["optimizer"] = topt_.optimizer->name;
  s["lr"] = topt_.lr;
  s["compile_ms"] = compile_ms_;
  s["fit_s"] = history_.wall_s;
  s["steps_per_s"] = r_.fit_s > 0 ? static_cast<double>(r_.steps_this_session) / r_.fit_s : 0.0;
  s["datapoints_per_s"] = r_.fit_s > 0 ? static_cast<double>(r_.datapoints_this_session) / r_.fit_s : 0.0;
  s["final_elbo_per_datapoint"] = number(r_.final_smoothed);
  if (test_elbo) s["test_elbo_per_datapoint"] = number(*test_elbo);
  s["stop_reason"] = r_.stop_reason;
  if (convergence_ || args_.tol_rel_obj > 0) s["converged"] = r_.stop_reason == "converged";
  if (convergence_) {
    const runtime::ConvergenceStatus& st = convergence_->status();
    Json c;
    c["rule"] = r_.converged_by.empty() ? "iterates" : r_.converged_by;
    // R̂ of the last stationarity check, over the components still moving; null when none was
    // (each one's chunk means within a tenth of its scale: R̂ would say nothing there).
    c["rhat"] = st.rhat > 0 ? number(st.rhat) : Json(nullptr);
    c["averaged_from_step"] = st.averaged_from;
    c["averaged_steps"] = st.averaged;
    c["mcse"] = number(st.mcse);
    c["tol_mcse"] = args_.tol_mcse;
    if (r_.stop_reason != "converged") c["why_not"] = not_converged();
    s["convergence"] = c;
  }
  if (laplace_) {
    s["laplace_start"] = {{"applied", laplace_->applied}, {"summary", laplace_->summary},
                          {"iterations", laplace_->iterations}, {"evaluations", laplace_->evaluations},
                          {"dimensions", laplace_->dimensions}, {"jitter", laplace_->jitter}};
  }
  s["lr_schedule"] = schedule_.text();
  if (adapted_) {
    Json a = Json::array();
    for (std::size_t k = 0; k < adapted_->candidates.size(); ++k) {
      a.push_back({{"lr", adapted_->candidates[k]}, {"elbo_per_datapoint", number(adapted_->bounds[k])}});
    }
    s["lr_adaptation"] = a;
  }
  s["nonfinite_steps"] = r_.nonfinite_steps;
  if (!r_.problem.empty()) s["last_nonfinite_problem"] = r_.problem;
  if (r_.restored_step >= 0) s["restored_step"] = r_.restored_step;
  if (!history_.tests.empty()) {
    Json tests = Json::array();
    for (const runtime::TestPoint& p : history_.tests) {
      tests.push_back({{"step", p.step}, {"elbo_per_datapoint", number(p.elbo)}});
    }
    s["test_trace"] = tests;
  }
  Json params = Json::object();
  for (const std::string& n : t.param_names()) params[n] = shape_json(t.param_shape(n));
  s["params"] = params;
  return s;
}

// The files beside trace.csv: draws.csv and the posterior's moments (global latents), the
// pictures of image data, elbo.svg. Returns every file the fit writes, summary.json first.
std::vector<std::string> Fit::write_outputs(Json& summary, std::vector<std::string>& warnings) {
  std::vector<std::string> files = {"summary.json", "trace.csv", "checkpoint.bin"};
  const sema::Model& model = *b_.fe.model;
  if (globals_) {
    Posterior p = posterior(*trainer_, model);
    draws_ = p.draws;
    summary["posterior"] = p.moments;
    if (!model.generated.empty()) summary["generated"] = p.generated;
    posterior_table_ = p.table;
    runtime::write_file_atomic(dir_ + "/draws.csv", p.csv);
    files.push_back("draws.csv");
    std::optional<double> k = psis(args_, b_, *trainer_, 1000);
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
  if (image_) {
    for (const std::string& f : pictures(*trainer_, b_, dir_, *image_, image_rows_)) files.push_back(f);
  }
  elbo_svg(dir_ + "/elbo.svg", model.name, history_);
  files.push_back("elbo.svg");
  return files;
}

void Fit::report_nonfinite() const {
  std::string restored = r_.restored_step >= 0
                             ? "; the params written are those of step " + std::to_string(r_.restored_step) +
                                   ", the last kept with a finite bound"
                             : "";
  error(args_.model.model_path, "the fit stopped: " + r_.problem + " on " + std::to_string(lo_.max_nonfinite) +
                                    " steps in a row from step " + std::to_string(r_.first_nonfinite_step) +
                                    restored + " (try a smaller --lr or --clip-grad)");
}

}  // namespace

int run_fit(const FitArgs& args) { return Fit(args).run(); }

}  // namespace vmc::driver

// vmc: the command line. Sub-commands are defined here; their work lives in commands.cpp.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <memory>
#include <iostream>
#include <new>
#include <type_traits>

#include "driver/checks.hpp"
#include "driver/commands.hpp"
#include "driver/compare.hpp"
#include "driver/config.hpp"
#include "driver/help.hpp"
#include "driver/out_of_memory.hpp"
#include "driver/ranks.hpp"
#include "driver/run.hpp"
#include "lower/estimator.hpp"
#include "sema/auto_guide.hpp"
#include "support/check.hpp"
#include "support/stack.hpp"
#include "support/suggest.hpp"
#include "vmc/collective.hpp"
#include "vmc/philox.hpp"

namespace {

constexpr const char* kVersion = "0.1.0";

const char* kDescription =
    "vmc: a compiler and runtime for variational inference.\n"
    "Write a model and its guide in a .vmodel file; vmc checks it, derives the ELBO and its\n"
    "gradient symbolically, and optimises it.";

// The command line: every sub-command's options, bound to the arguments its command reads.
struct Cli {
  CLI::App app{kDescription, "vmc"};
  vmc::driver::ModelArgs model;  // every command's MODEL and compile options
  vmc::driver::DataArgs data;    // the commands that run a model on data
  bool timing = false;
  std::string emit_stage;
  bool optimized = false;
  vmc::driver::DiagnoseArgs diag;
  vmc::driver::FitArgs fit;
  std::string fit_config;
  vmc::driver::EvalArgs eval;
  vmc::driver::SampleArgs sample;
  vmc::driver::LooArgs loo;
  vmc::driver::CompareArgs compare;
  std::string compare_config, replot;
  vmc::driver::BenchArgs bench;
  std::string help_topic;
  CLI::App *check_cmd = nullptr, *emit_cmd = nullptr, *diagnose_cmd = nullptr, *fit_cmd = nullptr,
           *eval_cmd = nullptr, *sample_cmd = nullptr, *loo_cmd = nullptr, *compare_cmd = nullptr, *bench_cmd = nullptr,
           *help_cmd = nullptr;

  Cli();
  void model_options(CLI::App* cmd, bool lowering, bool required = true);
  void data_options(CLI::App* cmd, bool test);
  void from_fit(CLI::App* cmd, bool test, std::string& params, std::uint64_t& seed);
  void add_check();
  void add_emit();
  void add_diagnose();
  void add_fit();
  void add_eval_and_sample();
  void add_compare();
  void add_bench();
  void add_help();
  bool apply_configs();
  int run_help();
  int run(int argc, char** argv);
};

Cli::Cli() {
  app.set_version_flag("--version", std::string("vmc ") + kVersion);
  app.require_subcommand(0, 1);
  app.fallthrough(false);
  add_check();
  add_emit();
  add_diagnose();
  add_fit();
  add_eval_and_sample();
  add_compare();
  add_bench();
  add_help();
}

void Cli::model_options(CLI::App* cmd, bool lowering, bool required) {
  CLI::Option* path = cmd->add_option("MODEL", model.model_path, "the .vmodel file");
  if (required) path->required();
  cmd->add_option("--set", model.set,
                  "give a dim a value: --set J=2 (repeatable; overrides a default, or gives a "
                  "dim the data would otherwise give)");
  cmd->add_option("--guide", model.guide,
                  "an automatic guide for a model without a guide block: " + vmc::sema::auto_guides_brief() +
                      "; each in the latents' unconstrained space (vmc help guides)")
      ->check(CLI::Validator(
          [](std::string& text) {
            int rank = 0;
            std::string problem;
            return vmc::sema::parse_auto_guide(text, rank, problem) ? std::string() : problem;
          },
          "GUIDE"));
  if (!lowering) return;
  cmd->add_option("--estimator", model.estimator,
                  "the ELBO estimator: " + vmc::lower::estimator_list() + " (vmc help estimators)")
      ->check(CLI::IsMember(vmc::lower::estimator_names()))
      ->default_val(std::string(vmc::lower::default_estimator().name));
  cmd->add_option("--samples", model.samples,
                  "samples per step: L averaged, or K importance samples (vmc help estimators)")
      ->check(vmc::driver::integer_number(1, 100000))
      ->default_val(1);
  cmd->add_option("--precision", model.precision, "f32 or f64 for generated code")
      ->check(CLI::IsMember({"f32", "f64"}))
      ->default_val("f32");
  cmd->add_flag("--no-cache", model.no_cache,
                "compile from scratch instead of loading an unchanged model's object from the "
                "cache ($VMC_CACHE_DIR, else ~/.cache/vmc)");
}

void Cli::data_options(CLI::App* cmd, bool test) {
  cmd->add_option("--data", data.data,
                  "bind data: NAME=PATH (IDX .gz or raw, .csv, .npy, .json), NAME=FILE.csv:COLUMN (the "
                  "column its header names COLUMN; several names may bind columns of one file) or "
                  "FILE.json (every array named in the data block); repeatable. Without it, a model "
                  "whose data block is just x : real[N, D] runs on the embedded digits (vmc help data)");
  if (test) cmd->add_option("--test-data", data.test_data, "held-out data, bound as --data");
  cmd->add_flag("--raw-pixels", data.raw_pixels, "keep unsigned-byte images as 0-255 instead of [0, 1]");
}

// eval and sample: a model, its data, and a fit's params.
void Cli::from_fit(CLI::App* cmd, bool test, std::string& params, std::uint64_t& seed) {
  model_options(cmd, true);
  data_options(cmd, test);
  cmd->add_option("--params", params, "a checkpoint.bin written by vmc fit")->required();
  cmd->add_option("--seed", seed, "seed of the noise")->check(vmc::driver::seed_number())->default_val(1);
}

// The minibatch, the budget and the optimizer: fit's and compare's.
void training_options(CLI::App* cmd, std::vector<std::string>& batch, std::int64_t& steps, double& epochs,
                      std::string& optimizer, std::optional<double>& lr, const char* steps_help,
                      const char* epochs_help, const char* lr_help) {
  cmd->add_option("--batch", batch, "minibatch size M of the subsampled plate, or DIM=M (default 100)");
  cmd->add_option("--steps", steps, steps_help)
      ->check(vmc::driver::integer_number(1, static_cast<std::int64_t>(vmc::kNoiseMaxStep),
                                          " (2^38, the noise's step counter)"));
  cmd->add_option("--epochs", epochs, epochs_help)->check(vmc::driver::real_number(0, true));
  cmd->add_option("--optimizer", optimizer, vmc::runtime::optimizer_list() + " (vmc help optimizers)")
      ->check(CLI::IsMember(vmc::runtime::optimizer_names()))
      ->default_val(std::string(vmc::runtime::default_optimizer().name));
  cmd->add_option("--lr", lr, lr_help)->check(vmc::driver::real_number(0, true));
}

void Cli::add_check() {
  check_cmd = app.add_subcommand(
      "check", "Parse and check a model: prints a one-line summary, or the errors (exit 1)");
  model_options(check_cmd, true);
  check_cmd->add_flag("--timing,-v", timing,
                      "also compile to native code and print the time of each stage: parse, "
                      "sema, lower, diff, simplify, codegen, LLVM optimise, JIT link");
}

void Cli::add_emit() {
  emit_cmd = app.add_subcommand(
      "emit", "Print a compiler stage's output for a model (deterministic, for golden tests): "
              "ast (the parsed program), ir (the objective's tensor IR), grad (the simplified "
              "value + gradient DAG), llvm (the generated LLVM module)");
  emit_cmd->add_option("STAGE", emit_stage, "ast, ir, grad or llvm")
      ->required()
      ->check(CLI::IsMember({"ast", "ir", "grad", "llvm"}));
  model_options(emit_cmd, true);
  emit_cmd->add_flag("--optimized", optimized,
                     "llvm: print the module after LLVM's O3 pipeline for this machine");
}

void Cli::add_diagnose() {
  diagnose_cmd = app.add_subcommand(
      "diagnose", "Compare the symbolic gradient with finite differences of the reference "
                  "interpreter at a random point (fixed noise; synthetic data, or the --data given, "
                  "whose shapes give the dims); exit 1 past the tolerance");
  model_options(diagnose_cmd, true);
  data_options(diagnose_cmd, false);
  diagnose_cmd->add_option("--epsilon", diag.epsilon, "finite-difference step")
      ->check(vmc::driver::real_number(0, true))
      ->default_val(1e-6);
  diagnose_cmd->add_option("--error", diag.error,
                           "tolerance on |symbolic - finite difference|, relative past 1")
      ->check(vmc::driver::real_number(0, false))
      ->default_val(1e-6);
  diagnose_cmd->add_option("--seed", diag.seed, "seed of the point, noise and data")
      ->check(vmc::driver::seed_number())
      ->default_val(1);
  diagnose_cmd->add_option("--init", diag.init_radius,
                           "draw params uniformly in (-R, R), unconstrained, instead of from "
                           "their declared inits")
      ->check(vmc::driver::real_number(0, true));
  diagnose_cmd->add_option("--elements", diag.elements, "elements checked per param")
      ->check(vmc::driver::integer_number(1, 1000000))
      ->default_val(10);
}

void Cli::add_fit() {
  fit_cmd = app.add_subcommand(
      "fit", "Compile a model and optimise its ELBO on data; results (summary.json, trace.csv, "
             "checkpoint.bin, draws.csv, pictures) go to --out DIR");
  model_options(fit_cmd, true, false);
  data_options(fit_cmd, true);
  fit_cmd->add_option("--config", fit_config,
                      "a TOML file with the same keys as these options; flags win; its relative paths "
                      "(model, data, test_data, out) are relative to its own directory");
  training_options(fit_cmd, fit.batch, fit.steps, fit.epochs, fit.optimizer, fit.lr,
                   "total optimisation steps (default 2000 unless --epochs); with --until converged, the most "
                   "steps (default 100000)", "passes over the data instead of --steps",
                   "learning rate (default: the optimizer's own, vmc help optimizers; ten times that for a model "
                   "with no subsampled plate, whose every step sees all the data)");
  fit_cmd->add_option("--seed", fit.seed, "seed of the initial values, minibatches and noise")
      ->check(vmc::driver::seed_number())
      ->default_val(1);
  fit_cmd->add_option("--threads", fit.threads, "threads; each runs part of every minibatch")
      ->check(vmc::driver::integer_number(1, 256))
      ->default_val(1);
  fit_cmd->add_option("--out", fit.out, "output directory")->default_val("vmc-out");
  fit_cmd->add_flag("--resume", fit.resume, "continue from OUT/checkpoint.bin (bit-for-bit)");
  fit_cmd->add_option("--tol-rel-obj", fit.tol_rel_obj,
                      "stop when the smoothed ELBO's relative change over 100 steps is below this "
                      "(median of the last 5 checks), as Stan's ADVI")
      ->check(vmc::driver::real_number(0, false));
  fit_cmd->add_option("--until", fit.until,
                      "converged: a model whose latents are all global stops when its iterates have converged "
                      "(R-hat of the iterates, then their average to an MCSE below --tol-mcse; the params "
                      "reported are the average), --steps being the most it takes; steps: every step is taken")
      ->check(CLI::IsMember({"converged", "steps"}))
      ->default_val("converged");
  fit_cmd->add_option("--tol-mcse", fit.tol_mcse,
                      "--until converged: the averaged params' Monte Carlo error, in units of each one's scale "
                      "(a guide location's: the guide's sd of that element)")
      ->check(vmc::driver::real_number(0, false))
      ->default_val(0.01);
  fit_cmd->add_option("--start", fit.start,
                      "laplace: an automatic guide over global latents (no subsampled plate) starts from the "
                      "posterior's mode and curvature in unconstrained space, found by L-BFGS, and is optimised in "
                      "their frame; init: from the params' initial values")
      ->check(CLI::IsMember({"laplace", "init"}))
      ->default_val("laplace");
  fit_cmd->add_option("--lr-schedule", fit.lr_schedule,
                      "constant, adapt (Stan ADVI's step-size search), step[:EVERY[:FACTOR]] or invsqrt[:TAU] "
                      "(vmc help schedules); default adapt for a model whose latents are all global when --lr is not "
                      "given, else constant");
  fit_cmd->add_option("--clip-grad", fit.clip_grad, "clip the gradient's L2 norm (per datapoint) to this")
      ->check(vmc::driver::real_number(0, false));
  fit_cmd->add_option("--eval-every", fit.eval_every, "evaluate the bound on --test-data every K steps")
      ->check(vmc::driver::integer_number(0, std::numeric_limits<std::int64_t>::max()));
  fit_cmd->add_option("--checkpoint-every", fit.checkpoint_every,
                      "also write OUT/checkpoint.bin every K steps (always: at the end, on Ctrl-C or SIGTERM, "
                      "and every 5 minutes)")
      ->check(vmc::driver::integer_number(0, std::numeric_limits<std::int64_t>::max()));
  fit_cmd->add_flag("--quiet,-q", fit.quiet, "no progress output");
}

void Cli::add_eval_and_sample() {
  eval_cmd = app.add_subcommand(
      "eval", "The bound per datapoint on data with a fit's params (an importance-weighted "
              "--estimator with a large --samples K estimates the log-likelihood)");
  from_fit(eval_cmd, true, eval.params, eval.seed);
  eval_cmd->add_option("--batch", eval.batch, "rows per kernel call")
      ->check(vmc::driver::integer_number(1, std::numeric_limits<std::int64_t>::max()));
  eval_cmd->add_option("--threads", eval.threads, "threads")->check(vmc::driver::integer_number(1, 256))->default_val(1);

  sample_cmd = app.add_subcommand(
      "sample", "Draws from the fitted guide (the posterior) or the model (--from model) to CSV; "
                "image data also to a PNG grid");
  from_fit(sample_cmd, false, sample.params, sample.seed);
  sample_cmd->add_option("--draws", sample.draws, "number of draws")
      ->check(vmc::driver::integer_number(1, 10000000))
      ->default_val(100);
  sample_cmd->add_option("--from", sample.from,
                         "guide (the posterior's draws of the latents), model (latents from their priors, then "
                         "data), or predictive (data drawn given each guide draw: the posterior predictive)")
      ->check(CLI::IsMember({"guide", "model", "predictive"}))
      ->default_val("guide");
  sample_cmd->add_option("--out", sample.out, "the CSV file (default draws.csv, model_draws.csv or predictive_draws.csv)");

  loo_cmd = app.add_subcommand(
      "loo", "PSIS-LOO of a fitted model of global latents: the expected log predictive density of each "
             "datapoint left out, from the guide's draws weighted by p/q (Vehtari, Gelman & Gabry 2017; "
             "Magnusson et al. 2019), with Pareto k diagnostics, as R's loo prints them");
  from_fit(loo_cmd, false, loo.params, loo.seed);
  loo_cmd->add_option("--draws", loo.draws, "draws of the guide")
      ->check(vmc::driver::integer_number(100, 10000000))
      ->default_val(4000);
  loo_cmd->add_option("--out", loo.out, "per datapoint: elpd_loo, p_loo, khat (CSV)")->default_val("loo.csv");
  loo_cmd->add_option("--log-lik", loo.log_lik, "also write the draws x datapoints log-likelihood matrix to this CSV");
}

void Cli::add_compare() {
  compare_cmd = app.add_subcommand(
      "compare", "Train a model once per estimator (or per [[run]] of --config) from the same seed, data order "
                 "and initial values on the same budget; bound per datapoint against datapoints (one common "
                 "estimator), gradient variance and SNR, time per step: compare.csv, gradients.csv, "
                 "compare.json, compare.svg in --out DIR");
  model_options(compare_cmd, true, false);
  data_options(compare_cmd, true);
  compare_cmd->add_option("--estimators", compare.estimators,
                          "the runs, one per estimator: any of " + vmc::lower::estimator_list() +
                              ", comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember(vmc::lower::estimator_names()));
  compare_cmd->add_option("--config", compare_config,
                          "a TOML file with these options as keys and [[run]] tables (label, estimator, samples, "
                          "batch, optimizer, lr), one per run; flags win; its relative paths are relative to "
                          "its own directory");
  training_options(compare_cmd, compare.batch, compare.steps, compare.epochs, compare.optimizer, compare.lr,
                   "the budget, in steps of the common batch (default 2000 unless --epochs)",
                   "the budget in passes over the data", "learning rate (default: the optimizer's, as for fit)");
  compare_cmd->add_option("--seed", compare.seed, "seed of every run (repeat r uses seed + r)")
      ->check(vmc::driver::seed_number())
      ->default_val(1);
  compare_cmd->add_option("--repeats", compare.repeats, "runs per estimator, seeds seed, seed + 1, ...")
      ->check(vmc::driver::integer_number(1, 1000))
      ->default_val(1);
  compare_cmd->add_option("--threads", compare.threads, "threads")->check(vmc::driver::integer_number(1, 256))->default_val(1);
  compare_cmd->add_option("--out", compare.out, "output directory")->default_val("vmc-compare");
  compare_cmd->add_option("--points", compare.points, "log-spaced points where the bounds are measured")
      ->check(vmc::driver::integer_number(1, 1000))
      ->default_val(12);
  compare_cmd->add_option("--grad-points", compare.grad_points,
                          "of those, where the gradient's noise is measured (besides the start; 0: nowhere)")
      ->check(vmc::driver::integer_number(0, 1000))
      ->default_val(4);
  compare_cmd->add_option("--grad-draws", compare.grad_draws, "gradient draws (ε) per measurement")
      ->check(vmc::driver::integer_number(2, 1000000))
      ->default_val(100);
  compare_cmd->add_option("--eval-estimator", compare.eval_estimator,
                          "the estimator every run's bound is measured with (default " +
                              std::string(vmc::lower::closed_form_estimator().name) +
                              " when every latent has a closed-form KL, else " +
                              std::string(vmc::lower::default_estimator().name) + ")")
      ->check(CLI::IsMember(vmc::lower::estimator_names()));
  compare_cmd->add_option("--eval-samples", compare.eval_samples, "its samples (L, or K)")
      ->check(vmc::driver::integer_number(1, 100000))
      ->default_val(10);
  compare_cmd->add_option("--eval-rows", compare.eval_rows, "rows of the training and test data it is measured on")
      ->check(vmc::driver::integer_number(1, std::int64_t{1} << 40))
      ->default_val(1000);
  compare_cmd->add_flag("--quiet,-q", compare.quiet, "only the table");
  compare_cmd->add_option("--replot", replot,
                          "draw DIR/compare.svg again from a comparison's files in DIR (no MODEL, no training)");
}

void Cli::add_bench() {
  bench_cmd = app.add_subcommand(
      "bench", "Steps/s, datapoints/s, compile ms, GFLOP/s and the in-run GEMM bound (the step's "
               "products alone) of a model's training step");
  model_options(bench_cmd, true);
  data_options(bench_cmd, false);
  bench_cmd->add_option("--batch", bench.batch, "minibatch size M, or DIM=M (default 100)");
  bench_cmd->add_option("--threads", bench.threads, "threads")->check(vmc::driver::integer_number(1, 256))->default_val(1);
  bench_cmd->add_option("--steps", bench.steps, "timed steps")
      ->check(vmc::driver::integer_number(1, 100000000))
      ->default_val(200);
  bench_cmd->add_option("--warmup", bench.warmup, "untimed steps first")
      ->check(vmc::driver::integer_number(0, 100000000))
      ->default_val(20);
  bench_cmd->add_option("--seed", bench.seed, "seed")->check(vmc::driver::seed_number())->default_val(1);
  bench_cmd->add_flag("--json", bench.json, "one JSON object instead of the table");
  bench_cmd->add_flag("-v", bench.stages, "compile time per stage");
}

// The references `vmc help TOPIC` prints, "a, b, ... or z".
std::string help_tables() { return vmc::join(vmc::driver::help_topics(), " or "); }

void Cli::add_help() {
  help_cmd = app.add_subcommand(
      "help", "Explain a command (vmc help fit), print a reference (vmc help " + help_tables() +
                  ") or one distribution (vmc help normal)");
  help_cmd->add_option("TOPIC", help_topic, "a command, a reference's name, or a distribution's name");
}

// The TOML config of fit or compare, read once the command line is parsed (its flags win); both
// then need a MODEL from one or the other. False when that failed (reported).
bool Cli::apply_configs() {
  if (*fit_cmd) {
    if (!fit_config.empty() && !vmc::driver::apply_config(*fit_cmd, fit_config)) return false;
    if (model.model_path.empty()) {
      std::cerr << "vmc: error: fit needs a MODEL (a .vmodel file), on the command line or as "
                   "`model = \"...\"` in --config\n";
      return false;
    }
  }
  if (*compare_cmd) {
    if (!compare_config.empty() && !vmc::driver::apply_config(*compare_cmd, compare_config, &compare.runs)) return false;
    if (model.model_path.empty()) {
      std::cerr << "vmc: error: compare needs a MODEL (a .vmodel file), on the command line or as "
                   "`model = \"...\"` in --config\n";
      return false;
    }
  }
  return true;
}

// `vmc help [TOPIC]`: the commands, one command's options, or a table of the language's.
int Cli::run_help() {
  if (help_topic.empty()) {
    // app.help() would describe the selected sub-command (`help` itself): ask the formatter.
    std::cout << app.get_formatter()->make_help(&app, "vmc", CLI::AppFormatMode::Normal);
    return 0;
  }
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == help_topic) {
      std::cout << sub->help();
      return 0;
    }
  }
  auto command_help = [&](const std::string& name) -> std::optional<std::string> {
    for (CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == name) return sub->help();
    }
    return std::nullopt;
  };
  if (std::optional<std::string> text = vmc::driver::help_text(help_topic, command_help)) {
    std::cout << *text;
    return 0;
  }
  std::vector<std::string> known = vmc::driver::help_topics();
  for (CLI::App* sub : app.get_subcommands({})) known.push_back(sub->get_name());
  std::cerr << "vmc: error: no command or help topic named '" << help_topic << "'"
            << vmc::did_you_mean(help_topic, known) << "; run 'vmc help' for the commands, or 'vmc help "
            << "TOPIC' for one of the references: " << help_tables() << "\n";
  return 1;
}

int Cli::run(int argc, char** argv) {
  // A first word that is no command: CLI11 would call it an unexpected argument.
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> commands;
    for (CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
    const std::string word = argv[1];
    if (std::find(commands.begin(), commands.end(), word) == commands.end()) {
      std::string hint = vmc::did_you_mean(word, commands);
      std::cerr << "vmc: error: unknown command '" << word << "'"
                << (hint.empty() ? "; the commands are " + vmc::join(commands) : hint)
                << "\nRun 'vmc --help' for the commands and options.\n";
      return 1;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "vmc: error: " << e.what() << "\nRun 'vmc --help' for the commands and options.\n";
    return 1;
  }

  if (*compare_cmd && !replot.empty()) return vmc::driver::draw_compare(replot) ? 0 : 1;
  if (!apply_configs()) return 1;
  // Under mpirun with R > 1 ranks only fit runs: each rank trains on its shard. Any other
  // command would run R times over and write the same files.
  if (vmc::runtime::Collective* ranks = vmc::driver::world(); ranks && !*fit_cmd) {
    if (ranks->rank() == 0) {
      std::cerr << "vmc: error: only `vmc fit` runs across MPI ranks (" << ranks->size()
                << " were started); run this command as one process, without mpirun\n";
    }
    return 1;
  }
  // The commands that run a model on data get the shared model and data options.
  auto on_data = [&](auto& args, int (*command)(const std::remove_reference_t<decltype(args)>&)) {
    args.model = model;
    args.data = data;
    return command(args);
  };
  if (*fit_cmd) return on_data(fit, vmc::driver::run_fit);
  if (*eval_cmd) return on_data(eval, vmc::driver::run_eval);
  if (*sample_cmd) return on_data(sample, vmc::driver::run_sample);
  if (*loo_cmd) return on_data(loo, vmc::driver::run_loo);
  if (*bench_cmd) return on_data(bench, vmc::driver::run_bench);
  if (*compare_cmd) return on_data(compare, vmc::driver::run_compare);
  if (*check_cmd) return vmc::driver::run_check(model, timing);
  if (*emit_cmd) return vmc::driver::run_emit(emit_stage, model, optimized);
  if (*diagnose_cmd) return vmc::driver::run_diagnose(model, data, diag);
  if (*help_cmd) return run_help();
  std::cout << app.help();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write should fail with EFBIG and be reported, not kill
  // the process with SIGXFSZ before it can say which file.
  std::signal(SIGXFSZ, SIG_IGN);
  // Started by mpirun (-np R, R > 1): join the MPI world, finalised when `world` goes.
  std::unique_ptr<vmc::runtime::Collective> world;
  if (vmc::runtime::launcher_size() > 1) {
    if (!vmc::runtime::mpi_built()) {
      const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
      if (!rank || std::string(rank) == "0") {
        std::cerr << "vmc: error: started by an MPI launcher with " << vmc::runtime::launcher_size()
                  << " processes, but this vmc was built without MPI (install libopenmpi-dev and "
                     "configure with -DVMC_MPI=ON)\n";
      }
      return 1;
    }
    try {
      world = vmc::runtime::mpi_world(&argc, &argv);
    } catch (const std::exception& e) {
      std::cerr << "vmc: error: " << e.what() << '\n';
      return 1;
    }
    vmc::driver::set_world(world.get());
  }
  return vmc::run_with_stack([&] {
    try {
      return Cli().run(argc, argv);
    } catch (const vmc::InternalError& e) {
      std::cerr << "vmc: " << e.what() << "\nThis is a bug in vmc; please report it with the input.\n";
      return 70;
    } catch (const vmc::driver::OutOfMemory& e) {
      std::cerr << "vmc: error: out of memory while " << e.doing << "\n";
      return 1;
    } catch (const std::bad_alloc&) {
      // Nothing said more precisely what it was doing: at least the command.
      const bool command = argc > 1 && argv[1][0] != '-';
      std::cerr << "vmc: error: out of memory while running "
                << (command ? "'vmc " + std::string(argv[1]) + "'" : std::string("vmc")) << "\n";
      return 1;
    }
  });
}

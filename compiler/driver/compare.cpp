// `vmc compare`: runs of one model that differ in estimator (or in whatever a config's [[run]]
// tables set), trained from the same seed, data order and initial values on the same budget of
// datapoints, every one measured the same way: the bound per datapoint by one common estimator
// (B with L = 10 by default, the same ε for every run at a point) on the first rows of the
// training and test data at log-spaced points, and the gradient's noise (many ε at the same
// params and minibatch) at a few of them. Writes compare.csv, gradients.csv, compare.json and
// compare.svg (the AEVB paper's Figure 2 layout and a gradient-variance panel).
#include "driver/compare.hpp"
#include "vmc/philox.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <fstream>
#include <stdexcept>
#include <cctype>
#include <filesystem>

#include "driver/binding.hpp"
#include "driver/outputs.hpp"
#include "lower/synthetic.hpp"
#include "vmc/fit.hpp"
#include "vmc/images.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {
namespace {

using runtime::Arrays;
using runtime::RuntimeError;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// The evaluation stream of the comparison's bounds and gradient draws (not a training step's).
constexpr std::uint64_t kStreamCompare = 7, kStreamGradient = 8;
constexpr int kMaxNonfinite = 20;

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{SIGINT};  // which one: the exit status is 128 + it, as a shell's
extern "C" void on_compare_interrupt(int sig) {
  g_signal.store(sig);
  g_interrupted.store(true);
}

// Which block uses each param: "model" (the generative model's, the decoder's), "guide" (the
// recognition model's, the encoder's, and an automatic guide's), or "shared".
std::map<std::string, std::string> param_groups(const sema::Model& m, const std::vector<std::string>& names) {
  std::set<std::string> in_model, in_guide;
  auto inside = [](const ast::Block* b, const Span& s) { return b && s.begin >= b->span.begin && s.end <= b->span.end; };
  for (const auto& [expr, ref] : m.names) {
    if (ref.kind != sema::NameKind::Param) continue;
    const ast::Name* n = expr->as<ast::Name>();
    if (!n) continue;
    if (inside(m.model_block, expr->span)) in_model.insert(n->name);
    if (inside(m.guide_block, expr->span)) in_guide.insert(n->name);
  }
  std::map<std::string, std::string> groups;
  for (const std::string& p : names) {
    bool mod = in_model.count(p) > 0, gui = in_guide.count(p) > 0;
    if (mod && gui) groups[p] = "shared";
    else if (gui) groups[p] = "guide";
    else if (mod) groups[p] = "model";
    else groups[p] = m.find_variable(p) ? "model" : "guide";  // an automatic guide's own params
  }
  return groups;
}

// The arrays with the primary plate's arrays cut to their first `rows` rows.
Arrays first_rows_of(const Arrays& arrays, const vmc_model_info& info, const std::string& dim, std::int64_t rows) {
  Arrays out;
  for (const auto& [name, a] : arrays) {
    bool cut = false;
    for (int i = 0; i < info.n_inputs && !dim.empty(); ++i) {
      const vmc_buffer_info& in = info.inputs[i];
      if (in.kind != VMC_DATA || name != in.name || in.rank < 1 || in.extents[0] >= 0) continue;
      cut = info.size_dims[-in.extents[0] - 1] == dim;
    }
    if (!cut || a.shape.empty() || a.shape[0] <= rows) {
      out[name] = a;
      continue;
    }
    data::Array c;
    c.name = a.name;
    c.integer = a.integer;
    c.shape = a.shape;
    c.shape[0] = rows;
    std::size_t per_row = a.values.size() / static_cast<std::size_t>(a.shape[0]);
    c.values.assign(a.values.begin(), a.values.begin() + static_cast<std::ptrdiff_t>(per_row * rows));
    out[name] = std::move(c);
  }
  return out;
}

// Log-spaced steps 1..total (about `points` of them, distinct), after step 0.
std::vector<std::int64_t> schedule(std::int64_t total, int points) {
  std::set<std::int64_t> s{0, total};
  for (int j = 0; j < points && total > 0; ++j) {
    double f = points > 1 ? static_cast<double>(j) / (points - 1) : 1.0;
    s.insert(std::clamp<std::int64_t>(std::llround(std::pow(static_cast<double>(total), f)), 1, total));
  }
  return {s.begin(), s.end()};
}

// `k` of the points after the first, evenly by position, always the last.
std::set<std::int64_t> pick(const std::vector<std::int64_t>& points, int k) {
  std::set<std::int64_t> out;
  std::size_t n = points.size() - 1;  // without step 0
  for (int j = 1; j <= k && n > 0; ++j) {
    auto at = static_cast<std::size_t>(std::llround(static_cast<double>(j) * static_cast<double>(n) / k));
    out.insert(points[std::clamp<std::size_t>(at, 1, n)]);
  }
  return out;
}

// A label as a file name: letters, digits, '-', '_' and '.' kept, anything else '_'.
std::string file_name(const std::string& label) {
  std::string f;
  for (char c : label) f += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  return f;
}

// Per-param noise folded into the groups, and the params themselves.
std::vector<GradPoint> group_noise(const std::vector<runtime::GradientNoise>& noise,
                                   const std::map<std::string, std::string>& groups, std::int64_t step,
                                   std::int64_t datapoints) {
  std::map<std::string, GradPoint> agg;
  std::map<std::string, double> snr_sum;
  std::vector<GradPoint> out;
  for (const runtime::GradientNoise& n : noise) {
    out.push_back({step, datapoints, n.param, n.size, n.variance, n.mean_norm2, n.snr});
    auto it = groups.find(n.param);
    for (const std::string& g : {it == groups.end() ? std::string("model") : it->second, std::string("all")}) {
      GradPoint& a = agg[g];
      a.step = step;
      a.datapoints = datapoints;
      a.group = g;
      a.elements += n.size;
      a.variance += n.variance;
      a.mean_norm2 += n.mean_norm2;
      a.snr += n.snr * static_cast<double>(n.snr_elements);
      snr_sum[g] += static_cast<double>(n.snr_elements);
    }
  }
  for (auto& [g, a] : agg) {
    a.snr = snr_sum[g] > 0 ? a.snr / snr_sum[g] : 0.0;
    out.push_back(a);
  }
  return out;
}

// The estimator's name, or "NAME, samples 5, batch 20", for a config's run without a label.
std::string default_label(const RunSpec& r) {
  std::string l = r.estimator;
  if (r.samples != 1) l += std::string(" ") + lower::find_estimator(r.estimator)->samples + "=" + std::to_string(r.samples);
  for (const std::string& b : r.batch) l += " M=" + b;
  if (r.optimizer) l += " " + *r.optimizer;
  if (r.lr) l += " lr=" + csv_number(*r.lr);
  return l;
}

}  // namespace

int run_compare(const CompareArgs& args) {
  // ---- the runs ----
  std::vector<RunSpec> specs = args.runs;
  if (!specs.empty() && !args.estimators.empty()) {
    error("--estimators", "give the runs either with --estimators or as [[run]] tables in --config, not both");
    return 1;
  }
  for (const std::string& e : args.estimators) {
    RunSpec r;
    r.estimator = e;
    r.samples = args.model.samples;
    specs.push_back(r);
  }
  if (specs.empty()) {
    error("vmc compare", "no runs: give --estimators (any of " + lower::estimator_list() +
                             ", comma-separated), or [[run]] tables in --config");
    return 1;
  }
  {
    std::set<std::string> labels;
    for (RunSpec& r : specs) {
      if (r.estimator.empty()) r.estimator = args.model.estimator;
      if (r.samples <= 0) r.samples = args.model.samples;
      if (r.label.empty()) r.label = default_label(r);
      if (!labels.insert(r.label).second) {
        error("vmc compare", "two runs are both labelled '" + r.label + "': give them distinct labels");
        return 1;
      }
    }
  }
  if (args.grad_points > 0 && args.grad_draws < 2) {
    error("--grad-draws", "the gradient's variance needs at least 2 draws");
    return 1;
  }
  runtime::TrainerOptions common;
  if (!parse_batch(args.batch, common)) return 1;
  try {
    common.optimizer = &runtime::optimizer_named(args.optimizer);
    for (const RunSpec& r : specs) {
      if (r.optimizer) runtime::optimizer_named(*r.optimizer);
    }
  } catch (const std::invalid_argument& e) {
    error("--optimizer", e.what());
    return 1;
  }
  for (const RunSpec& r : specs) {
    runtime::TrainerOptions o;
    if (!parse_batch(r.batch, o)) return 1;
    std::optional<double> lr = r.lr ? r.lr : args.lr;
    if (lr && !(*lr > 0 && std::isfinite(*lr))) {
      error("--lr", "the learning rate must be a positive number");
      return 1;
    }
  }
  common.seed = args.seed;
  common.threads = args.threads;

  // ---- the data, bound once, and every distinct compilation ----
  Bound b;
  ModelArgs base = args.model;
  base.estimator = specs[0].estimator;
  base.samples = specs[0].samples;
  base.kernels = {"elbo_grad"};
  if (!bind_model(b, base, args.data, true)) return 1;
  const sema::Model& model = *b.fe.model;
  std::map<std::pair<std::string, int>, std::unique_ptr<FrontEnd>> compiled;
  ModelArgs shaped = base;
  for (const auto& [name, a] : b.train) shaped.data_shapes[name] = a.shape;
  for (const RunSpec& r : specs) {
    auto key = std::make_pair(r.estimator, r.samples);
    if (compiled.count(key)) continue;
    ModelArgs m = shaped;
    m.estimator = r.estimator;
    m.samples = r.samples;
    auto fe = std::make_unique<FrontEnd>();
    if (!compile_model(*fe, m, Stage::Native)) return 1;
    compiled[key] = std::move(fe);
  }
  const bool closed_form = std::all_of(model.latents.begin(), model.latents.end(),
                                       [](const sema::Variable& v) { return v.closed_form_kl; });
  const std::string closed_form_name(lower::closed_form_estimator().name);
  const std::string plain_name(lower::default_estimator().name);
  std::string eval_estimator = args.eval_estimator.value_or(closed_form ? closed_form_name : plain_name);
  if (lower::find_estimator(eval_estimator)->closed_form_kl && !closed_form) {
    error("--eval-estimator", eval_estimator + " needs a closed-form KL for every latent, and this model has none for "
                              "some; use " + plain_name);
    return 1;
  }
  FrontEnd evaluator_fe;
  {
    ModelArgs m = shaped;
    m.estimator = eval_estimator;
    m.samples = args.eval_samples;
    m.kernels = {"elbo"};
    if (!compile_model(evaluator_fe, m, Stage::Native)) return 1;
  }

  // The output directory must take files before any time is spent training (and is not made
  // for a model or data that does not load).
  std::unique_ptr<files::OutputLock> lock = prepare_output_dir(args.out);
  if (!lock) return 1;

  std::vector<RunResult> results;
  std::int64_t budget = 0, common_batch = 0, datapoints = 0;
  std::string primary;
  std::unique_ptr<runtime::Trainer> evaluator;
  Arrays train_rows, test_rows;
  std::vector<std::string> warnings;
  g_interrupted.store(false);
  auto previous = std::signal(SIGINT, on_compare_interrupt);
  auto previous_term = std::signal(SIGTERM, on_compare_interrupt);
  try {
    for (std::size_t ri = 0; ri < specs.size() && !g_interrupted.load(); ++ri) {
      const RunSpec& spec = specs[ri];
      const FrontEnd& fe = *compiled.at({spec.estimator, spec.samples});
      for (int rep = 0; rep < args.repeats && !g_interrupted.load(); ++rep) {
        runtime::TrainerOptions o = common;
        o.seed = args.seed + static_cast<std::uint64_t>(rep);
        if (!spec.batch.empty()) parse_batch(spec.batch, o);
        if (spec.optimizer) o.optimizer = &runtime::optimizer_named(*spec.optimizer);
        o.lr = learning_rate(b, *o.optimizer, spec.lr ? spec.lr : args.lr);
        // The same initial values for every run of a seed: they come from the model's params,
        // which the estimator does not change.
        runtime::Trainer trainer(fe.compiled->info(), b.train, lower::initial_params(*fe.lowered, o.seed), o);
        if (!evaluator) {
          // The budget in datapoints, from the common batch size; the common evaluator.
          primary = trainer.primary_dim();
          datapoints = trainer.datapoints();
          common_batch = primary.empty()
                             ? datapoints
                             : std::min(datapoints, common.batch.count(primary) ? common.batch.at(primary)
                                                                                 : common.default_batch);
          std::int64_t steps = 0;
          bool counted = budget_steps(args.steps, args.epochs,
                                      static_cast<double>(datapoints) / static_cast<double>(common_batch), steps);
          if (counted && __builtin_mul_overflow(steps, common_batch, &budget)) {
            error("--steps", "the budget of " + std::to_string(steps) + " steps of " + std::to_string(common_batch) +
                                 " datapoints is too large to count");
            counted = false;
          }
          if (!counted) {
            std::signal(SIGINT, previous);
            std::signal(SIGTERM, previous_term);
            return 1;
          }
          note_batch_ignored(args.batch, primary, datapoints);
          const vmc_model_info& info = evaluator_fe.compiled->info();
          train_rows = first_rows_of(b.train, info, primary, args.eval_rows);
          if (b.have_test) test_rows = first_rows_of(b.test, info, primary, args.eval_rows);
          runtime::TrainerOptions eo;
          eo.threads = args.threads;
          eo.seed = args.seed;
          evaluator = std::make_unique<runtime::Trainer>(info, train_rows, lower::initial_params(*evaluator_fe.lowered, 1), eo);
          if (b.have_test) evaluator->check_data(test_rows);
          if (!args.quiet) {
            std::printf("compare %s: %zu run%s x %d repeat%s, %lld datapoints each (%lld steps of %lld), seed %llu\n",
                        model.name.c_str(), specs.size(), specs.size() == 1 ? "" : "s", args.repeats,
                        args.repeats == 1 ? "" : "s", static_cast<long long>(budget), static_cast<long long>(steps),
                        static_cast<long long>(common_batch), static_cast<unsigned long long>(args.seed));
            std::string test_part;
            if (b.have_test) {
              std::int64_t n = 0;
              for (const auto& [name, a] : test_rows) n = std::max<std::int64_t>(n, a.shape.empty() ? 1 : a.shape[0]);
              test_part = " and " + std::to_string(primary.empty() ? n : std::min(args.eval_rows, n)) + " test rows";
            }
            std::printf("  every bound by estimator %s (L = %d) on %lld training rows%s; gradient noise from %lld draws "
                        "at %d points and the start\n",
                        eval_estimator.c_str(), args.eval_samples,
                        static_cast<long long>(primary.empty() ? datapoints : std::min(args.eval_rows, datapoints)),
                        test_part.c_str(), static_cast<long long>(args.grad_draws), args.grad_points);
            std::fflush(stdout);
          }
        }
        const auto groups = param_groups(model, trainer.param_names());
        RunResult run;
        run.spec = &spec;
        run.repeat = rep;
        run.seed = o.seed;
        run.batch = primary.empty() ? datapoints : trainer.batch_size();
        run.steps = (budget + run.batch - 1) / run.batch;
        if (run.steps > static_cast<std::int64_t>(vmc::kNoiseMaxStep)) {
          error(spec.label, "the budget of " + std::to_string(budget) + " datapoints is " + std::to_string(run.steps) +
                                " steps of its batch " + std::to_string(run.batch) +
                                ", more than the 2^38 a fit can take");
          std::signal(SIGINT, previous);
          std::signal(SIGTERM, previous_term);
          return 1;
        }
        std::vector<std::int64_t> points = schedule(run.steps, args.points);
        std::set<std::int64_t> grad_at = pick(points, args.grad_points);
        grad_at.insert(0);
        double estimates = 0;
        std::int64_t estimated = 0;
        int nonfinite = 0;
        auto measure = [&] {
          CurvePoint p;
          p.step = trainer.steps_done();
          p.datapoints = trainer.datapoints_seen();
          p.train_s = run.step_s;
          if (estimated > 0) p.estimate = estimates / static_cast<double>(estimated);
          estimates = 0;
          estimated = 0;
          evaluator->restore_state(trainer.save_state(), /*params_only=*/true);
          p.train = evaluator->evaluate(train_rows, "elbo", kStreamCompare);
          if (b.have_test) p.test = evaluator->evaluate(test_rows, "elbo", kStreamCompare);
          run.curve.push_back(p);
          if (args.grad_points > 0 && grad_at.count(p.step)) {
            std::vector<GradPoint> g =
                group_noise(trainer.gradient_noise(args.grad_draws, kStreamGradient), groups, p.step, p.datapoints);
            run.grads.insert(run.grads.end(), g.begin(), g.end());
          }
        };
        measure();
        for (std::size_t k = 1; k < points.size() && run.stopped.empty(); ++k) {
          auto start = Clock::now();
          while (trainer.steps_done() < points[k]) {
            runtime::StepResult s = trainer.step();
            if (s.finite) {
              nonfinite = 0;
              estimates += s.elbo_per_datapoint;
              ++estimated;
            } else if (++nonfinite >= kMaxNonfinite) {
              run.stopped = "stopped after " + std::to_string(kMaxNonfinite) + " non-finite steps in a row: " + s.problem;
              break;
            }
            if (g_interrupted.load()) {
              run.stopped = "interrupted";
              break;
            }
          }
          run.step_s += std::chrono::duration<double>(Clock::now() - start).count();
          measure();
        }
        // The run's final params, for `vmc eval` (e.g. the marginal likelihood by an importance-weighted bound).
        run.checkpoint = "checkpoints/" + file_name(spec.label) + ".seed" + std::to_string(o.seed) + ".bin";
        fs::create_directories(args.out + "/checkpoints");
        runtime::write_checkpoint(args.out + "/" + run.checkpoint, trainer, runtime::FitHistory{});
        if (!run.stopped.empty() && run.stopped != "interrupted") {
          warnings.push_back("run " + spec.label + " (seed " + std::to_string(o.seed) + ") " + run.stopped);
        }
        if (!args.quiet) {
          const CurvePoint& last = run.curve.back();
          std::printf("  %-12s seed %llu: %lld steps, %.3f ms/step, bound %s (train)%s%s\n", spec.label.c_str(),
                      static_cast<unsigned long long>(o.seed), static_cast<long long>(last.step),
                      last.step > 0 ? 1e3 * run.step_s / static_cast<double>(last.step) : 0.0,
                      csv_number(last.train).c_str(), b.have_test ? (", " + csv_number(last.test) + " (test)").c_str() : "",
                      run.stopped.empty() ? "" : ("; " + run.stopped).c_str());
          std::fflush(stdout);
        }
        results.push_back(std::move(run));
      }
    }
  } catch (const RuntimeError& e) {
    std::signal(SIGINT, previous);
    std::signal(SIGTERM, previous_term);
    error(args.model.model_path, e.what());
    return 1;
  }
  std::signal(SIGINT, previous);
  std::signal(SIGTERM, previous_term);
  const bool interrupted = g_interrupted.load();
  if (interrupted) std::cout << "interrupted: writing the results so far\n";

  CompareOutcome outcome{args, model.name, datapoints, budget, eval_estimator, b.have_test, specs, results,
                         warnings, interrupted};
  int status = write_compare(outcome);
  return status != 0 ? status : interrupted ? 128 + g_signal.load() : 0;
}

}  // namespace vmc::driver

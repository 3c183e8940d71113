// `vmc compare`: runs of one model that differ in estimator (or in whatever a config's [[run]]
// tables set), trained from the same seed, data order and initial values on the same budget of
// datapoints, every one measured the same way: the bound per datapoint by one common estimator
// (B with L = 10 by default, the same ε for every run at a point) on the first rows of the
// training and test data at log-spaced points, and the gradient's noise (many ε at the same
// params and minibatch) at a few of them. Writes compare.csv, gradients.csv, compare.json and
// compare.svg (the AEVB paper's Figure 2 layout and a gradient-variance panel).
#include "driver/compare.hpp"

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
#include <sstream>
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

struct CurvePoint {
  std::int64_t step = 0, datapoints = 0;
  double train_s = 0;
  double estimate = NAN;  // the run's own minibatch estimates since the previous point, averaged
  double train = NAN, test = NAN;
};

struct GradPoint {
  std::int64_t step = 0, datapoints = 0;
  std::string group;  // a param's name, or model / guide / shared / all
  std::int64_t elements = 0;
  double variance = 0, mean_norm2 = 0, snr = 0;
};

struct RunResult {
  const RunSpec* spec = nullptr;
  int repeat = 0;
  std::uint64_t seed = 0;
  std::int64_t batch = 0, steps = 0;
  std::vector<CurvePoint> curve;
  std::vector<GradPoint> grads;
  double step_s = 0;  // training time alone
  std::string stopped;  // why the run ended early ("" when it ran its budget)
  std::string checkpoint;  // its final params, relative to the output directory
};

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

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// "A", or "A, samples 5, batch 20" for a config's run without a label.
std::string default_label(const RunSpec& r) {
  std::string l = r.estimator;
  if (r.samples != 1) l += (r.estimator == "iwae" ? " K=" : " L=") + std::to_string(r.samples);
  for (const std::string& b : r.batch) l += " M=" + b;
  if (r.optimizer) l += " " + *r.optimizer;
  if (r.lr) l += " lr=" + csv_number(*r.lr);
  return l;
}

double sd_of(const std::vector<double>& v) {
  double m = mean_of(v), s = 0;
  std::size_t n = 0;
  for (double x : v) {
    if (std::isfinite(x)) s += (x - m) * (x - m), ++n;
  }
  return n > 1 ? std::sqrt(s / static_cast<double>(n - 1)) : (n == 1 ? 0.0 : NAN);
}

// "−123.4 ± 0.5" (no spread for one repeat), or "-" when there is no finite value.
std::string with_spread(const std::vector<double>& v, int repeats, const char* format = "%.2f") {
  double m = mean_of(v);
  if (!std::isfinite(m)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, m);
  std::string s = buf;
  if (repeats > 1) {
    std::snprintf(buf, sizeof buf, format, sd_of(v));
    s += std::string(" ± ") + buf;
  }
  return s;
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
    error("vmc compare", "no runs: give --estimators A,B (or A,B,iwae,stl), or [[run]] tables in --config");
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
    common.optimizer = runtime::parse_optimizer(args.optimizer);
    for (const RunSpec& r : specs) {
      if (r.optimizer) runtime::parse_optimizer(*r.optimizer);
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
  std::string eval_estimator = args.eval_estimator.value_or(closed_form ? "B" : "A");
  if (eval_estimator == "B" && !closed_form) {
    error("--eval-estimator", "B needs a closed-form KL for every latent, and this model has none for some; use A");
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
  if (!prepare_output_dir(args.out)) return 1;

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
        if (spec.optimizer) o.optimizer = runtime::parse_optimizer(*spec.optimizer);
        o.lr = learning_rate(b, o.optimizer, spec.lr ? spec.lr : args.lr);
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
          std::int64_t steps = args.steps;
          if (steps <= 0) {
            steps = args.epochs > 0 ? static_cast<std::int64_t>(std::ceil(args.epochs * static_cast<double>(datapoints) /
                                                                         static_cast<double>(common_batch)))
                                    : 2000;
          }
          budget = steps * common_batch;
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
        // The run's final params, for `vmc eval` (e.g. the marginal likelihood by iwae).
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

  // ---- outputs ----
  const std::string& dir = args.out;
  std::ostringstream curve_csv, grad_csv;
  curve_csv << "run,estimator,samples,batch,repeat,seed,step,datapoints,train_s,estimate,train_elbo,test_elbo\n";
  grad_csv << "run,estimator,samples,batch,repeat,seed,step,datapoints,group,elements,variance,mean_norm2,snr\n";
  auto quoted = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (const RunResult& r : results) {
    std::string head = quoted(r.spec->label) + "," + r.spec->estimator + "," + std::to_string(r.spec->samples) + "," +
                       std::to_string(r.batch) + "," + std::to_string(r.repeat) + "," + std::to_string(r.seed) + ",";
    for (const CurvePoint& p : r.curve) {
      curve_csv << head << p.step << ',' << p.datapoints << ',' << csv_number(p.train_s) << ',' << csv_number(p.estimate)
                << ',' << csv_number(p.train) << ',' << csv_number(p.test) << '\n';
    }
    for (const GradPoint& g : r.grads) {
      grad_csv << head << g.step << ',' << g.datapoints << ',' << quoted(g.group) << ',' << g.elements << ','
               << csv_number(g.variance) << ',' << csv_number(g.mean_norm2) << ',' << csv_number(g.snr) << '\n';
    }
  }

  // Per run label: the final bounds, time per step and gradient noise over its repeats.
  auto grad_of = [](const RunResult& r, const std::string& group, bool last) -> const GradPoint* {
    const GradPoint* found = nullptr;
    for (const GradPoint& g : r.grads) {
      if (g.group != group) continue;
      if (!found || (last ? g.step > found->step : g.step < found->step)) found = &g;
    }
    return found;
  };
  Json summary;
  summary["model"] = model.name;
  summary["model_file"] = args.model.model_path;
  summary["datapoints"] = datapoints;
  summary["budget_datapoints"] = budget;
  summary["seed"] = args.seed;
  summary["repeats"] = args.repeats;
  summary["threads"] = args.threads;
  summary["eval"] = {{"estimator", eval_estimator},
                     {"samples", args.eval_samples},
                     {"train_rows", std::min(args.eval_rows, datapoints)},
                     {"test", b.have_test}};
  summary["grad_draws"] = args.grad_draws;
  Json runs = Json::array();
  struct Row {
    std::string label, estimator, batch, ms, train, test, var_guide, var_model, snr_guide, snr_model;
  };
  std::vector<Row> rows;
  std::vector<std::string> group_names{"guide", "model", "shared", "all"};
  for (const RunSpec& spec : specs) {
    std::vector<double> train, test, ms;
    std::map<std::string, std::vector<double>> var_start, var_end, snr_start, snr_end;
    std::int64_t batch = 0, steps = 0;
    int n = 0;
    for (const RunResult& r : results) {
      if (r.spec != &spec) continue;
      ++n;
      batch = r.batch;
      steps = r.curve.back().step;
      train.push_back(r.curve.back().train);
      test.push_back(r.curve.back().test);
      ms.push_back(steps > 0 ? 1e3 * r.step_s / static_cast<double>(steps) : NAN);
      for (const std::string& g : group_names) {
        if (const GradPoint* p = grad_of(r, g, false)) var_start[g].push_back(p->variance), snr_start[g].push_back(p->snr);
        if (const GradPoint* p = grad_of(r, g, true)) var_end[g].push_back(p->variance), snr_end[g].push_back(p->snr);
      }
    }
    if (n == 0) continue;
    Json j;
    j["label"] = spec.label;
    j["estimator"] = spec.estimator;
    j["samples"] = spec.samples;
    j["batch"] = batch;
    j["steps"] = steps;
    j["repeats"] = n;
    j["ms_per_step"] = number(mean_of(ms));
    Json ckpts = Json::array();
    for (const RunResult& r : results) {
      if (r.spec == &spec) ckpts.push_back(r.checkpoint);
    }
    j["checkpoints"] = ckpts;
    j["final_train_elbo"] = {{"mean", number(mean_of(train))}, {"sd", number(sd_of(train))}};
    if (b.have_test) j["final_test_elbo"] = {{"mean", number(mean_of(test))}, {"sd", number(sd_of(test))}};
    Json gn = Json::object();
    for (const std::string& g : group_names) {
      if (!var_start.count(g)) continue;
      gn[g] = {{"variance_start", number(mean_of(var_start[g]))},
               {"variance_end", number(mean_of(var_end[g]))},
               {"snr_start", number(mean_of(snr_start[g]))},
               {"snr_end", number(mean_of(snr_end[g]))}};
    }
    j["gradient_noise"] = gn;
    runs.push_back(j);
    auto sci = [](const std::vector<double>& v) {
      double m = mean_of(v);
      if (!std::isfinite(m)) return std::string("-");
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g", m);
      return std::string(buf);
    };
    rows.push_back({spec.label, spec.estimator, std::to_string(batch), with_spread(ms, n, "%.3f"),
                    with_spread(train, n), b.have_test ? with_spread(test, n) : "-",
                    var_start.count("guide") ? sci(var_start["guide"]) + " / " + sci(var_end["guide"]) : "-",
                    var_start.count("model") ? sci(var_start["model"]) + " / " + sci(var_end["model"]) : "-",
                    snr_start.count("guide") ? sci(snr_start["guide"]) + " / " + sci(snr_end["guide"]) : "-",
                    snr_start.count("model") ? sci(snr_start["model"]) + " / " + sci(snr_end["model"]) : "-"});
  }
  summary["runs"] = runs;
  summary["interrupted"] = interrupted;
  summary["warnings"] = warnings;
  summary["files"] = {"compare.csv", "gradients.csv", "compare.json", "compare.svg", "checkpoints/"};

  try {
    runtime::write_file_atomic(dir + "/compare.csv", curve_csv.str());
    runtime::write_file_atomic(dir + "/gradients.csv", grad_csv.str());
    runtime::write_file_atomic(dir + "/compare.json", summary.dump(2) + "\n");
  } catch (const std::exception& e) {
    error(dir, e.what());
    return 1;
  }
  // The picture, from the files just written (vmc compare --replot draws it the same way).
  if (!draw_compare(dir)) return 1;

  // The table.
  std::vector<std::string> head{"run", "estimator", "M", "ms/step", "train bound", "test bound",
                                "grad var guide (start / end)", "grad var model", "SNR guide", "SNR model"};
  std::vector<std::vector<std::string>> table{head};
  for (const Row& r : rows) {
    table.push_back({r.label, r.estimator, r.batch, r.ms, r.train, r.test, r.var_guide, r.var_model, r.snr_guide,
                     r.snr_model});
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : table) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      // Display width: count UTF-8 lead bytes, not bytes ("±" is two).
      std::size_t w = 0;
      for (unsigned char ch : row[c]) w += (ch & 0xC0) != 0x80;
      width[c] = std::max(width[c], w);
    }
  }
  for (const auto& row : table) {
    std::string line = " ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      std::size_t w = 0;
      for (unsigned char ch : row[c]) w += (ch & 0xC0) != 0x80;
      line += " " + row[c] + std::string(width[c] - w + 1, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << '\n';
  }
  for (const std::string& w : warnings) std::cerr << "warning: " << w << '\n';
  if (!args.quiet) {
    std::cout << "  results in " << dir << "/: compare.csv gradients.csv compare.json compare.svg checkpoints/\n";
  }
  return interrupted ? 128 + g_signal.load() : 0;
}

}  // namespace vmc::driver

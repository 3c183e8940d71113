// `vmc compare`: one model trained several ways (one run per estimator, or any runs a
// config lists) from the same seed, data order and initialisation, on the same budget of
// datapoints; the bound of each measured the same way at log-spaced points, the gradient's
// noise at a few of them, and the AEVB paper's Figure 2 drawn from it.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver/run.hpp"
#include "vmc/optimizers.hpp"

namespace vmc::driver {

// One run of a comparison (a `[[run]]` table of a config, or one of --estimators).
struct RunSpec {
  std::string label;  // default: the estimator, and what differs from the common options
  std::string estimator;  // empty: the common --estimator
  int samples = 0;        // 0: the common --samples
  std::vector<std::string> batch;  // empty: the common --batch
  std::optional<std::string> optimizer;
  std::optional<double> lr;
};

struct CompareArgs {
  ModelArgs model;  // estimator/samples: the common defaults of the runs
  DataArgs data;
  std::vector<std::string> estimators;  // --estimators A,B,...: one run each
  std::vector<RunSpec> runs;            // from --config's [[run]] tables
  std::vector<std::string> batch;
  std::int64_t steps = 0;  // the budget in steps of the common batch, or
  double epochs = 0;       // in passes over the data; default 10,000 datapoints' worth of steps
  std::string optimizer{runtime::default_optimizer().name};
  std::optional<double> lr;
  std::uint64_t seed = 1;
  int repeats = 1;  // seeds seed, seed + 1, ...
  int threads = 1;
  std::string out = "vmc-compare";
  int points = 12;              // log-spaced points of the curves (plus the start)
  int grad_points = 4;          // of them, where the gradient's noise is measured
  std::int64_t grad_draws = 100;
  std::optional<std::string> eval_estimator;  // default: B when every latent has a closed-form KL
  int eval_samples = 10;
  std::int64_t eval_rows = 1000;  // of the training data, and of the test data
  bool quiet = false;
};

int run_compare(const CompareArgs& args);

// The mean of the finite values of `v` (NaN when there is none): repeats' figures, where a
// run that stopped early has none.
double mean_of(const std::vector<double>& v);

// What one run of a comparison measured (compare.cpp runs them; compare_outputs.cpp writes them).
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

// Everything a comparison's outputs are made of.
struct CompareOutcome {
  const CompareArgs& args;
  std::string model_name;
  std::int64_t datapoints = 0, budget = 0;  // the training data's; each run's datapoints
  std::string eval_estimator;
  bool have_test = false;
  const std::vector<RunSpec>& specs;
  const std::vector<RunResult>& results;
  const std::vector<std::string>& warnings;
  bool interrupted = false;
};
// compare.csv, gradients.csv, compare.json and compare.svg in args.out, and the table on
// stdout; 0, or 1 after reporting a file that cannot be written.
int write_compare(const CompareOutcome& o);

// A number for a CSV cell: %.9g, empty when not finite.
std::string csv_number(double v);

// compare.svg drawn (again) from a comparison's compare.json, compare.csv and gradients.csv in
// `dir`: `vmc compare --replot DIR`. Reports a problem and returns false.
bool draw_compare(const std::string& dir);

}  // namespace vmc::driver

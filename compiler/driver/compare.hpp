// `vmc compare`: one model trained several ways (estimators A, B, iwae, stl, or any runs a
// config lists) from the same seed, data order and initialisation, on the same budget of
// datapoints; the bound of each measured the same way at log-spaced points, the gradient's
// noise at a few of them, and the AEVB paper's Figure 2 drawn from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver/run.hpp"

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
  std::string optimizer = "adam";
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

// compare.svg drawn (again) from a comparison's compare.json, compare.csv and gradients.csv in
// `dir`: `vmc compare --replot DIR`. Reports a problem and returns false.
bool draw_compare(const std::string& dir);

}  // namespace vmc::driver

// Binding a model to data for the commands that run it (fit, eval, sample, bench): --data
// specs loaded (or the embedded digits), checked against the data block's declarations (shapes,
// bounds, int-ness, the likelihoods' supports, index ranges), and the model compiled for their
// shapes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/frontend.hpp"
#include "driver/run.hpp"
#include "sema/types.hpp"
#include "dist/distribution.hpp"
#include "vmc/files.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {

// Evaluation streams of the noise (never a training step's).
inline constexpr std::uint64_t kStreamTest = 1, kStreamPosterior = 2, kStreamPsis = 3, kStreamPictures = 4,
                               kStreamEval = 5, kStreamSample = 6, kStreamSupport = 7,
                               kStreamLaplace = 8, kStreamLoo = 9;

// "WHERE: error: MESSAGE" on stderr: the form of every user error without a source position.
void error(const std::string& where, const std::string& message);

// A data block's declaration, known before any data is loaded.
struct DataDecl {
  std::string name;
  std::string type;  // as declared: "int[N]"
  std::size_t rank = 0;
  bool is_int = false;
  sema::Constraint constraint;
  std::vector<std::string> families;  // the distributions `~` gives it in the model block
  std::vector<dist::Support> supports;
};

// A model bound to its data: both passes of the front end, the arrays, the compiled kernels.
struct Bound {
  FrontEnd fe;
  runtime::Arrays train, test;
  bool have_test = false;
  bool embedded = false;
  std::map<std::string, std::string> files, test_files;
  std::vector<DataDecl> decls;
};

// Loads the data (train, --test-data), checks it and compiles `args.kernels` for its shapes.
// Reports every problem and returns false.
bool bind_model(Bound& b, ModelArgs args, const DataArgs& data, bool need_train);

// `--data` for a command that evaluates the model's IR instead of running its kernels (vmc
// diagnose): the arrays loaded and checked as bind_model checks them, their shapes put in
// `args.data_shapes` (so they give the dims). Reports every problem and returns false.
bool load_data(ModelArgs& args, const DataArgs& data, runtime::Arrays& out);


// Creates `dir` if needed, locks it for this run (a second run writing into it is refused, named
// by its pid), checks that files can be written in it (before any time is spent training) and
// removes the temporary files killed runs left there. Reports the problem and returns null.
std::unique_ptr<files::OutputLock> prepare_output_dir(const std::string& dir);

// The step size: `given`, else the optimizer's own for minibatch fits (the default's 1e-3, as the
// AEVB peer), ten times that when the model has no subsampled plate, so every step sees the
// whole data set and its gradient is exact up to the guide's noise (a global-latent model such
// as a regression, Stan ADVI's territory).
double learning_rate(const Bound& b, const runtime::Optimizer& optimizer, std::optional<double> given);

// The steps of a budget: `steps` when given (> 0), else `epochs` passes of `steps_per_epoch`
// when given, else 2000. False after reporting (when `report`) a count past the 2^38 steps the
// noise can number, rather than letting a double past int64 become garbage.
bool budget_steps(std::int64_t steps, double epochs, double steps_per_epoch, std::int64_t& out, bool report = true);

// A one-line note on stderr that --batch was given to a model with no subsampled plate, whose
// every step takes all the data (when `batch` is not empty and `primary_dim` is).
void note_batch_ignored(const std::vector<std::string>& batch, const std::string& primary_dim,
                        std::int64_t datapoints);

// `--batch M` or `--batch DIM=M` into the trainer's options; false after reporting a bad one.
bool parse_batch(const std::vector<std::string>& items, runtime::TrainerOptions& o);

}  // namespace vmc::driver

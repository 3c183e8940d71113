// The `vmc` sub-commands. Each returns the process exit status: 0 success, 1 user error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lower/estimator.hpp"

namespace vmc::driver {

// What every command that compiles a model takes.
struct ModelArgs {
  std::string model_path;
  std::vector<std::string> set;  // NAME=VALUE dim overrides
  std::optional<std::string> guide;
  std::string estimator{lower::default_estimator().name};
  int samples = 1;
  std::string precision = "f32";
  bool no_cache = false;  // compile from scratch, bypassing the object cache
  // Set by the commands that run a model, not by flags: the shapes of the data bound (so sema
  // infers dims from them) and the kernels to compile (those the model cannot offer, such as
  // sample_model for a model with no forward sampler, are skipped).
  std::map<std::string, std::vector<std::int64_t>> data_shapes;
  std::vector<std::string> kernels = {"elbo_grad"};
  // Render only errors: a second compile of a model whose warnings and notes were shown already.
  bool errors_only = false;
  // For the memory check before training (binding.cpp's memory_to_come): the threads that will
  // run the kernels and the optimizer's state arrays per param.
  int threads = 1;
  int optimizer_slots = 2;
};

// With `timing`, compiles all the way to native code and prints the time of each stage.
int run_check(const ModelArgs& args, bool timing);
// stage: ast, ir, grad or llvm (`optimized`: after LLVM's O3 for the host)
int run_emit(const std::string& stage, const ModelArgs& args, bool optimized);

struct DiagnoseArgs {
  double epsilon = 1e-6;  // finite-difference step (CmdStan's name)
  double error = 1e-6;    // tolerance: |symbolic − fd| ≤ error · max(1, |fd|)
  std::uint64_t seed = 1;
  int elements = 10;      // elements checked per param (all when the param is smaller)
  double init_radius = 0; // params uniform in (−r, r), unconstrained; 0: the declared inits
};
struct DataArgs;
// With `data` (--data), the data it binds gives the dims and replaces the synthetic data.
int run_diagnose(const ModelArgs& args, const DataArgs& data, const DiagnoseArgs& diag);

}  // namespace vmc::driver

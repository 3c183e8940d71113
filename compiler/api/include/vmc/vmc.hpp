// The C++ host API (INTERFACE.md, "The C++ host API"): compile a .vmodel from a program, fit it
// to data, or drive it step by step. One header; the compiler and LLVM stay behind it.
//
//   auto model = vmc::compile_file("stdlib/gaussian_vae.vmodel", {.dims = {{"J", 2}}});
//   vmc::Data data = vmc::load_idx("train-images-idx3-ubyte.gz", "x");
//   vmc::FitOptions opt{.estimator = vmc::Estimator::B, .samples = 1, .batch = 100, .steps = 6000};
//   vmc::FitResult r = vmc::fit(model, data, opt);
//   double elbo = model.elbo_and_grad(params, batch, noise, grad);
//
// Errors (a model that does not check, data that does not fit it) throw vmc::Error whose what()
// is the rendered diagnostics, as `vmc check` prints them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "vmc/data.hpp"

namespace vmc {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The ELBO estimators, in the order of `vmc help estimators` (L^A, L^B, importance weighted,
// sticking the landing); another value is an error.
enum class Estimator { A, B, Iwae, Stl };

struct CompileOptions {
  std::map<std::string, std::int64_t> dims{};  // --set NAME=V
  Estimator estimator = Estimator::A;
  int samples = 1;
  bool f64 = false;                          // generated code in double instead of float
  std::optional<std::string> guide{};        // an automatic guide (vmc help guides) for a model without one
};

// Named arrays, as the model's data block names them.
struct Data {
  std::map<std::string, data::Array> arrays;
  Data() = default;
  Data(data::Array a) { add(std::move(a)); }  // NOLINT: a loader's result is a Data
  Data& add(data::Array a) {
    std::string name = a.name;
    arrays[name] = std::move(a);
    return *this;
  }
};
Data load_idx(const std::string& path, const std::string& name, bool raw_pixels = false);
Data load_csv(const std::string& path, const std::string& name);
Data load_npy(const std::string& path, const std::string& name, bool raw_pixels = false);
Data load_json(const std::string& path);  // every array in the file
// The embedded default data set: 1,797 handwritten 8×8 digits as [1797, 64] in [0, 1].
Data embedded_digits(const std::string& name = "x");

// Values by name, flat in C order: params (unconstrained), gradients, noise ("eps.z", ...).
using Values = std::map<std::string, std::vector<double>>;

class Model {
 public:
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const std::string& name() const;
  // Params from their declared inits, for data shaped like `data` (dims follow its shapes).
  Values initial_params(const Data& data, std::uint64_t seed = 1);
  // Standard-normal (or uniform) noise for every noise input of one step on `batch`.
  Values draw_noise(const Data& batch, std::uint64_t seed, std::uint64_t step = 0);
  // The bound on `batch` taken as the whole data set (N = M: no N/M scaling), and its gradient
  // with respect to every param (`grad` gets one entry per param). Compiles for the batch's
  // shapes on first use (the object cache makes later compiles cheap).
  double elbo_and_grad(const Values& params, const Data& batch, const Values& noise, Values& grad);

  struct Impl;  // opaque: made by compile_file / compile_string
  explicit Model(std::unique_ptr<Impl> impl);

 private:
  friend struct FitAccess;
  std::unique_ptr<Impl> impl_;
};

// Parses and checks the model (throws vmc::Error with the diagnostics); native code is
// generated when data shapes are known (fit, elbo_and_grad).
Model compile_file(const std::string& path, const CompileOptions& options = {});
Model compile_string(const std::string& source, const std::string& name = "<string>",
                     const CompileOptions& options = {});

struct FitOptions {
  Estimator estimator = Estimator::A;  // overrides the model's compile options
  int samples = 1;
  std::int64_t batch = 100;
  std::int64_t steps = 1000;
  std::string optimizer{};  // a name of `vmc help optimizers`; empty: the default (as the CLI's)
  double lr = 1e-3;
  std::uint64_t seed = 1;
  int threads = 1;
  double clip_grad = 0;
};

struct FitResult {
  std::int64_t steps = 0;
  double final_elbo_per_datapoint = 0;  // smoothed over the last 100 steps
  double fit_s = 0;
  double datapoints_per_s = 0;
  std::vector<double> trace;            // every step's bound per datapoint
  Values params;                        // unconstrained
};

FitResult fit(Model& model, const Data& data, const FitOptions& options);

}  // namespace vmc

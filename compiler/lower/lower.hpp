// Lowering: a checked model (sema::Model) → the IR of its objective for one minibatch.
//
// Plate bodies are lowered once for the whole batch: a value inside `plate i in N` carries a
// leading batch axis for i, so `W * x[i]` becomes one product over the minibatch's rows. The
// minibatch size M and the data's extents N are run-time sizes of the IR, never constants.
// Params are run-time inputs in unconstrained space; the noise ε of every reparameterized
// draw is a run-time input, so the interpreter, the JIT and finite differences see the same ε.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/function.hpp"
#include "lower/estimator.hpp"
#include "sema/model.hpp"
#include "support/diagnostics.hpp"
#include "support/timing.hpp"

namespace vmc::lower {

struct Options {
  const Estimator* estimator = &default_estimator();
  int samples = 1;  // L, or K for an importance-weighted estimator: drawn at run time
};

// How a param's unconstrained run-time value u maps onto its support.
enum class Transform { Identity, Lower, Upper, Interval, Cholesky };

struct ParamInput {
  std::string name;
  ir::Shape shape;  // constant extents (a param indexed by a plate has the plate's N rows)
  Transform transform = Transform::Identity;
  double lower = 0, upper = 0;
  const sema::Variable* variable = nullptr;  // null for an automatic guide's params
  const ir::Node* node = nullptr;            // the unconstrained input
  // An automatic guide's fixed frame (NAME.center, NAME.unit): read through stop_gradient, so
  // its gradient is 0 and no optimizer moves it; set before training (vmc fit's Laplace start),
  // 0 otherwise (the identity frame).
  bool frozen = false;
};

struct DataInput {
  std::string name;
  const ir::Node* node;   // real or int; a subsampled plate's data holds the minibatch rows
  std::string batch_dim;  // the subsampled plate's dim whose minibatch rows it holds, or ""
};

struct NoiseInput {
  std::string latent;
  const ir::Node* node;  // InputKind::Noise (standard normal) or ::Uniform
};

// A distribution's argument whose support is narrower than the reals, as a `~` gives it: the
// `support` kernel outputs its value ("check.K" for the K-th), so that the values at the initial
// params can be checked before training, and the statement named when they leave it.
struct SupportCheck {
  Span arg;                   // the argument's expression
  Span statement;             // the whole `~`
  std::string family, param;  // "lognormal", "sigma"
  dist::Support support;      // Positive or UnitInterval
  bool guide = false;         // in the guide block
  bool bare_param = false;    // the argument is a param's name (a scale missing its exp())
};

struct Lowered {
  ir::Function function;  // outputs: "elbo", then one "grad.NAME" per param
  // The objective as lowered, before simplification: the definition finite differences and the
  // interpreter check the compiled gradient against (its stop_gradients are still in place).
  const ir::Node* objective = nullptr;
  // The guide's draw of each latent (first sample), on the latent's support, in the order of
  // the model's latents: a local latent's draw has the minibatch's rows.
  std::vector<ir::Output> guide_draws;
  // The model run forwards (sample_model): each data array drawn from its likelihood, then its
  // mean ("mean.x"), given params, noise and the data that is not sampled; latents from their
  // priors. Empty, with the reason in sample_model_problem, when the model cannot be sampled.
  std::vector<ir::Output> model_draws;
  std::vector<NoiseInput> model_noise;  // the noise sample_model reads ("gen.NAME")
  // The model run forwards from the guide's draw of every latent (first sample) instead of
  // its prior: each data array's draw and mean given the data (reconstruct: what an
  // auto-encoder's reconstructions show). Empty when the model cannot be sampled.
  std::vector<ir::Output> reconstructions;
  // The generated block evaluated at the guide's draw (first sample): each global latent's draw,
  // then each quantity of the block (sema::Model::generated), by name. Empty without the block.
  std::vector<ir::Output> generated;
  std::vector<NoiseInput> generated_noise;  // the noise its draws read ("gq.NAME")
  // The sample's importance log-weight per datapoint, log p(x_i, z_i) − log q(z_i | x_i) ([M]),
  // when every latent is local to one subsampled plate (the log_weights kernel: PSIS k̂, and the
  // first pass of an importance-weighted bound); for an importance-weighted bound over global
  // latents, the one log-weight log p(x, z) − log q(z) of the whole data.
  std::vector<ir::Output> row_log_weights;
  // The arguments of the model's and guide's `~` that have a narrower support (outside loops),
  // and their values (the support kernel's outputs, in the same order).
  std::vector<SupportCheck> support_checks;
  std::vector<ir::Output> support_values;
  // log p(y_i | z) per datapoint i ("log_lik", [N]: the sum of every data '~' term over all but
  // its leading axis), for PSIS-LOO (vmc loo); empty, with the reason in log_lik_problem, when
  // the likelihood is not a sum of such terms (a target +=, a '~' in a loop, terms over
  // different leading axes).
  std::vector<ir::Output> log_lik;
  std::string log_lik_problem;
  std::string sample_model_problem;
  // The objective is a row-independent part plus a sum over the minibatch's rows (false only
  // for an importance-weighted bound with global latents): a batch may then be split across threads.
  bool rows_additive = true;
  // Whether the objective has a part outside the subsampled plate's rows (a global latent's
  // terms, a plate over another dim): a split batch must then count it once. False only when
  // every term lies in the one subsampled plate (the VAEs).
  bool row_free_part = true;
  // The samples of each estimate (vmc_model_info::samples): L of a mean estimator, K of an
  // importance-weighted one. One sample is lowered; the runtime calls the kernels per sample.
  int samples = 1;
  // An importance-weighted bound: the input (InputKind::Weight, [M] per datapoint or a scalar
  // for global latents) that weighs the sample's log-weight, row_log_weights' "log_weight".
  const ir::Node* importance_weight = nullptr;
  std::vector<ParamInput> params;
  std::vector<DataInput> data;
  std::vector<NoiseInput> noise;
  // Run-time sizes: symbol name → the dim it stands for. "M" (or "M_dim") is a subsampled
  // plate's minibatch size; a dim's own name is its full extent.
  std::map<std::string, std::string> sizes;
  // Latents whose L^B term is sampled because (guide, prior) has no closed form.
  std::vector<std::string> sampled_kl;
  std::size_t nodes_before_simplify = 0;
  std::size_t nodes_after_simplify = 0;
};

// Lowers the objective (output "elbo") of a model sema checked for lowering
// (sema::Options::lowering, and importance_weighted for such an estimator): every user error is
// sema's, so lowering reports none, and a construct it cannot lower is an internal error.
Lowered lower_model(const sema::Model& model, const Options& options);

// Differentiates the objective with respect to every param (outputs "grad.NAME"), then
// simplifies the joint value + gradient DAG, recording its size before and after (and, with
// `times`, the time of each step).
void add_gradients(Lowered& lowered, StageTimes* times = nullptr);

}  // namespace vmc::lower

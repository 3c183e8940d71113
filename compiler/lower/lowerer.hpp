// Internal to compiler/lower: the state of one lowering and the passes over it.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/builder.hpp"
#include "dist/distribution.hpp"
#include "lower/lower.hpp"

namespace vmc::lower {

using dist::Args;

// A value of the model's language as IR: a tensor whose leading axes are batch axes, one per
// plate the value varies over (outermost first), followed by the per-copy shape the language
// sees. `row` marks a per-copy row vector (a transposed vector).
struct Value {
  const ir::Node* node = nullptr;
  std::vector<const ast::Plate*> plates{};
  bool row = false;

  std::size_t copy_rank() const { return node->rank() - plates.size(); }
  ir::Shape copy_shape() const {
    return ir::Shape(node->shape().begin() + static_cast<long>(plates.size()), node->shape().end());
  }
  bool copy_scalar() const { return copy_rank() == 0; }
};

// A term of the objective: a per-copy scalar (one value per combination of its plates).
struct Term {
  Value value;
  std::string latent;  // the latent whose log p or log q this is, or ""
  bool guide = false;  // a log q term (subtracted)
};

// What the guide drew for a latent in one sample, and from what.
struct Draw {
  Value value;
  const dist::Distribution* family = nullptr;  // null when no closed-form KL can apply
  Args args;  // at the draw's full shape
};

class Lowerer {
 public:
  Lowerer(const sema::Model& model, const Options& options);
  Lowered run();

  // --- used by the passes (expr.cpp, statements.cpp, inputs.cpp) ---
  Value expr(const ast::Expr& e);
  void statements(const std::vector<ast::StmtPtr>& body, ast::BlockKind block);
  // loops.cpp: a for loop as one loop node, its state the vars it assigns and its terms' sum.
  void loop(const ast::For& f, ast::BlockKind block);

  // Broadcasts `v` to the given plates (a superset of its own, in nesting order) and, when it is
  // a per-copy scalar and `copy` is not, to the per-copy shape `copy`.
  Value align(const Value& v, const std::vector<const ast::Plate*>& plates, const ir::Shape& copy);
  std::vector<const ast::Plate*> union_plates(const std::vector<const ast::Plate*>& a,
                                              const std::vector<const ast::Plate*>& b) const;
  ir::Extent plate_extent(const ast::Plate& p);
  ir::Extent dim_extent(const std::string& dim, Span at);
  // A declared extent (a polynomial over dims) as an IR extent: a constant, or a run-time dim.
  ir::Extent extent(const sema::Extent& e, Span at);
  // A density function's value (`normal_lpdf(x | args)`, _lcdf, ...): Σ over x's elements, per
  // copy of the plates of x and the arguments.
  Value density(const dist::Distribution& d, dist::DensityKind kind, Value x, const std::vector<Value>& args);
  // Σ over the per-copy axes: a per-copy scalar.
  Value reduce_copy(ir::Op op, const Value& v);
  // A latent's draw as seen from the enclosing plates: the guide's plate over a dim and the
  // model's plate over it are one index set (one minibatch), so each of the draw's plates that
  // does not enclose this point stands for the enclosing plate over the same dim.
  Value rebind(const Value& v) const;
  // The generative pass (sample_model, reconstruct) cannot draw the model: those kernels are then
  // not offered, and `reason` says why. Lowering reports no user error: sema checks what it
  // needs (sema/lowering.cpp), and a gap here is an internal error.
  void unavailable(const std::string& reason);
  // The draw of latent `name` read in an expression. A model may read a latent before its '~'
  // (Stan's transformed parameters come first); the generative pass then cannot run the model
  // forwards (unavailable), except when reconstructing, where the guide's draw stands for it.
  const Draw& drawn(const std::string& name);

  const sema::Model& model;
  const Options& options;
  Lowered out;
  ir::Graph& g;
  bool failed = false;  // the generative pass cannot draw the model (unavailable)

  std::set<std::string> runtime_dims;
  std::set<std::string> subsampled_dims;  // dims of the subsampled plates, model and guide
  std::vector<const ast::Plate*> plates;               // enclosing plates, outermost first
  std::map<const ast::Let*, Value> lets;               // each let's value (sema resolves names)
  std::map<const ast::For*, Value> loop_indices;       // each loop's index, inside its body
  int loop_count = 0;                                  // loops lowered so far (their names)
  std::vector<std::vector<Value>> fn_args;             // user fn arguments by position, innermost last
  // The calls of user fns inlined so far within the outermost call being lowered, by fn and
  // arguments: a fn that calls another twice with the same arguments (or a chain of such) is
  // lowered once per distinct call, not once per path (exponential in the nesting depth).
  std::map<std::pair<const ast::FnDef*, std::vector<std::tuple<const ir::Node*, std::vector<const ast::Plate*>, bool>>>,
           Value>
      fn_calls;
  std::map<std::string, Value> params;                 // constrained param values
  std::map<std::string, Value> data_whole;             // data used whole
  std::map<std::string, const ir::Node*> data_nodes;   // by "name" / "name#int" / "name#batch"
  std::map<std::string, Draw> draws;                   // the sample's latent draws
  std::map<std::string, Draw> priors;                  // the sample's latent priors (for KL)
  bool generative = false;                             // the sample_model pass
  bool reconstructing = false;                         // ... with latents from the guide
  std::map<std::string, Draw> guide_draws;             // the guide's draws
  std::map<std::string, Value> generated;              // its draws of data, by name
  bool quantifying = false;                            // the generated block's pass
  std::map<const ast::Sample*, Value> quantities;      // its draws
  std::vector<Term> terms;                             // the sample's terms
  const ir::Node* log_lik = nullptr;                   // Σ of the data terms per datapoint, [N]
  std::string log_lik_problem;                         // why there is none
  // A data term (its elementwise log density with its plates) into log_lik: summed over every
  // axis but its leading one, which every such term must share.
  void add_log_lik(const Value& lp, Span at);
  // A param of an automatic guide (auto_guide.cpp), declared as an input; a frozen one is read
  // through stop_gradient.
  const ir::Node* declare_guide_param(const std::string& name, const ir::Shape& shape, Transform tr,
                                      bool frozen = false);
  void no_log_lik(const std::string& why) {
    if (log_lik_problem.empty()) log_lik_problem = why;
  }


 private:
  friend struct InputBuilder;
  void declare_params();
  void auto_guide();
  void generate_model(bool reconstruct);
  void generated_quantities();
  const ir::Node* objective();
  bool has_closed_form_kl(const std::string& latent) const;
};

// Σ of a term over all its axes, each subsampled plate's axis scaled by N/M.
const ir::Node* total(Lowerer& l, const Value& v);
// estimators.cpp: one sample's part of an importance-weighted bound, weighed by the runtime's
// softmax weight (its InputKind::Weight input); its log-weight goes to row_log_weights.
const ir::Node* importance_weighted(Lowerer& l, const std::vector<Term>& terms);
// log p(x_i, z_i) − log q(z_i | x_i) per datapoint of the subsampled plate ([M]) from one
// sample's terms, when every latent is local to that plate; otherwise nullptr.
const ir::Node* row_log_weight(const std::vector<Term>& terms);

// inputs.cpp
const ir::Node* data_input(Lowerer& l, const sema::Variable& v, bool as_int, const ast::Plate* batch,
                           Span at);
const ir::Node* size_input(Lowerer& l, const std::string& name);
const ir::Node* minibatch_index(Lowerer& l, const ast::Plate& plate);
const ir::Node* noise_input(Lowerer& l, const std::string& latent, ir::InputKind kind,
                            const ir::Shape& shape);

}  // namespace vmc::lower

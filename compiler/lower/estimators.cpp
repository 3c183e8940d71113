// The importance-weighted bound.
#include <algorithm>
#include <cmath>

#include "lower/lowerer.hpp"
#include "support/check.hpp"

namespace vmc::lower {
namespace {

using ir::Op;

bool any_subsampled(const std::vector<ast::StmtPtr>& body) {
  for (const ast::StmtPtr& s : body) {
    if (const auto* p = s->as<ast::Plate>()) {
      if (p->subsample || any_subsampled(p->body)) return true;
    }
  }
  return false;
}

// The model's and the guide's subsampled plates over one dim are one minibatch.
bool same_batch(const ast::Plate* a, const ast::Plate* b) {
  return a == b || (a->subsample && b->subsample && a->dim.name == b->dim.name);
}

bool in_batch(const Value& v, const ast::Plate* batch) {
  return std::any_of(v.plates.begin(), v.plates.end(),
                     [&](const ast::Plate* p) { return same_batch(p, batch); });
}

// Σ over every axis of a term but the one of `keep`: a [M] vector of per-datapoint sums.
const ir::Node* per_datapoint(const Value& v, const ast::Plate* keep) {
  const ir::Node* n = v.node;
  for (std::size_t k = v.plates.size(); k-- > 0;) {
    if (!same_batch(v.plates[k], keep)) n = ir::sum(n, static_cast<int>(k));
  }
  return n;
}

// Which latents a sample's terms draw: every latent local to one subsampled plate (`local` set),
// or every latent global.
struct Locality {
  const ast::Plate* local = nullptr;
  bool all_local = true, all_global = true;
};

Locality locality(const std::vector<Term>& first) {
  const ast::Plate* local = nullptr;
  bool all_local = true, all_global = true;
  for (const Term& t : first) {
    if (!t.guide) continue;
    // Local: drawn in one subsampled plate, or in plain plates nested inside it.
    bool nested_plain = std::none_of(t.value.plates.begin() + (t.value.plates.empty() ? 0 : 1),
                                     t.value.plates.end(), [](auto* p) { return p->subsample; });
    if (!t.value.plates.empty() && t.value.plates[0]->subsample && nested_plain &&
        (!local || same_batch(local, t.value.plates[0]))) {
      local = t.value.plates[0];
      all_global = false;
    } else if (t.value.plates.empty()) {
      all_local = false;
    } else {
      all_local = all_global = false;
    }
  }
  return {local, all_local, all_global};
}

}  // namespace

const ir::Node* row_log_weight(const std::vector<Term>& terms) {
  Locality where = locality(terms);
  if (!where.all_local || !where.local) return nullptr;
  const ir::Node* w = nullptr;
  for (const Term& t : terms) {
    if (!in_batch(t.value, where.local)) continue;
    const ir::Node* x = per_datapoint(t.value, where.local);
    w = !w ? (t.guide ? ir::neg(x) : x) : (t.guide ? ir::sub(w, x) : ir::add(w, x));
  }
  return w;
}

// One sample of an importance-weighted bound. Its log-weight w (per datapoint when every latent
// is local to the subsampled plate, else one over the whole data) is the log_weights kernel's
// output; the objective is Σ c ⊙ w, N/M-scaled, plus the terms outside the weights (params'
// priors, target += outside the plate) divided by K, where c is the input the runtime sets to
// the sample's softmax weight over its K samples (abi.h, vmc_model_info::samples). Summed over
// the K samples, its gradients are the bound's: ∇ log (1/K) Σ_k e^{w_k} = Σ_k softmax_k(w) ∇w_k.
const ir::Node* importance_weighted(Lowerer& l, const std::vector<Term>& terms) {
  // Every latent local to one subsampled plate, or every latent global with no subsampling.
  auto [local, all_local, all_global] = locality(terms);
  bool subsampled = any_subsampled(l.model.model_block->statements);
  VMC_ASSERT((all_local && local) || (all_global && !subsampled),
             "an importance-weighted bound over mixed latents after sema");
  const double k = static_cast<double>(l.out.samples);
  if (all_local && local) {
    const ir::Node* w = row_log_weight(terms);
    const ir::Node* c = ir::input(l.g, "iw.weight", ir::InputKind::Weight, w->shape());
    l.out.row_log_weights.push_back({"log_weight", w});
    l.out.importance_weight = c;
    const ir::Node* bound = total(l, Value{ir::mul(c, w), {local}});
    for (const Term& t : terms) {  // outside the weights: params' priors, target +=
      if (in_batch(t.value, local)) continue;
      const ir::Node* x = ir::div(total(l, t.value), ir::constant(l.g, k));
      bound = t.guide ? ir::sub(bound, x) : ir::add(bound, x);
    }
    return bound;
  }
  const ir::Node* w = ir::constant(l.g, 0);
  for (const Term& t : terms) {
    const ir::Node* x = total(l, t.value);
    w = t.guide ? ir::sub(w, x) : ir::add(w, x);
  }
  const ir::Node* c = ir::input(l.g, "iw.weight", ir::InputKind::Weight, {});
  l.out.row_log_weights.push_back({"log_weight", w});
  l.out.importance_weight = c;
  return ir::mul(c, w);
}

}  // namespace vmc::lower

// What lowering needs of a checked model, so that every user error is sema's and lowering
// reports none (lower/ asserts these): a latent drawn inside nested plates read one copy at a
// time; an importance-weighted estimator only on latents all local to one subsampled plate, or
// all global without subsampling; and, when the model is checked to be lowered (Options::lowering), a value for every dim a shape needs at
// compile time. (Products, transposes, Cholesky factors, gathers and the data's two kinds of use
// are checked where their expressions are: check_expr.cpp, check_index.cpp, check_sample.cpp.)
#include <algorithm>
#include <set>

#include "sema/analyzer.hpp"

namespace vmc::sema {
namespace {

// The plates around the guide's draw of a latent (lowering's batch axes of that draw): its
// `~`'s in a guide block; an automatic guide draws a local latent in its subsampled plate and a
// global one whole.
std::vector<const ast::Plate*> draw_plates(const Analyzer& a, const Variable& v) {
  if (auto g = a.guide_sites.find(v.name); g != a.guide_sites.end()) return g->second.plates;
  if (!v.local) return {};
  auto m = a.model_sites.find(v.name);
  for (const ast::Plate* p : m->second.plates) {
    if (p->subsample && p->dim.name == v.plate_dim) return {p};
  }
  return {};
}

// A read `u[i, ...]` through a plate index of a latent drawn inside nested plates selects one
// copy: its first subscripts are the indices of each of those plates, in order.
void check_nested_reads(Analyzer& a) {
  for (const LatentRead& read : a.latent_reads) {
    if (read.leading.empty()) continue;
    const Variable* v = a.model->find_variable(read.latent);
    if (!v) continue;
    std::vector<const ast::Plate*> drawn = draw_plates(a, *v);
    if (drawn.size() < 2) continue;
    bool one_copy = read.leading.size() >= drawn.size();
    for (std::size_t k = 0; one_copy && k < drawn.size(); ++k) one_copy = read.leading[k]->dim.name == drawn[k]->dim.name;
    if (!one_copy) {
      a.report.error(read.span, "a latent drawn inside nested plates is read one copy at a time: index it by the "
                                "index of each of those plates, in order");
    }
  }
}

bool any_subsampled(const std::vector<ast::StmtPtr>& body) {
  for (const ast::StmtPtr& s : body) {
    if (const auto* p = s->as<ast::Plate>()) {
      if (p->subsample || any_subsampled(p->body)) return true;
    }
  }
  return false;
}

// The importance-weighted bound's log-mean-exp is per datapoint (every latent local to one
// subsampled plate, drawn in it or in plain plates nested inside it) or over the whole data
// (every latent global, nothing subsampled).
void check_importance_weighted(Analyzer& a) {
  if (!a.options.importance_weighted) return;
  std::string local_dim;
  bool all_local = true, all_global = true;
  for (const Variable& v : a.model->latents) {
    std::vector<const ast::Plate*> plates = draw_plates(a, v);
    bool nested_plain = std::none_of(plates.begin() + (plates.empty() ? 0 : 1), plates.end(),
                                     [](const ast::Plate* p) { return p->subsample; });
    if (!plates.empty() && plates[0]->subsample && nested_plain &&
        (local_dim.empty() || local_dim == plates[0]->dim.name)) {
      local_dim = plates[0]->dim.name;
      all_global = false;
    } else if (plates.empty()) {
      all_local = false;
    } else {
      all_local = all_global = false;
    }
  }
  bool subsampled = any_subsampled(a.model->model_block->statements);
  if ((all_local && !local_dim.empty()) || (all_global && !subsampled)) return;
  a.report.error(a.model->model_block->keyword_span,
                 "the " + *a.options.importance_weighted +
                     " estimator needs every latent local to one subsampled plate, or every latent global with no "
                     "subsampled plate (its log-mean-exp is per datapoint, or over the whole data); use the default "
                     "estimator (vmc help estimators) for this model");
}

// The dims lowering needs at compile time (lower/lowerer.cpp): every extent of a param and of a
// global latent, every extent but the leading one of data and of local latents, and with an
// automatic guide every extent of every latent (its params have them).
void check_compile_time_dims(Analyzer& a) {
  if (!a.options.lowering) return;
  std::set<std::string> reported;
  auto need = [&](const Variable& v, std::size_t from) {
    for (std::size_t k = from; k < v.type.shape.size(); ++k) {
      for (const auto& [monomial, coefficient] : v.type.shape[k].terms()) {
        for (const std::string& dim : monomial) {
          if (a.dim_values.count(dim) || !reported.insert(dim).second) continue;
          a.report.error(v.decl->span, "dim '" + dim + "' has no value, but the shape of '" + v.name +
                                           "' needs it at compile time: give the data that has it, or --set " +
                                           dim + "=...");
        }
      }
    }
  };
  const Model& m = *a.model;
  for (const Variable& v : m.params) need(v, 0);
  for (const Variable& v : m.data) need(v, 1);
  for (const Variable& v : m.latents) need(v, v.local && !m.auto_guide ? 1 : 0);
}

}  // namespace

void check_lowering(Analyzer& a) {
  check_nested_reads(a);
  check_importance_weighted(a);
  check_compile_time_dims(a);
}

}  // namespace vmc::sema

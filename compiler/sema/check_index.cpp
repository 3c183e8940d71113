// Indexing (0-based). Each subscript is one of:
//   a plate index   leading subscripts only, in the plates' nesting order; the plate's dim must
//                   be that extent; drops the dimension
//   a constant      an int expression of literals and dims; checked in bounds when known; drops it
//   a slice         lo:hi, lo:, :hi or : with constant bounds; keeps it with extent hi - lo
//   a gather        any other int expression (from int data): a scalar drops the dimension, an
//                   int vector of extent K gives extent K
#include "sema/check_expr.hpp"
#include "sema/const_eval.hpp"

#include <algorithm>
#include <cmath>

namespace vmc::sema {

const Symbol* ExprChecker::plate_index(const ast::Expr& e) const {
  const auto* n = e.as<ast::Name>();
  const Symbol* sym = n ? lookup(a_, &scope_, n->name) : nullptr;
  return sym && sym->kind == SymbolKind::PlateIndex ? sym : nullptr;
}

Type ExprChecker::index(const ast::Expr& e, const ast::Index& ix) {
  const std::vector<ast::Subscript>& subs = ix.subscripts;
  std::vector<const ast::Plate*> leading;  // the plates of the leading plate-index subscripts
  for (const ast::Subscript& s : subs) {
    const Symbol* p = s.is_slice ? nullptr : plate_index(*s.lo);
    if (!p) break;
    leading.push_back(p->plate);
  }
  const auto* base_name = ix.base->as<ast::Name>();
  Type base = base_name ? record(*ix.base, name(*ix.base, *base_name, leading)) : check(*ix.base);
  std::string what = quote(base_name ? base_name->name : source_text(ix.base->span));

  bool ok = !base.is_error();
  if (ok && base.is_scalar()) {
    a_.report.error(e.span, what + " is a scalar (" + to_string(base) + ") and cannot be indexed");
    ok = false;
  } else if (ok && subs.size() > base.rank()) {
    a_.report.error(e.span, "too many subscripts for " + what + ": " + std::to_string(subs.size()) +
                                " given, but it is " + to_string(base));
    ok = false;
  }
  if (!ok) {
    // Still check the subscripts, for their own errors.
    for (const ast::Subscript& s : subs) {
      for (const ast::ExprPtr* bound : {&s.lo, &s.hi}) {
        if (*bound && !plate_index(**bound)) check(**bound);
      }
    }
    return Type::error();
  }

  std::vector<Extent> shape;
  std::vector<const ast::Plate*> plates = base.plates;
  bool in_order = plates_in_order(subs, what);
  ok &= in_order;
  for (std::size_t k = 0; k < subs.size(); ++k) {
    const ast::Subscript& s = subs[k];
    const Extent& extent = base.shape[k];
    if (const Symbol* plate = s.is_slice ? nullptr : plate_index(*s.lo)) {
      record(*s.lo, Type::integer());
      record_name(*s.lo, NameRef{NameKind::PlateIndex, nullptr, plate->plate});
      // Extents are compared only when the plates are where they belong.
      if (in_order) ok &= plate_extent(s, *plate, extent, k, what);
      // A subsampled plate's index picks the minibatch's rows: of the leading axis only.
      if (plate->plate->subsample && (k > 0 || !base.plates.empty())) {
        a_.report.error(s.span, "a subsampled plate's index must be the first subscript here");
        ok = false;
      }
      plates.push_back(plate->plate);
      continue;
    }
    if (s.is_slice) {
      std::optional<Extent> kept = slice(s, extent, k, what);
      if (kept) shape.push_back(*kept);
      ok &= kept.has_value() && known_when_lowered(s, extent, k, what);
      continue;
    }
    Type t = check(*s.lo);
    if (t.is_error()) {
      ok = false;
    } else if (!t.is_int()) {
      a_.report.error(s.span, "subscripts must be ints, but '" + source_text(s.span) + "' is " +
                                  to_string(t));
      ok = false;
    } else if (std::optional<Extent> v = eval_extent(a_, &scope_, *s.lo, nullptr, "")) {
      ok &= constant_index(s, *v, extent, k, what) && known_when_lowered(s, extent, k, what);
    } else if (t.is_scalar() && t.plates.empty() && reads_loop_index(*s.lo)) {
      ok &= dynamic_index(s, extent, what);
    } else if (!t.is_scalar() && !(t.rank() == 1 && !t.row)) {
      a_.report.error(s.span, "a gather index must be an int scalar or vector, but '" +
                                  source_text(s.span) + "' is " + to_string(t));
      ok = false;
    } else if (gather(s, k, base, what)) {
      if (t.rank() == 1) shape.push_back(t.shape[0]);
      plates = union_plates(plates, t.plates);
    } else {
      ok = false;
    }
  }
  if (!ok) return Type::error();
  for (std::size_t k = subs.size(); k < base.rank(); ++k) shape.push_back(base.shape[k]);
  bool row = base.row && shape.size() == 1;
  return Type{base.kind, base.constraint, std::move(shape), row, std::move(plates)};
}

bool ExprChecker::reads_loop_index(const ast::Expr& root) const {
  bool found = false;
  ast::for_each_expr(root, [&](const ast::Expr& e) {
    auto it = e.as<ast::Name>() ? a_.model->names.find(&e) : a_.model->names.end();
    found = found || (it != a_.model->names.end() && it->second.kind == NameKind::LoopIndex);
    return !found;
  });
  return found;
}

std::optional<IndexRange> ExprChecker::index_range(const ast::Expr& e) {
  if (std::optional<Extent> v = eval_extent(a_, &scope_, e, nullptr, "")) {
    if (std::optional<std::int64_t> c = v->constant_value()) return IndexRange{*c, *c, true};
    return std::nullopt;
  }
  if (const auto* n = e.as<ast::Name>()) {
    const Symbol* sym = lookup(a_, &scope_, n->name);
    // Scalar int data: within its declared bounds.
    if (sym && sym->kind == SymbolKind::Data && sym->type.is_int() && sym->type.is_scalar()) {
      const Constraint& c = sym->type.constraint;
      if (!c.lower || !c.upper) return std::nullopt;
      return IndexRange{static_cast<std::int64_t>(std::ceil(*c.lower)), static_cast<std::int64_t>(std::floor(*c.upper)),
                        false};
    }
    if (!sym || sym->kind != SymbolKind::LoopIndex) return std::nullopt;
    std::optional<IndexRange> lo = index_range(*sym->loop->begin), hi = index_range(*sym->loop->end);
    if (!lo || !hi) return std::nullopt;
    // Exact when both bounds are constants: each value in between is taken.
    return IndexRange{lo->lo, hi->hi - 1, lo->constant() && hi->constant()};
  }
  if (const auto* u = e.as<ast::Unary>()) {
    std::optional<IndexRange> r = index_range(*u->operand);
    if (!r) return std::nullopt;
    return IndexRange{-r->hi, -r->lo, r->exact};
  }
  const auto* b = e.as<ast::Binary>();
  if (!b) return std::nullopt;
  std::optional<IndexRange> x = index_range(*b->lhs), y = index_range(*b->rhs);
  if (!x || !y) return std::nullopt;
  // Exact when one side is a constant: two variables may be correlated (k < t).
  bool exact = x->exact && y->exact && (x->constant() || y->constant());
  switch (b->op) {
    case ast::BinaryOp::Add: return IndexRange{x->lo + y->lo, x->hi + y->hi, exact};
    case ast::BinaryOp::Sub: return IndexRange{x->lo - y->hi, x->hi - y->lo, exact};
    case ast::BinaryOp::Mul:
    case ast::BinaryOp::ElemMul: {
      std::int64_t p[] = {x->lo * y->lo, x->lo * y->hi, x->hi * y->lo, x->hi * y->hi};
      return IndexRange{*std::min_element(p, p + 4), *std::max_element(p, p + 4), exact};
    }
    default:
      if (ast::is_comparison(b->op)) return IndexRange{0, 1, false};
      return std::nullopt;
  }
}

bool ExprChecker::dynamic_index(const ast::Subscript& s, const Extent& extent, const std::string& what) {
  a_.model->dynamic_indices.insert(s.lo.get());
  std::optional<IndexRange> r = index_range(*s.lo);
  std::optional<std::int64_t> n = extent.constant_value();
  if (!n) return true;  // checked when the model is compiled with its dims
  std::string unchecked = ": one past the extent reads the nearest element";
  if (!r) {
    a_.report.warning(s.span, "index '" + source_text(s.span) + "' of " + what + " cannot be bounded at compile "
                              "time, so it is not checked" + unchecked + " (give the int data in the loop bounds a "
                              "'lower' and an 'upper' to have it checked)");
    return true;
  }
  if (r->lo > r->hi || (r->lo >= 0 && r->hi < *n)) return true;
  std::int64_t bad = r->lo < 0 ? r->lo : r->hi;
  std::string where = "index '" + source_text(s.span) + "' of " + what;
  std::string range = " (from " + std::to_string(r->lo) + " to " + std::to_string(r->hi) + "), outside 0 … " +
                      std::to_string(*n - 1);
  if (r->exact) {
    a_.report.error(s.span, where + " reaches " + std::to_string(bad) + " in the loop" + range);
    return false;
  }
  a_.report.warning(s.span, where + " may reach " + std::to_string(bad) + " as far as sema can tell" + range +
                                unchecked);
  return true;
}

bool ExprChecker::gather(const ast::Subscript& s, std::size_t k, const Type& base, const std::string& what) {
  // Int data, or int data indexed by a plate: the forms lowering gathers by (lower/expr.cpp).
  const ast::Expr* index = s.lo.get();
  if (const auto* ix = index->as<ast::Index>();
      ix && ix->subscripts.size() == 1 && !ix->subscripts[0].is_slice && plate_index(*ix->subscripts[0].lo)) {
    index = ix->base.get();
  }
  const auto* n = index->as<ast::Name>();
  const Symbol* sym = n ? lookup(a_, &scope_, n->name) : nullptr;
  if (!sym || sym->kind != SymbolKind::Data) {
    a_.report.error(s.span, "an index must be an int constant, a plate index or int data (optionally indexed by a plate)");
    return false;
  }
  if (k != 0 || !base.plates.empty()) {
    a_.report.error(s.span, "gathers by int data are supported on the first subscript of a value shared by "
                            "all datapoints, but this is the " + ordinal(k) + " subscript of " + what);
    return false;
  }
  return true;
}

bool ExprChecker::known_when_lowered(const ast::Subscript& s, const Extent& extent, std::size_t k,
                                     const std::string& what) {
  if (!a_.options.lowering || extent.constant_value()) return true;
  a_.report.error(s.span, (s.is_slice ? "slice bounds must be constants on an extent known at compile time: the "
                                      : "a constant index needs an extent known at compile time: the ") +
                              ordinal(k) + " extent of " + what + " is " + extent.to_string() +
                              "; give the data that has its dims, or --set them");
  return false;
}

bool ExprChecker::plates_in_order(const std::vector<ast::Subscript>& subs, const std::string& what) {
  const Symbol* previous = nullptr;
  bool other_before = false;
  for (const ast::Subscript& s : subs) {
    const Symbol* plate = s.is_slice ? nullptr : plate_index(*s.lo);
    if (!plate) {
      other_before = true;
      continue;
    }
    const std::string& index = plate->plate->index.name;
    std::string problem;
    if (other_before) {
      problem = "plate index '" + index + "' must come before the other subscripts of " + what;
    } else if (previous == plate) {
      problem = "plate index '" + index + "' is used twice in one subscript list";
    } else if (previous && previous->depth > plate->depth) {
      problem = "plate index '" + index + "' comes after '" + previous->plate->index.name +
                "', but its plate encloses that one; subscript in the plates' nesting order";
    }
    if (!problem.empty()) {
      a_.report.error(s.span, problem);
      return false;
    }
    previous = plate;
  }
  return true;
}

bool ExprChecker::plate_extent(const ast::Subscript& s, const Symbol& plate, const Extent& extent,
                               std::size_t k, const std::string& what) {
  const std::string& index = plate.plate->index.name;
  const std::string& dim = plate.plate->dim.name;
  const Symbol* dim_symbol = a_.global(dim);
  if (!dim_symbol || dim_symbol->kind != SymbolKind::Dim) return true;  // reported at the plate
  Extent runs = a_.dim_extent(dim);
  if (runs == extent) return true;
  std::string over = dim;
  if (std::optional<std::int64_t> v = runs.constant_value()) over += " = " + std::to_string(*v);
  a_.report.error(s.span, "plate '" + index + "' runs over " + over + " but the " + ordinal(k) +
                              " extent of " + what + " is " + extent.to_string());
  return false;
}

std::optional<Extent> ExprChecker::slice_bound(const ast::Expr& bound) {
  Type t = check(bound);
  if (t.is_error()) return std::nullopt;
  std::optional<Extent> v;
  if (t.is_int() && t.is_scalar()) v = eval_extent(a_, &scope_, bound, nullptr, "");
  if (!v) {
    a_.report.error(bound.span, "slice bounds must be constant ints (integers, dims, '+', '-' "
                                "and '*'), but '" + source_text(bound.span) + "' is not");
  }
  return v;
}

std::optional<Extent> ExprChecker::slice(const ast::Subscript& s, const Extent& extent,
                                         std::size_t k, const std::string& what) {
  std::optional<Extent> lo = s.lo ? slice_bound(*s.lo) : Extent();
  std::optional<Extent> hi = s.hi ? slice_bound(*s.hi) : extent;
  if (!lo || !hi) return std::nullopt;
  auto negative = [](const Extent& x) { return x.constant_value() && *x.constant_value() < 0; };
  std::string text = "slice " + lo->to_string() + ":" + hi->to_string();
  if (negative(*lo) || negative(extent - *hi)) {
    a_.report.error(s.span, text + " is out of bounds for " + what + ", whose " + ordinal(k) +
                                " extent is " + extent.to_string());
    return std::nullopt;
  }
  Extent kept = *hi - *lo;
  if (kept.constant_value() && *kept.constant_value() <= 0) {
    a_.report.error(s.span, text + " of " + what + " is empty");
    return std::nullopt;
  }
  return kept;
}

bool ExprChecker::element_index(const ast::Subscript& s, const Extent& extent, std::size_t k,
                                const std::string& what) {
  if (s.is_slice || !s.lo) {
    a_.report.error(s.span, "a slice cannot be assigned yet; assign its elements one at a time (in a loop)");
    return false;
  }
  if (plate_index(*s.lo)) {
    a_.report.error(s.span, "a var's elements are assigned by int indices, not plate indices; a var declared in "
                            "the plate already holds one value per copy");
    return false;
  }
  Type t = check(*s.lo);
  if (t.is_error()) return false;
  if (!t.is_int() || !t.is_scalar() || !t.plates.empty()) {
    a_.report.error(s.span, "an assigned element's index must be an int scalar the same in every copy, but '" +
                                source_text(s.span) + "' is " + to_string(t));
    return false;
  }
  if (std::optional<Extent> v = eval_extent(a_, &scope_, *s.lo, nullptr, "")) return constant_index(s, *v, extent, k, what);
  if (reads_loop_index(*s.lo)) return dynamic_index(s, extent, what);
  return true;  // int data: read at run time, clamped
}

bool ExprChecker::constant_index(const ast::Subscript& s, const Extent& value, const Extent& extent,
                                 std::size_t k, const std::string& what) {
  std::optional<std::int64_t> v = value.constant_value();
  std::optional<std::int64_t> room = (extent - value).constant_value();
  if ((v && *v < 0) || (room && *room <= 0)) {
    a_.report.error(s.span, "index " + value.to_string() + " is out of bounds for " + what +
                                ", whose " + ordinal(k) + " extent is " + extent.to_string());
    return false;
  }
  return true;
}

}  // namespace vmc::sema

// Type-checks expressions: names, operators, builtin and fn calls, indexing.
#pragma once

#include "sema/analyzer.hpp"
#include "sema/builtins.hpp"

namespace vmc::sema {

// The values an int index expression takes over the enclosing loops: [lo, hi], exactly those
// when `exact` (else a superset: two loop indices may be correlated, as k < t).
struct IndexRange {
  std::int64_t lo = 0, hi = 0;
  bool exact = false;
  bool constant() const { return exact && lo == hi; }
};

class ExprChecker {
 public:
  // `record`: store types in the Model; false inside fn bodies, whose types depend on the call.
  // Names are recorded everywhere: a name in a fn body refers to the same thing at every call.
  ExprChecker(Analyzer& a, Scope& scope, bool record) : a_(a), scope_(scope), record_(record) {}

  Type check(const ast::Expr& e);
  // The left side of '~': checked like any expression, but it samples a latent, not reads it.
  Type check_target(const ast::Expr& e);
  // The k-th subscript of an element assigned (`v[i] = ...`): an int scalar the same in every
  // copy (a constant, an expression of loop indices, int data), inside `extent` where sema can
  // tell. Slices and plate indices are not assignable yet.
  bool element_index(const ast::Subscript& s, const Extent& extent, std::size_t k, const std::string& what);

 private:
  Type dispatch(const ast::Expr& e);
  // `leading`: the plates whose indices are n's first subscripts, in order (none for a bare name).
  Type name(const ast::Expr& e, const ast::Name& n, const std::vector<const ast::Plate*>& leading);
  Type unknown_name(const ast::Expr& e, const std::string& name);
  // A let of that name out of scope here: in a plate body, the other block, or (from a fn) any.
  std::pair<const ast::Block*, const ast::Let*> let_elsewhere(const std::string& name) const;
  Type binary(const ast::Expr& e, const ast::Binary& b);
  Type transpose(const ast::Expr& e, const ast::Transpose& t);
  Type call(const ast::Expr& e, const ast::Call& c);
  Type builtin_call(const ast::Expr& e, const Builtin& b, const std::vector<Type>& args);
  Type composite_call(const ast::Expr& e, const Builtin& b, const std::vector<Type>& args);
  Type structure_call(const ast::Expr& e, const Builtin& b, const std::vector<Type>& args);
  Type fn_call(const ast::Expr& e, const ast::FnDef& fn, const std::vector<Type>& args);

  // check_index.cpp
  Type index(const ast::Expr& e, const ast::Index& ix);
  const Symbol* plate_index(const ast::Expr& e) const;
  // Plate indices are the leading subscripts, in the plates' nesting order.
  bool plates_in_order(const std::vector<ast::Subscript>& subs, const std::string& what);
  // The plate runs over the extent it indexes.
  bool plate_extent(const ast::Subscript& s, const Symbol& plate, const Extent& extent,
                    std::size_t k, const std::string& what);
  std::optional<Extent> slice(const ast::Subscript& s, const Extent& extent, std::size_t k,
                              const std::string& what);
  std::optional<Extent> slice_bound(const ast::Expr& bound);
  bool constant_index(const ast::Subscript& s, const Extent& value, const Extent& extent,
                      std::size_t k, const std::string& what);
  // A gather by the k-th subscript: by int data (or int data indexed by a plate), of the first
  // subscript of a value that does not vary over plates (what lowering can gather).
  bool gather(const ast::Subscript& s, std::size_t k, const Type& base, const std::string& what);
  // An int scalar expression of loop indices (`y[t - 1]`): one element read at run time; an
  // error when its values in the loops are known and leave the extent.
  bool reads_loop_index(const ast::Expr& e) const;
  bool dynamic_index(const ast::Subscript& s, const Extent& extent, const std::string& what);
  // The least and greatest value of an int expression of literals, dims and loop indices over the
  // enclosing loops, when sema can bound it.
  std::optional<IndexRange> index_range(const ast::Expr& e);
  // A constant index or a slice, when the model is checked for lowering: the extent it cuts
  // must be known (lowering slices constant extents only).
  bool known_when_lowered(const ast::Subscript& s, const Extent& extent, std::size_t k,
                          const std::string& what);

  Type record(const ast::Expr& e, Type t);
  void record_name(const ast::Expr& e, NameRef ref);

  Analyzer& a_;
  Scope& scope_;
  bool record_;
  bool target_ = false;
};

}  // namespace vmc::sema

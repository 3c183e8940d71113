// The builtin functions (LANGUAGE.md "Expressions"): the ops of ir/ops.def the language calls by
// name (their "builtin" column), so a new op is a builtin by one word there. A name may call two
// ops of different arity: min(x) reduces (ReduceMin), min(a, b) is elementwise (Min). The shape
// rule is the op's category's: elementwise ops keep their operand's shape (two operands must
// agree, or one be a scalar), reductions give a scalar, dot takes two vectors of equal extent.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/node.hpp"

namespace vmc::sema {

// How a builtin computes: one op of ops.def (its category's shape rule), or a composition of
// ops: elementwise on arguments of equal shapes (or scalars), or along a vector (per copy).
enum class BuiltinRule { Op, Elementwise, AlongVector, Structure };
// The builtins that build or reshape arrays (BuiltinRule::Structure): each has its own type rule
// (check_expr.cpp) and lowering (lower/expr.cpp).
enum class StructureBuiltin {
  RepVector,
  AppendRow,
  DiagMatrix,
  RowsDotProduct,
  CumulativeSum,
  DotSelf,
  CholeskyDecompose,
  GpExpQuadCov,
};

struct Builtin {
  std::string_view name;
  std::vector<ir::Op> ops;  // by arity, ascending (BuiltinRule::Op)
  BuiltinRule rule = BuiltinRule::Op;
  std::string_view alias_of;  // Stan's name for a builtin of ours ("inv_logit" is sigmoid)
  // A composition (rule Elementwise or AlongVector): its arity, what it computes (for the docs),
  // its IR from its arguments' nodes (Elementwise: at one shape; AlongVector: the vector and its
  // log_sum_exp, at the vector's shape) and, for Elementwise, its value on scalars (constant
  // folding).
  int arity = 0;
  StructureBuiltin structure = StructureBuiltin::RepVector;  // BuiltinRule::Structure
  std::string_view formula;
  const ir::Node* (*expand)(const std::vector<const ir::Node*>& args) = nullptr;
  double (*value)(const std::vector<double>& args) = nullptr;

  int min_arity() const;
  int max_arity() const;
  // The op called with `arity` arguments, if any.
  std::optional<ir::Op> op(int arity) const;
  // "1 argument", "1 or 2 arguments", "2 arguments"
  std::string arity_text() const;
};

const std::vector<Builtin>& builtins();
// The entry named `name`, or nullptr.
const Builtin* find_builtin(std::string_view name);
std::vector<std::string> builtin_names();
// The table `vmc help functions` prints (and docs/functions.md holds), one row per builtin.
std::string builtins_reference();

}  // namespace vmc::sema

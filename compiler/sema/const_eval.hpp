// Compile-time evaluation of the expressions that must be constant: shape extents, dim
// defaults, slice bounds, constraint bounds, constant inits and uniform's bounds.
#pragma once

#include <optional>
#include <string>

#include "parse/ast.hpp"
#include "sema/analyzer.hpp"
#include "sema/extent.hpp"

namespace vmc::sema {

// Messages name the value being evaluated with `what`: "the shape of 'x'", "the init of 'w'".

// An integer polynomial in dims: integer literals, dims (their values when known), + - * and
// unary minus. Returns nullopt for anything else, reporting why when `report` is set.
std::optional<Extent> eval_extent(const Analyzer& a, const Scope* scope, const ast::Expr& e,
                                  Reporter* report, const std::string& what);

// A real constant: numbers, pi, dims with known values, + - * / ^ .* ./, unary minus, and the
// builtins on scalars (`log(2)`). Returns nullopt for anything else, reporting why when
// `report` is set; a result that is not finite is an error too.
std::optional<double> eval_constant(const Analyzer& a, const Scope* scope, const ast::Expr& e,
                                    Reporter* report, const std::string& what);

}  // namespace vmc::sema

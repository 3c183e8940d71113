// A readable, deterministic dump of the AST (`vmc emit ast`): statements as an indented tree
// with their line:col, expressions as fully parenthesised prefix forms so precedence shows.
#pragma once

#include <iosfwd>
#include <string>

#include "parse/ast.hpp"

namespace vmc::ast {

void print(std::ostream& out, const Program& program);
// `a + b * c'` prints as (+ a (* b (' c))).
std::string to_sexpr(const Expr& expr);

}  // namespace vmc::ast

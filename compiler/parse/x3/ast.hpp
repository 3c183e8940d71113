// The parser's own AST: exactly what the X3 grammar's attributes need, and no more.
// These types never leave compiler/parse: parser.cpp converts them into vmc::ast at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/optional.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>

namespace vmc::parse::x3ast {

namespace x3 = boost::spirit::x3;

// Byte offsets of a node's text, filled in by the rules' on_success handlers.
struct tagged {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
};

struct name : tagged {
  std::string id;
};
struct number : tagged {
  std::string text;
};
// A punctuation token whose position matters for diagnostics (`~`, `subsample`, `init`).
struct token : tagged {
  std::string text;
};

struct call;
struct group;
struct chain;
struct negation;
struct power;
struct postfix;

struct expr : x3::variant<number, name, x3::forward_ast<call>, x3::forward_ast<group>,
                          x3::forward_ast<chain>,
                          x3::forward_ast<negation>, x3::forward_ast<power>,
                          x3::forward_ast<postfix>> {
  using base_type::base_type;
  using base_type::operator=;
};

// `| a, b` in `normal_lpdf(y | mu, sigma)`: the parameters after the value.
struct given : tagged {
  token bar;
  std::vector<expr> args;
};
struct call : tagged {
  name callee;
  std::vector<expr> args;
  boost::optional<given> bar;
};
// `( inner )`: kept so the parentheses belong to the expression's span.
struct group : tagged {
  std::string open;
  expr inner;
};
// `op rhs` after the first operand of a left-associative chain.
struct link : tagged {
  std::string op;
  expr rhs;
};
struct chain : tagged {
  expr first;
  std::vector<link> rest;
};
struct negation : tagged {
  std::string op;
  expr operand;
};
struct power : tagged {
  expr base;
  boost::optional<expr> exponent;
};
// An index `lo`, or a slice `lo:hi` with optional bounds (is_slice tells them apart).
struct subscript : tagged {
  boost::optional<expr> lo;
  bool is_slice = false;
  boost::optional<expr> hi;
};
// `'` (kind "'") or `[subscripts]` (kind "[").
struct suffix : tagged {
  std::string kind;
  std::vector<subscript> subscripts;
};
struct postfix : tagged {
  expr base;
  std::vector<suffix> suffixes;
};

// --- statements ---
struct let_stmt : tagged {
  token keyword;  // let or var
  name target;
  expr value;
};
struct assign_stmt : tagged {
  name target;
  std::vector<subscript> subscripts;
  expr value;
};
struct target_stmt : tagged {
  std::string op;
  expr value;
};
struct sample_stmt : tagged {
  expr lhs;
  token tilde;
  call dist;
};
// Stands where a statement failed to parse; the error is already reported.
struct bad_stmt : tagged {};
struct plate_stmt;
struct for_stmt;
struct statement : x3::variant<let_stmt, target_stmt, sample_stmt, x3::forward_ast<plate_stmt>,
                               assign_stmt, x3::forward_ast<for_stmt>, bad_stmt> {
  using base_type::base_type;
  using base_type::operator=;
};
struct plate_stmt : tagged {
  name index;
  name dim;
  boost::optional<token> subsample;
  std::vector<statement> body;
};
struct for_stmt : tagged {
  name index;
  expr from;  // not begin/end: those are tagged's positions
  expr to;
  std::vector<statement> body;
};

// --- declarations and blocks ---
struct constraint : tagged {
  name key;
  boost::optional<expr> value;
};
struct type_expr : tagged {
  name base;
  std::vector<constraint> constraints;
  std::vector<expr> shape;
};
struct init_clause : tagged {
  token keyword;
  expr value;
};
struct dim_decl : tagged {
  name id;
  boost::optional<expr> value;
};
struct var_decl : tagged {
  name id;
  type_expr type;
  boost::optional<init_clause> init;
};
struct bad_decl : tagged {};
struct dim_item : x3::variant<dim_decl, bad_decl> {
  using base_type::base_type;
  using base_type::operator=;
};
struct var_item : x3::variant<var_decl, bad_decl> {
  using base_type::base_type;
  using base_type::operator=;
};

struct model_decl : tagged {
  token keyword;
  name id;
};
struct dims_block : tagged {
  token keyword;
  std::vector<dim_item> items;
};
struct vars_block : tagged {  // data, param, latent
  token keyword;
  std::vector<var_item> items;
};
struct stmts_block : tagged {  // model, guide
  token keyword;
  std::vector<statement> items;
};
struct fn_def : tagged {
  token keyword;
  name id;
  std::vector<name> params;
  expr body;
};
struct bad_item : tagged {};
struct item : x3::variant<model_decl, dims_block, vars_block, stmts_block, fn_def, bad_item> {
  using base_type::base_type;
  using base_type::operator=;
};

}  // namespace vmc::parse::x3ast

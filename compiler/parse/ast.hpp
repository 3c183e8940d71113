// The abstract syntax tree of a .vmodel file: what the parser produces and sema reads.
// Every node carries the Span of the text it came from. Nothing here knows about Spirit X3.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "support/source.hpp"

namespace vmc::ast {

struct Ident {
  std::string name;
  Span span;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class UnaryOp { Neg };
// The binary operators, tightest-binding first within each precedence level.
enum class BinaryOp { Pow, ElemMul, ElemDiv, Mul, Div, Add, Sub, Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual };
// The comparisons: 1 where they hold, 0 elsewhere (int).
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Less; }
const char* spelling(BinaryOp op);

struct Number {
  std::string text;  // as written, for printing
  double value = 0;
  bool is_integer = false;  // no '.' and no exponent
};
struct Name {
  std::string name;
};
struct Unary {
  UnaryOp op;
  ExprPtr operand;
};
struct Binary {
  BinaryOp op;
  Span op_span;
  ExprPtr lhs, rhs;
};
struct Call {
  Ident callee;
  std::vector<ExprPtr> args;
  // Stan's density form `normal_lpdf(y | mu, sigma)`: the arguments before the `|` (its span),
  // then the parameters after it; 0 and an empty span for an ordinary call.
  std::size_t before_bar = 0;
  Span bar_span;
  bool has_bar() const { return bar_span.end > bar_span.begin; }
};
// One subscript: an index `e`, or a slice `lo:hi` where either bound may be absent.
struct Subscript {
  Span span;
  bool is_slice = false;
  ExprPtr lo;  // the index itself when !is_slice
  ExprPtr hi;
};
struct Index {
  ExprPtr base;
  std::vector<Subscript> subscripts;
};
struct Transpose {
  ExprPtr operand;
};

struct Expr {
  Span span;
  std::variant<Number, Name, Unary, Binary, Call, Index, Transpose> node;

  template <class T> const T* as() const { return std::get_if<T>(&node); }
  template <class T> T* as() { return std::get_if<T>(&node); }
};

// --- statements (model and guide blocks) ---

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;

struct Let {  // let NAME = value;  or  var NAME = value;
  Ident name;
  ExprPtr value;
  bool is_var = false;  // a mutable local: assignments give it its next values
};
struct Assign {  // NAME = value;  or  NAME[i, ...] = value;  (NAME a var)
  Ident name;
  std::vector<Subscript> subscripts;  // the elements assigned; none: all of it
  ExprPtr value;
};
struct Sample {  // lhs ~ dist(args)
  ExprPtr lhs;
  Span tilde_span;
  Call dist;
  Span dist_span;
};
struct TargetIncrement {  // target += value
  ExprPtr value;
};
struct Plate {
  Ident index;
  Ident dim;
  bool subsample = false;
  Span subsample_span;
  std::vector<StmtPtr> body;
};

// for index in begin:end { body }: the body for index = begin … end − 1, in order.
struct For {
  Ident index;
  ExprPtr begin, end;
  std::vector<StmtPtr> body;
};

struct Stmt {
  Span span;
  std::variant<Let, Sample, TargetIncrement, Plate, Assign, For> node;

  template <class T> const T* as() const { return std::get_if<T>(&node); }
  template <class T> T* as() { return std::get_if<T>(&node); }
};

// --- declarations ---

struct Constraint {
  Ident key;          // lower, upper or cholesky
  ExprPtr value;      // null for cholesky
  Span span;
};

struct TypeExpr {
  Ident base;  // real or int
  std::vector<Constraint> constraints;
  std::vector<ExprPtr> shape;  // empty for a scalar
  Span span;
};

struct DimDecl {
  Ident name;
  ExprPtr value;  // the default, or null when inferred from data
  Span span;
};

struct VarDecl {
  Ident name;
  TypeExpr type;
  ExprPtr init;  // param blocks only; null when absent
  Span init_span;
  Span span;
};

struct FnDef {
  Ident name;
  std::vector<Ident> params;
  ExprPtr body;
  Span span;
};

enum class BlockKind { Dims, Data, Param, Latent, Model, Guide, Generated };
const char* spelling(BlockKind kind);

struct Block {
  BlockKind kind;
  Span keyword_span;  // the block's keyword, for "duplicate block" messages
  Span span;
  std::vector<DimDecl> dims;        // BlockKind::Dims
  std::vector<VarDecl> vars;        // Data, Param, Latent
  std::vector<StmtPtr> statements;  // Model, Guide, Generated
};

struct Program {
  std::optional<Ident> model_name;  // the first `model NAME;`
  std::vector<Ident> extra_model_names;  // any later ones: an error sema reports
  std::vector<Block> blocks;  // in source order
  std::vector<FnDef> functions;
};

// Calls f(e) for `e` and each expression inside it (operands, arguments, indexed values and
// subscripts), parents before children; iterative, so a 100,000-deep expression is fine. `f`
// returns false to skip what is inside the expression it was given.
template <class F>
void for_each_expr(const Expr& root, F&& f) {
  std::vector<const Expr*> stack{&root};
  while (!stack.empty()) {
    const Expr* e = stack.back();
    stack.pop_back();
    if (!f(*e)) continue;
    auto push = [&](const ExprPtr& x) {
      if (x) stack.push_back(x.get());
    };
    if (const auto* u = e->as<Unary>()) push(u->operand);
    else if (const auto* b = e->as<Binary>()) push(b->rhs), push(b->lhs);
    else if (const auto* c = e->as<Call>()) {
      for (auto it = c->args.rbegin(); it != c->args.rend(); ++it) push(*it);
    } else if (const auto* ix = e->as<Index>()) {
      for (auto it = ix->subscripts.rbegin(); it != ix->subscripts.rend(); ++it) push(it->hi), push(it->lo);
      push(ix->base);
    } else if (const auto* t = e->as<Transpose>()) {
      push(t->operand);
    }
  }
}

}  // namespace vmc::ast

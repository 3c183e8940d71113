#include "sema/const_eval.hpp"

#include <cmath>
#include <numbers>

#include "ir/scalar.hpp"
#include "sema/builtins.hpp"
#include "support/suggest.hpp"

namespace vmc::sema {
namespace {

class Evaluator {
 public:
  Evaluator(const Analyzer& a, const Scope* scope, Reporter* report, const std::string& what)
      : a_(a), scope_(scope), report_(report), what_(what) {}

  std::optional<Extent> extent(const ast::Expr& e) {
    if (const auto* n = e.as<ast::Number>()) {
      if (!n->is_integer) return fail(e.span, what_ + " must be an integer, but " + n->text + " is not");
      // Beyond 2^53 the literal's double no longer holds its exact value.
      if (n->value > 9.0e15) return fail(e.span, "extent " + n->text + " is too large");
      return Extent::constant(std::int64_t(n->value));
    }
    if (const auto* n = e.as<ast::Name>()) {
      if (n->name == "pi") return fail(e.span, what_ + " must be an integer, but 'pi' is not");
      const Symbol* sym = lookup(a_, scope_, n->name);
      if (!sym) return fail(e.span, "unknown dim '" + n->name + "'" + did_you_mean(n->name, dims()));
      if (sym->kind != SymbolKind::Dim)
        return fail(e.span, what_ + " may use only integers and dims, but '" + n->name + "' is " +
                                with_article(sym->kind));
      return a_.dim_extent(n->name);
    }
    if (const auto* u = e.as<ast::Unary>()) {
      auto v = extent(*u->operand);
      if (!v) return std::nullopt;
      return -*v;
    }
    const std::string ops = what_ + " may use only integers, dims, '+', '-' and '*'";
    if (const auto* b = e.as<ast::Binary>()) {
      bool ok = b->op == ast::BinaryOp::Add || b->op == ast::BinaryOp::Sub ||
                b->op == ast::BinaryOp::Mul;
      if (!ok) return fail(b->op_span, ops);
      auto l = extent(*b->lhs);
      auto r = extent(*b->rhs);
      if (!l || !r) return std::nullopt;
      if (b->op == ast::BinaryOp::Add) return *l + *r;
      if (b->op == ast::BinaryOp::Sub) return *l - *r;
      return *l * *r;
    }
    return fail(e.span, ops);
  }

  std::optional<double> constant(const ast::Expr& e) {
    if (const auto* n = e.as<ast::Number>()) return n->value;
    if (const auto* n = e.as<ast::Name>()) {
      if (n->name == "pi") return std::numbers::pi;
      const Symbol* sym = lookup(a_, scope_, n->name);
      if (!sym) {
        return fail(e.span, "unknown name '" + n->name + "'" +
                                did_you_mean(n->name, visible_names(a_, scope_)));
      }
      if (sym->kind != SymbolKind::Dim) return not_constant(e, "'" + n->name + "' is " + with_article(sym->kind));
      auto it = a_.dim_values.find(n->name);
      if (it == a_.dim_values.end()) return not_constant(e, "dim '" + n->name + "' has no value here");
      return double(it->second);
    }
    if (const auto* u = e.as<ast::Unary>()) {
      auto v = constant(*u->operand);
      if (!v) return std::nullopt;
      return -*v;
    }
    if (const auto* b = e.as<ast::Binary>()) {
      auto l = constant(*b->lhs);
      auto r = constant(*b->rhs);
      if (!l || !r) return std::nullopt;
      return apply(b->op, *l, *r);
    }
    if (const auto* c = e.as<ast::Call>()) return call(e, *c);
    return not_constant(e, quote(source_text(e.span)) + " is not");
  }

 private:
  std::vector<std::string> dims() const {
    std::vector<std::string> names;
    for (const auto& [name, sym] : a_.globals) {
      if (sym.kind == SymbolKind::Dim) names.push_back(name);
    }
    return names;
  }

  static double apply(ast::BinaryOp op, double l, double r) {
    switch (op) {
      case ast::BinaryOp::Pow: return std::pow(l, r);
      case ast::BinaryOp::ElemMul:
      case ast::BinaryOp::Mul: return l * r;
      case ast::BinaryOp::ElemDiv:
      case ast::BinaryOp::Div: return l / r;
      case ast::BinaryOp::Add: return l + r;
      case ast::BinaryOp::Sub: return l - r;
      case ast::BinaryOp::Less: return l < r ? 1 : 0;
      case ast::BinaryOp::LessEqual: return l <= r ? 1 : 0;
      case ast::BinaryOp::Greater: return l > r ? 1 : 0;
      case ast::BinaryOp::GreaterEqual: return l >= r ? 1 : 0;
      case ast::BinaryOp::Equal: return l == r ? 1 : 0;
      case ast::BinaryOp::NotEqual: return l != r ? 1 : 0;
    }
    return l;
  }

  // Builtins fold through the interpreter's scalar values (ir/scalar.hpp); a reduction of a
  // scalar is that scalar. Anything else called is not constant.
  std::optional<double> call(const ast::Expr& e, const ast::Call& c) {
    const Builtin* b = find_builtin(c.callee.name);
    if (b && b->rule == BuiltinRule::Elementwise && b->value && static_cast<int>(c.args.size()) == b->arity) {
      std::vector<double> args;
      for (const ast::ExprPtr& arg : c.args) {
        auto v = constant(*arg);
        if (!v) return std::nullopt;
        args.push_back(*v);
      }
      return b->value(args);
    }
    std::optional<ir::Op> op = b ? b->op(int(c.args.size())) : std::nullopt;
    ir::Category category = op ? ir::info(*op).category : ir::Category::Leaf;
    bool folds = category == ir::Category::Unary || category == ir::Category::Binary ||
                 category == ir::Category::Reduce;
    if (!folds) return not_constant(e, quote(source_text(e.span)) + " is not");
    std::vector<double> args;
    for (const ast::ExprPtr& arg : c.args) {
      auto v = constant(*arg);
      if (!v) return std::nullopt;
      args.push_back(*v);
    }
    if (category == ir::Category::Unary) return ir::unary_value(*op, args[0]);
    if (category == ir::Category::Binary) return ir::binary_value(*op, args[0], args[1]);
    return args[0];
  }

  std::nullopt_t not_constant(const ast::Expr& e, const std::string& why) {
    return fail(e.span, what_ + " must be a constant, but " + why);
  }

  std::nullopt_t fail(Span at, const std::string& message) {
    if (report_) report_->error(at, message);
    return std::nullopt;
  }

  const Analyzer& a_;
  const Scope* scope_;
  Reporter* report_;
  const std::string& what_;
};

}  // namespace

std::optional<Extent> eval_extent(const Analyzer& a, const Scope* scope, const ast::Expr& e,
                                  Reporter* report, const std::string& what) {
  try {
    return Evaluator(a, scope, report, what).extent(e);
  } catch (const ExtentOverflow&) {
    if (report) report->error(e.span, "extent " + quote(source_text(e.span)) + " is too large");
    return std::nullopt;
  }
}

std::optional<double> eval_constant(const Analyzer& a, const Scope* scope, const ast::Expr& e,
                                    Reporter* report, const std::string& what) {
  std::optional<double> v = Evaluator(a, scope, report, what).constant(e);
  if (v && !std::isfinite(*v)) {
    if (report) {
      report->error(e.span, what + " is not finite: " + quote(source_text(e.span)) + " is " +
                                format_number(*v));
    }
    return std::nullopt;
  }
  return v;
}

}  // namespace vmc::sema

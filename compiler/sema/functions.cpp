// fn definitions: names, parameters, recursion, and a first check of each body with untyped
// parameters, which reports the errors that do not depend on a call (unknown names, arity).
// Bodies are type-checked again at each call, with the arguments' types (check_expr.cpp).
#include <functional>

#include "sema/builtins.hpp"
#include "sema/check_expr.hpp"

namespace vmc::sema {
namespace {

// Calls `visit` on every call inside `e`.
void for_each_call(const ast::Expr& e, const std::function<void(const ast::Expr&, const ast::Call&)>& visit) {
  auto sub = [&](const ast::ExprPtr& x) {
    if (x) for_each_call(*x, visit);
  };
  if (const auto* c = e.as<ast::Call>()) {
    visit(e, *c);
    for (const ast::ExprPtr& arg : c->args) sub(arg);
  } else if (const auto* u = e.as<ast::Unary>()) {
    sub(u->operand);
  } else if (const auto* b = e.as<ast::Binary>()) {
    sub(b->lhs);
    sub(b->rhs);
  } else if (const auto* ix = e.as<ast::Index>()) {
    sub(ix->base);
    for (const ast::Subscript& s : ix->subscripts) {
      sub(s.lo);
      sub(s.hi);
    }
  } else if (const auto* t = e.as<ast::Transpose>()) {
    sub(t->operand);
  }
}

class FnChecker {
 public:
  explicit FnChecker(Analyzer& a) : a_(a) {}

  void run() {
    // In source order, so the errors are too; a second fn of one name was reported.
    std::vector<const ast::FnDef*> fns;
    for (const ast::FnDef& fn : a_.program.functions) {
      auto it = a_.model->functions.find(fn.name.name);
      if (it != a_.model->functions.end() && it->second == &fn) fns.push_back(&fn);
    }
    for (const ast::FnDef* fn : fns) check_signature(*fn);
    for (const ast::FnDef* fn : fns) {
      if (!state_.count(fn->name.name)) find_cycles(*fn);
    }
    for (const ast::FnDef* fn : fns) check_body(*fn);
  }

 private:
  enum class Visit { Active, Done };

  void check_signature(const ast::FnDef& fn) {
    const std::string& name = fn.name.name;
    if (find_builtin(name)) {
      a_.report.error(fn.name.span, "fn '" + name + "' has the name of a builtin function");
    } else if (dist::find(name)) {
      a_.report.error(fn.name.span, "fn '" + name + "' has the name of a distribution");
    } else if (auto f = dist::density_function(name); f && f->dist) {
      a_.report.error(fn.name.span, "fn '" + name + "' has the name of a density function");
    }
    std::map<std::string, Span> seen;
    for (const ast::Ident& p : fn.params) {
      auto [it, first] = seen.emplace(p.name, p.span);
      if (!first) {
        a_.report.error(p.span, "parameter '" + p.name + "' of fn '" + name + "' is declared twice",
                        {{it->second, "first '" + p.name + "' is here"}});
        a_.untyped_fns.insert(name);
      } else if (const Symbol* g = a_.global(p.name)) {
        a_.report.error(p.span, "parameter '" + p.name + "' of fn '" + name + "' shadows " +
                                    describe(g->kind) + " '" + p.name + "'; choose another name",
                        {{g->span, "'" + p.name + "' is declared here"}});
      }
    }
  }

  // Depth-first search of the call graph; a call to a fn still on the stack closes a cycle.
  void find_cycles(const ast::FnDef& fn) {
    state_[fn.name.name] = Visit::Active;
    stack_.push_back(&fn);
    for_each_call(*fn.body, [&](const ast::Expr& e, const ast::Call& c) {
      auto callee = a_.model->functions.find(c.callee.name);
      if (callee == a_.model->functions.end()) return;
      auto st = state_.find(c.callee.name);
      if (st == state_.end()) {
        calls_.push_back(&e);
        find_cycles(*callee->second);
        calls_.pop_back();
      } else if (st->second == Visit::Active) {
        report_cycle(e, c.callee.name);
      }
    });
    stack_.pop_back();
    state_[fn.name.name] = Visit::Done;
  }

  void report_cycle(const ast::Expr& closing, const std::string& target) {
    std::size_t start = 0;
    while (stack_[start]->name.name != target) ++start;
    std::string path;
    std::vector<Note> notes;
    for (std::size_t k = start; k < stack_.size(); ++k) {
      path += "'" + stack_[k]->name.name + "' -> ";
      a_.untyped_fns.insert(stack_[k]->name.name);
      if (k + 1 < stack_.size()) {
        notes.push_back({calls_[k]->span, "'" + stack_[k]->name.name + "' calls '" +
                                              stack_[k + 1]->name.name + "' here"});
      }
    }
    path += "'" + target + "'";
    a_.report.error(closing.span, "recursive call: " + path +
                                      "; fns cannot call themselves, directly or through others",
                    notes);
  }

  void check_body(const ast::FnDef& fn) {
    Scope scope;
    scope.fn = &fn;
    Frame& params = scope.frames.emplace_back();
    for (std::size_t i = 0; i < fn.params.size(); ++i) {
      Symbol s{SymbolKind::FnParam, fn.params[i].span};
      s.fn_param = i;
      params.names.emplace(fn.params[i].name, s);
    }
    ExprChecker(a_, scope, false).check(*fn.body);
  }

  Analyzer& a_;
  std::map<std::string, Visit> state_;
  std::vector<const ast::FnDef*> stack_;
  std::vector<const ast::Expr*> calls_;  // calls_[k]: the call from stack_[k] to stack_[k + 1]
};

}  // namespace

void check_functions(Analyzer& a) { FnChecker(a).run(); }

}  // namespace vmc::sema

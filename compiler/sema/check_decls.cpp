// Declarations of data, params and latents: their types (kind, constraint, shape), the data
// given for them, and params' inits.
#include <algorithm>
#include <cmath>

#include "sema/analyzer.hpp"
#include "sema/builtins.hpp"
#include "sema/check_expr.hpp"
#include "sema/const_eval.hpp"
#include "support/suggest.hpp"

namespace vmc::sema {
namespace {

const std::vector<std::string> kConstraintKeys = {"lower",   "upper",         "cholesky", "ordered",
                                                  "positive_ordered", "simplex", "cholesky_corr"};

Role role_of(ast::BlockKind kind) {
  return kind == ast::BlockKind::Data    ? Role::Data
         : kind == ast::BlockKind::Param ? Role::Param
                                         : Role::Latent;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

class DeclChecker {
 public:
  DeclChecker(Analyzer& a, const ast::VarDecl& decl, Role role) : a_(a), d_(decl), role_(role) {}

  Variable run() {
    Variable v;
    v.name = d_.name.name;
    v.role = role_;
    v.decl = &d_;
    v.type.kind = d_.type.base.name == "int" ? Kind::Int : Kind::Real;
    // A declaration in error types its uses as errors: they are not checked again.
    bool ok = true;
    if (v.type.is_int() && role_ != Role::Data) {
      a_.report.error(d_.type.base.span, std::string(to_string(role_)) + " '" + name() +
                                             "' cannot be int; params and latents are real");
      ok = false;
    }
    bool shape_ok = check_shape(v.type);
    ok &= shape_ok && check_constraints(v.type);
    if (role_ == Role::Data && shape_ok) check_given_data(v.type);
    if (d_.init && role_ != Role::Param) {
      a_.report.error(d_.init_span, "'init' is only for params; '" + name() + "' is " +
                                        (role_ == Role::Data ? "data" : "a latent"));
    } else if (role_ == Role::Param) {
      v.init = check_init(v.type.constraint);
    }
    if (!ok) v.type = Type::error();
    return v;
  }

 private:
  const std::string& name() const { return d_.name.name; }

  bool check_shape(Type& t) {
    bool ok = true;
    for (std::size_t k = 0; k < d_.type.shape.size(); ++k) {
      const ast::Expr& e = *d_.type.shape[k];
      std::optional<Extent> extent = eval_extent(a_, nullptr, e, &a_.report, "the shape of '" + name() + "'");
      std::optional<std::int64_t> value = extent ? extent->constant_value() : std::nullopt;
      if (value && *value < 1) {
        std::string text = source_text(e.span);
        std::string shown = text == std::to_string(*value) ? "" : ", " + text + ",";
        a_.report.error(e.span, "the " + ordinal(k) + " extent of '" + name() + "'" + shown +
                                    " is " + std::to_string(*value) + "; extents must be positive");
        extent.reset();
      }
      if (extent) t.shape.push_back(*extent);
      else ok = false;
    }
    return ok;
  }

  // Compares the declared shape with the data given for it; the extents that inferred a dim
  // were compared when the dims were resolved.
  void check_given_data(const Type& t) {
    auto given = a_.options.data_shapes.find(name());
    if (given == a_.options.data_shapes.end()) return;
    bool agree = given->second.size() == t.shape.size();
    for (std::size_t k = 0; agree && k < t.shape.size(); ++k) {
      const auto* n = d_.type.shape[k]->as<ast::Name>();
      const Symbol* s = n ? a_.global(n->name) : nullptr;
      if (s && s->dim && !s->dim->value) continue;
      std::optional<std::int64_t> declared = t.shape[k].constant_value();
      agree = !declared || *declared == given->second[k];
    }
    if (!agree) {
      a_.report.error(d_.name.span, "the data given for '" + name() + "' has shape " +
                                        shape_text(given->second) + ", but '" + name() +
                                        "' is declared " + to_string(t));
    }
  }

  // Returns whether the constraints are well-formed.
  bool check_constraints(Type& t) {
    std::size_t errors = a_.report.errors();
    std::map<std::string, Span> seen;
    Constraint& c = t.constraint;
    for (const ast::Constraint& k : d_.type.constraints) {
      const std::string& key = k.key.name;
      if (std::find(kConstraintKeys.begin(), kConstraintKeys.end(), key) == kConstraintKeys.end()) {
        a_.report.error(k.key.span, "unknown constraint '" + key + "'" +
                                        did_you_mean(key, kConstraintKeys) +
                                        " (constraints are lower, upper, cholesky, ordered, positive_ordered, simplex and cholesky_corr)");
        continue;
      }
      auto [it, first] = seen.emplace(key, k.span);
      if (!first) {
        a_.report.error(k.span, "constraint '" + key + "' is given twice",
                        {{it->second, "first '" + key + "' is here"}});
        continue;
      }
      if (key == "cholesky" || key == "ordered" || key == "positive_ordered" || key == "simplex" || key == "cholesky_corr") {
        if (k.value) a_.report.error(k.value->span, "'" + key + "' takes no value");
        (key == "cholesky"        ? c.cholesky
         : key == "ordered"       ? c.ordered
         : key == "simplex"       ? c.simplex
         : key == "cholesky_corr" ? c.cholesky_corr
                                  : c.positive_ordered) = true;
        continue;
      }
      if (!k.value) {
        a_.report.error(k.span, "'" + key + "' needs a value, as in " + key + "=0");
        continue;
      }
      std::optional<double> bound = eval_constant(a_, nullptr, *k.value, nullptr, "");
      // A latent's bound may be an expression of data and earlier latents, checked once every
      // declaration has its type (check_bound_expressions).
      if (!bound && role_ == Role::Latent && reads_variable(*k.value)) {
        (key == "lower" ? c.lower_expr : c.upper_expr) = k.value.get();
        continue;
      }
      if (!bound && reads_variable(*k.value)) {
        a_.report.error(k.value->span, "'" + key + "' of " + std::string(to_string(role_)) + " '" + name() +
                                           "' must be a constant: only a latent's bounds may be expressions of data "
                                           "and other latents");
        continue;
      }
      if (!bound) bound = eval_constant(a_, nullptr, *k.value, &a_.report, "'" + key + "' of '" + name() + "'");
      (key == "lower" ? c.lower : c.upper) = bound;
    }
    if (c.lower && c.upper && !(*c.lower < *c.upper)) {
      a_.report.error(d_.type.span, "the bounds of '" + name() + "' are empty: lower=" +
                                        format_number(*c.lower) + " is not below upper=" +
                                        format_number(*c.upper));
    }
    for (const char* key : {"ordered", "positive_ordered", "simplex"}) {
      if (!seen.count(key)) continue;
      if (seen.size() > 1) {
        a_.report.error(seen[key], "'" + std::string(key) + "' cannot be combined with another constraint");
      } else if (t.is_int() || t.rank() != 1 || t.row) {
        a_.report.error(seen[key], "'" + std::string(key) + "' needs a real vector real[K], but '" + name() + "' is " +
                                       to_string(t.value()));
      } else if (role_ != Role::Latent) {
        a_.report.error(seen[key], "'" + std::string(key) + "' is for latents only yet, but '" + name() + "' is " +
                                       (role_ == Role::Param ? "a param" : "data"));
      } else if (std::string(key) == "simplex" && t.shape[0].constant_value() && *t.shape[0].constant_value() < 2) {
        a_.report.error(seen[key], "'simplex' needs at least 2 elements (a simplex of 1 is the constant 1), but '" +
                                       name() + "' is " + to_string(t.value()));
      }
    }
    if (seen.count("cholesky_corr")) {
      Span at = seen["cholesky_corr"];
      if (seen.size() > 1) {
        a_.report.error(at, "'cholesky_corr' cannot be combined with another constraint");
      } else if (t.is_int() || t.rank() != 2 || !(t.shape[0] == t.shape[1])) {
        a_.report.error(at, "'cholesky_corr' needs a square real matrix real[K, K], but '" + name() + "' is " +
                                to_string(t.value()));
      } else if (role_ != Role::Latent) {
        a_.report.error(at, "'cholesky_corr' is for latents only yet, but '" + name() + "' is " +
                                (role_ == Role::Param ? "a param" : "data"));
      } else if (t.shape[0].constant_value() && *t.shape[0].constant_value() < 2) {
        a_.report.error(at, "'cholesky_corr' needs K of at least 2 (a 1 x 1 correlation is the constant 1), but '" +
                                name() + "' is " + to_string(t.value()));
      }
    }
    if (c.cholesky && (seen.count("lower") || seen.count("upper"))) {
      a_.report.error(seen["cholesky"], "'cholesky' cannot be combined with lower or upper");
    } else if (c.cholesky && (t.is_int() || t.rank() != 2 || !(t.shape[0] == t.shape[1]))) {
      a_.report.error(seen["cholesky"], "'cholesky' needs a square real matrix real[K, K], but '" +
                                            name() + "' is " + to_string(t.value()));
    }
    return a_.report.errors() == errors;
  }

  // Whether `e` names data, a param or a latent (an expression bound, not a misspelt constant).
  bool reads_variable(const ast::Expr& root) const {
    bool found = false;
    ast::for_each_expr(root, [&](const ast::Expr& e) {
      const auto* n = e.as<ast::Name>();
      const Symbol* s = n ? a_.global(n->name) : nullptr;
      found = found || (s && (s->kind == SymbolKind::Data || s->kind == SymbolKind::Latent ||
                              s->kind == SymbolKind::Param));
      return !found;
    });
    return found;
  }

  ParamInit check_init(const Constraint& c) {
    ParamInit init;
    init.dist = dist::find("normal");
    init.args = {0, 0.01};
    if (!d_.init) return init;
    const ast::Expr& e = *d_.init;
    const std::string what = "the init of '" + name() + "'";
    if (const auto* call = e.as<ast::Call>()) {
      const std::string& callee = call->callee.name;
      if (const Distribution* d = dist::find(callee)) {
        return init_distribution(e, *call, *d);
      }
      if (!find_builtin(callee)) {
        const Symbol* fn = a_.global(callee);
        if (fn && fn->kind == SymbolKind::Fn) {
          a_.report.error(call->callee.span, what + " must be a constant or a distribution, but '" +
                                                 callee + "' is a fn");
        } else {
          a_.report.error(call->callee.span, "unknown distribution '" + callee + "' in " + what +
                                                 dist::unknown_name_hint(callee));
        }
        return init;
      }
    }
    std::optional<double> v = eval_constant(a_, nullptr, e, &a_.report, what);
    if (!v) return init;
    std::string support = to_string(c);
    support = support.empty() ? "" : support.substr(1, support.size() - 2);
    std::string value = format_number(*v);
    if (c.cholesky) {
      a_.report.error(e.span, "a cholesky factor cannot start as a constant; use a distribution "
                              "such as 'init normal(0, 0.1)'");
    } else if ((c.lower && *v == *c.lower) || (c.upper && *v == *c.upper)) {
      a_.report.error(e.span, "init " + value + " is on the boundary of the support (" + support +
                                  "); use a value inside it");
    } else if ((c.lower && *v < *c.lower) || (c.upper && *v > *c.upper)) {
      a_.report.error(e.span, "init " + value + " is outside the support (" + support + ") of '" +
                                  name() + "'");
    }
    init.kind = ParamInit::Kind::Constant;
    init.value = *v;
    return init;
  }

  ParamInit init_distribution(const ast::Expr& e, const ast::Call& call, const Distribution& dist) {
    ParamInit init{ParamInit::Kind::Distribution, 0, &dist, {}};
    if (!dist.init.fn) {
      a_.report.error(call.callee.span, quote(dist.name) +
                                            " cannot draw an init; use a scalar continuous "
                                            "distribution such as normal");
      return init;
    }
    if (call.args.size() != dist.arity()) {
      a_.report.error(e.span, quote(dist.name) + " takes " +
                                  count(dist.arity(), "argument", "arguments") + " (" +
                                  dist.param_list() + "), but " + std::to_string(call.args.size()) +
                                  (call.args.size() == 1 ? " was" : " were") + " given");
      return init;
    }
    for (const ast::ExprPtr& arg : call.args) {
      std::optional<double> v =
          eval_constant(a_, nullptr, *arg, &a_.report, "the init of '" + name() + "'");
      init.args.push_back(v.value_or(NAN));
    }
    if (dist.support == Support::Interval && !(init.args[0] < init.args[1]) &&
        !std::isnan(init.args[0] + init.args[1])) {
      a_.report.error(e.span, quote(dist.name) + " needs lo < hi, but its bounds are " +
                                  format_number(init.args[0]) + " and " + format_number(init.args[1]));
    }
    return init;
  }

  Analyzer& a_;
  const ast::VarDecl& d_;
  Role role_;
};

}  // namespace

void check_declarations(Analyzer& a) {
  for (const ast::Block& b : a.program.blocks) {
    if (b.kind != ast::BlockKind::Data && b.kind != ast::BlockKind::Param &&
        b.kind != ast::BlockKind::Latent)
      continue;
    Role role = role_of(b.kind);
    for (const ast::VarDecl& decl : b.vars) {
      Variable v = DeclChecker(a, decl, role).run();
      // A second declaration of a name was reported; only the first one counts.
      Symbol& s = a.globals.at(decl.name.name);
      if (s.span.begin != decl.name.span.begin) continue;
      s.type = v.type;
      std::vector<Variable>& list = role == Role::Data    ? a.model->data
                                    : role == Role::Param ? a.model->params
                                                          : a.model->latents;
      list.push_back(std::move(v));
    }
  }
}

void check_bound_expressions(Analyzer& a) {
  for (std::size_t k = 0; k < a.model->latents.size(); ++k) {
    Variable& v = a.model->latents[k];
    Constraint& c = v.type.constraint;
    if (!c.has_expression()) continue;
    const std::string& name = v.name;
    if (a.model->guide_block) {
      const ast::Expr* e = c.lower_expr ? c.lower_expr : c.upper_expr;
      a.report.error(e->span, "latent '" + name + "' has a bound that depends on other values ('" + source_text(e->span) +
                                  "'): no guide family has such a support yet; use an automatic guide (no guide "
                                  "block, and vmc fit --guide meanfield, fullrank or lowrank:R)");
    }
    for (const ast::Expr* e : {c.lower_expr, c.upper_expr}) {
      if (!e) continue;
      Scope scope;
      scope.block = ast::BlockKind::Model;
      scope.frames.emplace_back();
      Type t = ExprChecker(a, scope, true).check(*e);
      if (t.is_error()) continue;
      std::string what = "the bound '" + source_text(e->span) + "' of latent '" + name + "'";
      if (!t.plates.empty() || !(t.is_scalar() || t.same_shape(v.type))) {
        a.report.error(e->span, what + " is " + to_string(t.value()) + "; a bound is a scalar or has the latent's "
                                       "shape (" + to_string(v.type.value()) + ")");
        continue;
      }
      // It may read data and the latents declared before this one (drawn first), not params.
      ast::for_each_expr(*e, [&](const ast::Expr& x) {
        auto it = x.as<ast::Name>() ? a.model->names.find(&x) : a.model->names.end();
        if (it == a.model->names.end()) return true;
        const NameRef& ref = it->second;
        if (ref.kind == NameKind::Param) {
          a.report.error(x.span, what + " reads param '" + source_text(x.span) + "'; bounds are expressions of "
                                        "data and of latents declared before '" + name + "'");
        } else if (ref.kind == NameKind::Latent &&
                   static_cast<std::size_t>(ref.variable - a.model->latents.data()) >= k) {
          a.report.error(x.span, what + " reads latent '" + ref.variable->name + "', which is not declared "
                                        "before '" + name + "': declare it first (it is drawn first)");
        }
        return true;
      });
    }
    a.globals.at(name).type.constraint = c;
  }
}

}  // namespace vmc::sema

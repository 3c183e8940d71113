// `LHS ~ dist(ARGS);`: what may be sampled where, the distribution's arity and argument shapes
// (its table entry's shape rule), and the support of the left side.
#include "sema/check_expr.hpp"
#include "sema/const_eval.hpp"
#include "support/suggest.hpp"

namespace vmc::sema {
namespace {

// The variable a `~` samples, as its left side names it.
struct Target {
  bool valid = false;         // may be type-checked as the left side
  bool unresolved = false;    // an unknown name: its check reports it
  bool names_latent = false;  // a '~' on this latent, even if malformed: it counts as its '~'
  std::string name;
  Role role = Role::Data;
  std::vector<const ast::Plate*> plates;  // the plates whose indices subscript it
};

class SampleChecker {
 public:
  SampleChecker(Analyzer& a, Scope& scope, const ast::Sample& s) : a_(a), scope_(scope), s_(s) {}

  void run() {
    Target target = resolve_target();
    ExprChecker exprs(a_, scope_, true);
    Type lhs = target.valid || target.unresolved ? exprs.check_target(*s_.lhs) : Type::error();
    const Distribution* dist = resolve_distribution();
    std::vector<Type> args;
    for (const ast::ExprPtr& arg : s_.dist.args) args.push_back(exprs.check(*arg));
    if (target.names_latent || target.valid) register_site(target, dist);
    if (!dist || !arity_ok(*dist)) return;
    std::optional<std::pair<double, double>> bounds = interval_bounds(*dist);
    if (!target.valid || lhs.is_error()) return;
    check_arguments(*dist, lhs, args);
    check_support(*dist, target, lhs, bounds);
  }

 private:
  bool in_guide() const { return scope_.block == ast::BlockKind::Guide; }
  std::string lhs_text() const { return quote(source_text(s_.lhs->span)); }
  std::string dist_name() const { return s_.dist.callee.name; }

  Target resolve_target() {
    Target t;
    const ast::Expr* base = s_.lhs.get();
    static const std::vector<ast::Subscript> kNone;
    const std::vector<ast::Subscript>* subs = &kNone;
    if (const auto* ix = base->as<ast::Index>()) {
      base = ix->base.get();
      subs = &ix->subscripts;
    }
    const auto* name = base->as<ast::Name>();
    const Symbol* sym = name ? lookup(a_, &scope_, name->name) : nullptr;
    if (name && !sym && name->name != "pi") {
      t.unresolved = true;
      return t;
    }
    if (!sym || sym->kind == SymbolKind::Fn || sym->kind == SymbolKind::FnParam) {
      a_.report.error(s_.lhs->span, "the left side of '~' must be data, a latent or a param, "
                                    "optionally indexed by plate indices");
      return t;
    }
    t.name = name->name;
    if (sym->kind != SymbolKind::Data && sym->kind != SymbolKind::Param &&
        sym->kind != SymbolKind::Latent) {
      a_.report.error(base->span, "'" + t.name + "' is " + with_article(sym->kind) +
                                      "; '~' needs data, a latent or a param");
      return t;
    }
    t.role = sym->kind == SymbolKind::Data    ? Role::Data
             : sym->kind == SymbolKind::Param ? Role::Param
                                              : Role::Latent;
    t.names_latent = t.role == Role::Latent;
    if (in_guide() && t.role != Role::Latent) {
      a_.report.error(s_.lhs->span, std::string(to_string(t.role)) + " '" + t.name +
                                        "' cannot be sampled in the guide; only latents can");
      return t;
    }
    for (const ast::Subscript& s : *subs) {
      const auto* index = s.is_slice ? nullptr : s.lo->as<ast::Name>();
      const Symbol* p = index ? lookup(a_, &scope_, index->name) : nullptr;
      if (!p || p->kind != SymbolKind::PlateIndex) {
        if (t.role == Role::Latent) {
          a_.report.error(s_.lhs->span, "the '~' must cover all of latent '" + t.name + "'; write '" +
                                            whole(t.name) + "' on its left side");
        } else {
          a_.report.error(s.span, "the left side of '~' can be indexed only by plate indices");
        }
        return t;
      }
      t.plates.push_back(p->plate);
    }
    // A latent drawn inside a plate must be drawn once per copy: indexed by every plate.
    if (t.role == Role::Latent && t.plates != scope_.plates) {
      a_.report.error(s_.lhs->span, "latent '" + t.name + "' must be sampled as '" + whole(t.name) +
                                        "' here: indexed by every enclosing plate, in order");
      return t;
    }
    t.valid = true;
    return t;
  }

  // The left side that samples all of a latent here: its name indexed by every enclosing plate.
  std::string whole(const std::string& latent) const {
    std::string out = latent;
    for (std::size_t k = 0; k < scope_.plates.size(); ++k)
      out += (k ? ", " : "[") + scope_.plates[k]->index.name;
    return scope_.plates.empty() ? out : out + "]";
  }

  const Distribution* resolve_distribution() {
    const std::string name = dist_name();
    if (const Distribution* d = dist::find(name)) return d;
    Span at = s_.dist.callee.span;
    const Symbol* sym = a_.global(name);
    if (find_builtin(name) || (sym && sym->kind == SymbolKind::Fn)) {
      a_.report.error(at, "'" + name + "' is a function, not a distribution");
    } else {
      a_.report.error(at, "unknown distribution '" + name + "'" + dist::unknown_name_hint(name));
    }
    return nullptr;
  }

  void register_site(const Target& t, const Distribution* dist) {
    if (t.role == Role::Latent) {
      // A malformed '~' still counts as the latent's, but says nothing of local or global.
      LatentSite site{&s_, dist, "", t.valid, scope_.plates};
      for (const ast::Plate* p : scope_.plates) {
        const Symbol* dim = a_.global(p->dim.name);
        site.classified &= dim && dim->kind == SymbolKind::Dim;
        if (p->subsample && site.plate_dim.empty()) site.plate_dim = p->dim.name;
      }
      auto& sites = in_guide() ? a_.guide_sites : a_.model_sites;
      auto [it, first] = sites.emplace(t.name, site);
      if (!first) {
        a_.report.error(s_.lhs->span, "latent '" + t.name + "' already has a '~' in the " +
                                          (in_guide() ? "guide" : "model") + " block",
                        {{it->second.stmt->lhs->span, "the first '~' on '" + t.name + "' is here"}});
      }
      if (in_guide()) scope_.sampled.insert(t.name);
    }
    if (dist && t.valid) a_.model->samples.push_back({&s_, scope_.block, dist, t.role, t.name});
  }

  bool arity_ok(const Distribution& d) {
    std::size_t n = s_.dist.args.size();
    if (n == d.arity()) return true;
    a_.report.error(s_.dist_span, quote(dist_name()) + " takes " +
                                      count(d.arity(), "argument", "arguments") + " (" +
                                      d.param_list() + "), but " + std::to_string(n) +
                                      (n == 1 ? " was" : " were") + " given");
    return false;
  }

  // uniform's bounds: constants, lo < hi.
  std::optional<std::pair<double, double>> interval_bounds(const Distribution& d) {
    std::vector<double> values;
    for (std::size_t i = 0; i < d.arity(); ++i) {
      if (d.params[i].kind != ArgKind::Constant) continue;
      std::optional<double> v = eval_constant(a_, &scope_, *s_.dist.args[i], &a_.report,
                                              "argument '" + std::string(d.params[i].name) +
                                                  "' of " + quote(d.name));
      if (!v) return std::nullopt;
      values.push_back(*v);
    }
    if (d.support != Support::Interval) return std::nullopt;
    if (!(values[0] < values[1])) {
      a_.report.error(s_.dist_span, quote(dist_name()) + " needs lo < hi, but its bounds are " +
                                        format_number(values[0]) + " and " + format_number(values[1]));
      return std::nullopt;
    }
    return std::pair{values[0], values[1]};
  }

  void argument_error(std::size_t i, const Distribution& d, const std::string& problem) {
    a_.report.error(s_.dist.args[i]->span, "argument '" + std::string(d.params[i].name) + "' of '" +
                                               dist_name() + "' " + problem);
  }

  void check_arguments(const Distribution& d, const Type& lhs, const std::vector<Type>& args) {
    std::string side = "the left side " + lhs_text() + " is " + to_string(lhs.value());
    if (d.shape == ShapeRule::MvNormal && (lhs.rank() != 1 || lhs.row)) {
      a_.report.error(s_.lhs->span, quote(dist_name()) + " needs a vector on the left of '~', but " +
                                        lhs_text() + " is " + to_string(lhs.value()));
      return;
    }
    if (d.shape == ShapeRule::Categorical && !lhs.is_scalar()) {
      a_.report.error(s_.lhs->span, quote(dist_name()) + " needs a scalar on the left of '~' "
                                        "(index it by a plate), but " + lhs_text() + " is " +
                                        to_string(lhs.value()));
      return;
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      const Type& t = args[i];
      if (t.is_error()) continue;
      std::string is = "is " + to_string(t.value());
      if (d.params[i].kind == ArgKind::Int && !t.is_int()) {
        argument_error(i, d, "must be an int, but it " + is);
      } else if (d.shape == ShapeRule::Categorical) {
        if (t.rank() != 1 || t.row) argument_error(i, d, "must be a vector, but it " + is);
      } else if (d.shape == ShapeRule::MvNormal && i == 1) {
        Type square = Type::real({lhs.shape[0], lhs.shape[0]});
        if (!t.same_shape(square))
          argument_error(i, d, is + ", but " + side + ", so it must be " + to_string(square));
        else if (!t.plates.empty())
          a_.report.error(s_.dist_span, "a per-datapoint Cholesky factor is not supported yet");
      } else if (!t.is_scalar() && !t.same_shape(lhs)) {
        argument_error(i, d, is + ", but " + side + "; it must be a scalar or have the same shape");
      }
    }
  }

  void check_support(const Distribution& d, const Target& t, const Type& lhs,
                     std::optional<std::pair<double, double>> bounds) {
    Span at = s_.dist.callee.span;
    if (d.discrete() && t.role != Role::Data) {
      a_.report.error(at, std::string(to_string(t.role)) + " '" + t.name +
                              "' cannot have the discrete distribution '" + dist_name() + "': " +
                              to_string(t.role) + "s are continuous");
      return;
    }
    if (t.role == Role::Data) {
      if (d.discrete() && !lhs.is_int() && !d.accepts_real_data) {
        a_.report.error(s_.lhs->span, quote(dist_name()) + " needs int data, but " + lhs_text() +
                                          " is " + to_string(lhs));
      }
      return;
    }
    if (t.role != Role::Latent) return;
    if (in_guide()) check_guide_family(a_, s_, d, t.name, bounds);
    else check_prior_support(a_, s_, d, t.name, bounds);
  }

  Analyzer& a_;
  Scope& scope_;
  const ast::Sample& s_;
};

}  // namespace

void check_sample(Analyzer& a, Scope& scope, const ast::Sample& s) { SampleChecker(a, scope, s).run(); }

}  // namespace vmc::sema

// `LHS ~ dist(ARGS);`: what may be sampled where, the distribution's arity and argument shapes
// (its table entry's shape rule), and the support of the left side.
#include "sema/check_expr.hpp"
#include "sema/const_eval.hpp"
#include "support/suggest.hpp"

#include <algorithm>
#include <set>
#include <span>

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
  bool expression = false;  // data or an expression of data, checked as any expression
  bool whole = false;       // ... the data itself, indexed by plate indices only
  bool partial = false;     // elements of a global latent, in the model: a piece of its prior
};

// A density's parameters against its value (the left side of '~', or the value before the '|'
// of `normal_lpdf(y | mu, sigma)`): arity, int and constant arguments, the shape rule.
class DensityArgs {
 public:
  DensityArgs(Analyzer& a, Scope& scope, const Distribution& d, std::string shown, Span whole,
              const ast::Expr& value, std::span<const ast::ExprPtr> params)
      : a_(a), scope_(scope), d_(d), shown_(std::move(shown)), whole_(whole), value_(value), params_(params) {}

  bool arity_ok() {
    std::size_t n = params_.size();
    if (n == d_.arity()) return true;
    a_.report.error(whole_, quote(shown_) + " takes " + count(d_.arity(), "argument", "arguments") + " (" +
                                d_.param_list() + "), but " + std::to_string(n) + (n == 1 ? " was" : " were") +
                                " given");
    return false;
  }

  // uniform's bounds: constants, lo < hi.
  std::optional<std::pair<double, double>> interval_bounds() {
    std::vector<double> values;
    for (std::size_t i = 0; i < d_.arity(); ++i) {
      if (d_.params[i].kind != ArgKind::Constant) continue;
      std::optional<double> v = eval_constant(a_, &scope_, *params_[i], &a_.report,
                                              "argument '" + std::string(d_.params[i].name) + "' of " + quote(d_.name));
      if (!v) return std::nullopt;
      values.push_back(*v);
    }
    if (d_.support != Support::Interval) return std::nullopt;
    if (!(values[0] < values[1])) {
      a_.report.error(whole_, quote(shown_) + " needs lo < hi, but its bounds are " + format_number(values[0]) +
                                  " and " + format_number(values[1]));
      return std::nullopt;
    }
    return std::pair{values[0], values[1]};
  }

  // A constant argument outside its parameter's support (`normal(0, -1)`, `bernoulli(1.5)`): an
  // error now, not a NaN bound at run time. Arguments that are not constants are checked at the
  // initial values (the fit's support kernel).
  void constant_supports() {
    for (std::size_t i = 0; i < params_.size() && i < d_.params.size(); ++i) {
      Support s = d_.params[i].support;
      if (s != Support::Positive && s != Support::UnitInterval && s != Support::Count) continue;
      std::optional<double> v = eval_constant(a_, &scope_, *params_[i], nullptr, "");
      if (!v) continue;
      bool inside = s == Support::Positive     ? *v > 0
                    : s == Support::Count      ? *v >= 0  // an int: the type check says so
                                               : *v >= 0 && *v <= 1;
      if (inside) continue;
      error(i, "is " + format_number(*v) + ", outside its support " + dist::to_string(s));
    }
  }

  // `tilde`: the value is the left side of a '~' (else the value before a '|').
  void check(const Type& lhs, const std::vector<Type>& args, bool tilde) {
    std::string shown_value = quote(source_text(value_.span));
    std::string side = (tilde ? "the left side " : "the value ") + shown_value + " is " + to_string(lhs.value());
    if ((d_.shape == ShapeRule::MvNormal || d_.shape == ShapeRule::Vector) && (lhs.rank() != 1 || lhs.row)) {
      a_.report.error(value_.span, quote(shown_) + " needs a vector " + (tilde ? "on the left of '~'" : "as its value") +
                                       ", but " + shown_value + " is " + to_string(lhs.value()));
      return;
    }
    if (d_.shape == ShapeRule::CorrCholesky && (lhs.rank() != 2 || !(lhs.shape[0] == lhs.shape[1]) || !lhs.plates.empty())) {
      a_.report.error(value_.span, quote(shown_) + " needs a square matrix, one for all datapoints, " +
                                       (tilde ? "on the left of '~'" : "as its value") + ", but " + shown_value + " is " +
                                       to_string(lhs.value()));
      return;
    }
    if ((d_.shape == ShapeRule::Categorical || d_.shape == ShapeRule::Ordinal) && !lhs.is_scalar()) {
      a_.report.error(value_.span, quote(shown_) + " needs a scalar " + (tilde ? "on the left of '~'" : "value") +
                                       " (index it by a plate), but " + shown_value + " is " + to_string(lhs.value()));
      return;
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      const Type& t = args[i];
      if (t.is_error()) continue;
      std::string is = "is " + to_string(t.value());
      if (d_.params[i].kind == ArgKind::Int && !t.is_int()) {
        error(i, "must be an int, but it " + is);
      } else if (d_.shape == ShapeRule::Categorical) {
        if (t.rank() != 1 || t.row) error(i, "must be a vector, but it " + is);
      } else if (d_.shape == ShapeRule::CorrCholesky) {
        if (!t.is_scalar() || !t.plates.empty()) error(i, "must be a scalar, the same for every datapoint, but it " + is);
      } else if (d_.shape == ShapeRule::Ordinal) {
        if (i == 0 && !t.is_scalar()) error(i, "must be a scalar (per copy of a plate), but it " + is);
        if (i == 1 && (t.rank() != 1 || t.row)) error(i, "must be a vector of the K - 1 cutpoints, but it " + is);
        if (i == 1 && !t.plates.empty()) error(i, "must be the same for every datapoint (per-datapoint cutpoints are not supported yet)");
      } else if (d_.shape == ShapeRule::MvNormal && i == 1) {
        Type square = Type::real({lhs.shape[0], lhs.shape[0]});
        if (!t.same_shape(square)) error(i, is + ", but " + side + ", so it must be " + to_string(square));
        else if (!t.plates.empty())
          a_.report.error(whole_, std::string("a per-datapoint ") +
                                      (d_.params[i].support == Support::Cholesky ? "Cholesky factor" : "covariance matrix") +
                                      " is not supported yet");
      } else if (!t.is_scalar() && !t.same_shape(lhs)) {
        error(i, is + ", but " + side + "; it must be a scalar or have the same shape");
      }
    }
  }

 private:
  void error(std::size_t i, const std::string& problem) {
    a_.report.error(params_[i]->span, "argument '" + std::string(d_.params[i].name) + "' of '" + shown_ + "' " + problem);
  }

  Analyzer& a_;
  Scope& scope_;
  const Distribution& d_;
  std::string shown_;
  Span whole_;
  const ast::Expr& value_;
  std::span<const ast::ExprPtr> params_;
};

// What an expression reads, through lets and fn bodies: a `~` on an expression needs one that
// reads data and no param or latent.
struct Reads {
  const ast::Expr* random = nullptr;  // the first read of a param or latent
  bool data = false;
};
void collect_reads(const Model& m, const ast::Expr& root, Reads& r, std::set<const void*>& seen) {
  ast::for_each_expr(root, [&](const ast::Expr& e) {
    if (r.random || !seen.insert(&e).second) return false;
    if (e.as<ast::Name>()) {
      auto it = m.names.find(&e);
      if (it == m.names.end()) return false;
      const NameRef& ref = it->second;
      if (ref.kind == NameKind::Param || ref.kind == NameKind::Latent) r.random = &e;
      else if (ref.kind == NameKind::Data) r.data = true;
      else if (ref.kind == NameKind::Let && ref.let) collect_reads(m, *ref.let->value, r, seen);
      return false;
    }
    if (const auto* c = e.as<ast::Call>()) {
      auto fn = m.functions.find(c->callee.name);
      if (fn != m.functions.end()) collect_reads(m, *fn->second->body, r, seen);
    }
    return true;
  });
}

// The distribution a '~' names, or nullptr (reported).
const Distribution* resolve_distribution(Analyzer& a, const ast::Sample& s) {
  const std::string& name = s.dist.callee.name;
  if (const Distribution* d = dist::find(name)) return d;
  Span at = s.dist.callee.span;
  const Symbol* sym = a.global(name);
  if (find_builtin(name) || (sym && sym->kind == SymbolKind::Fn)) {
    a.report.error(at, "'" + name + "' is a function, not a distribution");
  } else if (std::optional<dist::DensityFunction> f = dist::density_function(name); f && f->dist) {
    a.report.error(at, "'" + name + "' is a density function, for 'target +='; a '~' takes the "
                                     "distribution: '~ " + f->distribution + "(...)'");
  } else {
    a.report.error(at, "unknown distribution '" + name + "'" + dist::unknown_name_hint(name));
  }
  return nullptr;
}

class SampleChecker {
 public:
  SampleChecker(Analyzer& a, Scope& scope, const ast::Sample& s) : a_(a), scope_(scope), s_(s) {}

  void run() {
    Target target = resolve_target();
    ExprChecker exprs(a_, scope_, true);
    Type lhs = target.valid && target.expression ? exprs.check(*s_.lhs)
               : target.valid || target.unresolved ? exprs.check_target(*s_.lhs)
                                                   : Type::error();
    if (target.expression && !target.partial && !lhs.is_error()) check_data_only(target);
    const Distribution* dist = resolve_distribution();
    std::vector<Type> args;
    for (const ast::ExprPtr& arg : s_.dist.args) args.push_back(exprs.check(*arg));
    if (s_.dist.has_bar()) {
      a_.report.error(s_.dist.bar_span, "a '~' takes the distribution's parameters only: write '" +
                                            source_text(s_.lhs->span) + " ~ " + dist_name() + "(...)', or use '" +
                                            dist_name() + "_lpdf(y | ...)' in 'target +='");
      return;
    }
    if (target.names_latent || target.valid) register_site(target, dist);
    if (!dist) return;
    DensityArgs density(a_, scope_, *dist, dist_name(), s_.dist_span, *s_.lhs, s_.dist.args);
    if (!density.arity_ok()) return;
    std::optional<std::pair<double, double>> bounds = density.interval_bounds();
    density.constant_supports();
    if (!target.valid || lhs.is_error()) return;
    density.check(lhs, args, true);
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
    if (sym && (sym->kind == SymbolKind::Fn || sym->kind == SymbolKind::FnParam)) {
      a_.report.error(s_.lhs->span, "the left side of '~' must be data, a latent or a param, or an "
                                    "expression of data");
      return t;
    }
    // A let of data is an expression of data (`let z = log(y); z ~ ...`); of anything else,
    // check_data_only says what it reads.
    if (sym && sym->kind == SymbolKind::Let) return expression_target(t, nullptr, *subs);
    if (sym && sym->kind != SymbolKind::Data && sym->kind != SymbolKind::Param &&
        sym->kind != SymbolKind::Latent) {
      a_.report.error(base->span, "'" + name->name + "' is " + with_article(sym->kind) +
                                      "; '~' needs data, a latent or a param");
      return t;
    }
    if (!sym || sym->kind == SymbolKind::Data) return expression_target(t, sym ? name : nullptr, *subs);
    t.name = name->name;
    t.role = sym->kind == SymbolKind::Param ? Role::Param : Role::Latent;
    t.names_latent = t.role == Role::Latent;
    // Elements of a latent in the model (`z[0] ~ ...; for t in 1:T { z[t] ~ normal(z[t - 1], s); }`):
    // a prior given piece by piece. The guide draws it whole.
    bool elements = std::any_of(subs->begin(), subs->end(), [&](const ast::Subscript& s) { return !plate_of(s); });
    if (t.role == Role::Latent && elements && !in_guide()) {
      if (!scope_.plates.empty() || !std::all_of(subs->begin(), subs->end(), [&](const ast::Subscript& s) {
            return !plate_of(s);
          })) {
        a_.report.error(s_.lhs->span, "a '~' on elements of latent '" + t.name + "' is for a global latent outside "
                                      "plates (yet); inside a plate, sample '" + whole(t.name) + "'");
        return t;
      }
      t.valid = true;
      t.partial = true;
      t.expression = true;
      return t;
    }
    if (t.role == Role::Latent && !scope_.loops.empty() && !in_guide()) {
      a_.report.error(s_.lhs->span, "latent '" + t.name + "' is sampled whole inside a for loop: sample it outside "
                                    "the loop, or its elements inside it ('" + t.name + "[t] ~ ...')");
      return t;
    }
    if (in_guide() && t.role != Role::Latent) {
      a_.report.error(s_.lhs->span, std::string(to_string(t.role)) + " '" + t.name +
                                        "' cannot be sampled in the guide; only latents can");
      return t;
    }
    for (const ast::Subscript& s : *subs) {
      const ast::Plate* plate = plate_of(s);
      if (!plate) {
        if (t.role == Role::Latent) {
          a_.report.error(s_.lhs->span, "the '~' must cover all of latent '" + t.name + "'; write '" +
                                            whole(t.name) + "' on its left side");
        } else {
          a_.report.error(s.span, "the left side of '~' on a param can be indexed only by plate indices");
        }
        return t;
      }
      t.plates.push_back(plate);
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

  const ast::Plate* plate_of(const ast::Subscript& s) const {
    const auto* index = s.is_slice ? nullptr : s.lo->as<ast::Name>();
    const Symbol* p = index ? lookup(a_, &scope_, index->name) : nullptr;
    return p && p->kind == SymbolKind::PlateIndex ? p->plate : nullptr;
  }

  // Data, or any expression of data (`y[5:]`, `y[t]`, `log(y)`): its density is a likelihood term.
  // Data indexed by plate indices only is `whole` (each copy one element): the data's support is
  // then checked against the distribution's when it is loaded.
  Target expression_target(Target& t, const ast::Name* data, const std::vector<ast::Subscript>& subs) {
    if (in_guide()) {
      a_.report.error(s_.lhs->span, (data ? "data '" + data->name + "'" : lhs_text()) +
                                        " cannot be sampled in the guide; only latents can");
      return t;
    }
    t.valid = true;
    t.expression = true;
    t.role = Role::Data;
    if (!data) return t;
    t.name = data->name;
    t.whole = true;
    for (const ast::Subscript& s : subs) {
      const ast::Plate* plate = plate_of(s);
      if (!plate) t.whole = false;
      else t.plates.push_back(plate);
    }
    return t;
  }

  void check_data_only(Target& t) {
    std::set<const void*> seen;
    Reads reads;
    collect_reads(*a_.model, *s_.lhs, reads, seen);
    const ast::Expr* read = reads.random;
    if (!read && !reads.data) {
      a_.report.error(s_.lhs->span, "the left side of '~' must be data, a latent or a param, or an "
                                    "expression of data, but " + lhs_text() + " reads no data");
      t.valid = false;
      return;
    }
    if (!read) return;
    const NameRef& ref = a_.model->name_of(*read);
    std::string what = ref.kind == NameKind::Latent ? "latent" : "param";
    a_.report.error(read->span, "the left side of '~' is data, a latent or a param, or an expression of data "
                                "only, but " + lhs_text() + " reads " + what + " '" +
                                    source_text(read->span) + "'; write 'target += " + dist_name() + "_lpdf(" +
                                    source_text(s_.lhs->span) + " | ...)' for a density of it (with any Jacobian "
                                    "it needs)");
    t.valid = false;
  }

  // The left side that samples all of a latent here: its name indexed by every enclosing plate.
  std::string whole(const std::string& latent) const {
    std::string out = latent;
    for (std::size_t k = 0; k < scope_.plates.size(); ++k)
      out += (k ? ", " : "[") + scope_.plates[k]->index.name;
    return scope_.plates.empty() ? out : out + "]";
  }

  const Distribution* resolve_distribution() { return sema::resolve_distribution(a_, s_); }

  void register_site(const Target& t, const Distribution* dist) {
    if (t.partial) {
      a_.partial_priors[t.name].push_back(&s_);
      if (dist) a_.model->samples.push_back({&s_, scope_.block, dist, t.role, t.name, false});
      return;
    }
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
    if (dist && t.valid) a_.model->samples.push_back({&s_, scope_.block, dist, t.role, t.name, !t.expression || t.whole});
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

Type check_generated_draw(Analyzer& a, Scope& scope, const ast::Sample& s) {
  ExprChecker exprs(a, scope, true);
  std::vector<Type> args;
  for (const ast::ExprPtr& arg : s.dist.args) args.push_back(exprs.check(*arg));
  const auto* name = s.lhs->as<ast::Name>();
  if (!name) {
    a.report.error(s.lhs->span, "a '~' in the generated block declares a new quantity: write 'NAME ~ " +
                                    s.dist.callee.name + "(...);' with a name not used yet");
    return Type::error();
  }
  if (const Symbol* sym = lookup(a, &scope, name->name)) {
    a.report.error(s.lhs->span, "'" + name->name + "' is " + with_article(sym->kind) + " already; a '~' in the "
                                    "generated block declares a new quantity: choose another name (as '" +
                                    name->name + "_rep' for a replicate of data)",
                   {{sym->span, "'" + name->name + "' is declared here"}});
    return Type::error();
  }
  if (s.dist.has_bar()) {
    a.report.error(s.dist.bar_span, "a '~' takes the distribution's parameters only");
    return Type::error();
  }
  const Distribution* d = resolve_distribution(a, s);
  if (!d) return Type::error();
  const std::string shown = s.dist.callee.name;
  if (!d->sampler.fn) {
    a.report.error(s.dist.callee.span, "vmc cannot draw from '" + shown + "' yet ('vmc help distributions' lists "
                                           "the ones it can)");
    return Type::error();
  }
  DensityArgs density(a, scope, *d, shown, s.dist_span, *s.lhs, s.dist.args);
  if (!density.arity_ok()) return Type::error();
  density.interval_bounds();
  density.constant_supports();
  for (const Type& t : args) {
    if (t.is_error()) return Type::error();
  }
  // The draw's shape, from its arguments: one value per element of the broadcast of a
  // Broadcast family's arguments; a vector of mu's (or L's) length for multi_normal_cholesky; a
  // scalar for categorical.
  Type out = Type::real();
  std::vector<const ast::Plate*> plates;
  for (const Type& t : args) plates = union_plates(plates, t.plates);
  if (d->shape == ShapeRule::MvNormal) {
    if (args[0].rank() == 1) out.shape = args[0].shape;
    else if (args[1].rank() == 2) out.shape = {args[1].shape[0]};
  } else if (d->shape == ShapeRule::Broadcast || d->shape == ShapeRule::Vector) {
    for (const Type& t : args) {
      if (!t.is_scalar()) {
        out.shape = t.shape;
        out.row = t.row;
        break;
      }
    }
  }
  if (d->discrete()) out.kind = Kind::Int;
  std::size_t before = a.report.errors();
  density.check(out, args, true);
  if (a.report.errors() > before) return Type::error();
  out.plates = plates;
  a.model->samples.push_back({&s, ast::BlockKind::Generated, d, Role::Data, name->name, true});
  return out;
}

Type check_density_call(Analyzer& a, Scope& scope, const ast::Call& c, const dist::DensityFunction& f,
                        const std::vector<Type>& args) {
  const std::string& name = c.callee.name;
  const Distribution& d = *f.dist;
  std::string form = name + "(y | " + d.param_list() + ")";
  if (!c.has_bar()) {
    a.report.error(c.callee.span, "write '" + form + "': the value, then '|', then the parameters");
    return Type::error();
  }
  if (c.before_bar != 1) {
    a.report.error(c.bar_span, quote(name) + " takes one value before the '|' (" + form + "), but " +
                                   std::to_string(c.before_bar) + " were given");
    return Type::error();
  }
  bool mass = f.kind == dist::DensityKind::Lpmf, density = f.kind == dist::DensityKind::Lpdf;
  if ((mass || density) && f.suffix != dist::density_suffix(d)) {
    a.report.error(c.callee.span, quote(f.distribution) + " is " + (d.discrete() ? "discrete" : "continuous") +
                                      ": its log " + (d.discrete() ? "mass" : "density") + " function is '" +
                                      f.distribution + std::string(dist::density_suffix(d)) + "'");
    return Type::error();
  }
  if (f.kind == dist::DensityKind::Lcdf || f.kind == dist::DensityKind::Lccdf) {
    bool has = f.kind == dist::DensityKind::Lcdf ? d.tails.log_cdf != nullptr : d.tails.log_ccdf != nullptr;
    if (!has) {
      a.report.error(c.callee.span, quote(f.distribution) + " has no " +
                                        (f.kind == dist::DensityKind::Lcdf ? "log CDF" : "log complementary CDF") +
                                        " in vmc yet ('vmc help " + f.distribution + "')");
      return Type::error();
    }
  }
  std::span<const ast::ExprPtr> params(c.args.begin() + 1, c.args.end());
  Span whole = Span::cover(c.callee.span, c.args.back()->span);
  DensityArgs check(a, scope, d, name, whole, *c.args[0], params);
  if (!check.arity_ok()) return Type::error();
  check.interval_bounds();
  check.constant_supports();
  for (const Type& t : args) {
    if (t.is_error()) return Type::error();
  }
  std::vector<Type> param_types(args.begin() + 1, args.end());
  std::size_t before = a.report.errors();
  check.check(args[0], param_types, false);
  if (d.discrete() && !args[0].is_int() && !d.accepts_real_data && f.kind != dist::DensityKind::Lcdf &&
      f.kind != dist::DensityKind::Lccdf) {
    a.report.error(c.args[0]->span, quote(name) + " needs an int value, but " + quote(source_text(c.args[0]->span)) +
                                        " is " + to_string(args[0]));
  }
  if (a.report.errors() > before) return Type::error();
  std::vector<const ast::Plate*> plates;
  for (const Type& t : args) plates = union_plates(plates, t.plates);
  return Type{Kind::Real, {}, {}, false, plates};
}

}  // namespace vmc::sema

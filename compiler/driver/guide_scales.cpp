// The scales the convergence rule measures each param component in (guide_scales.hpp).
#include "driver/guide_scales.hpp"

#include <cmath>
#include <map>

#include "driver/laplace.hpp"

namespace vmc::driver {

namespace {

// A written guide's `LATENT ~ normal(P, exp(Q))` (or lognormal, or a scale param Q declared
// <lower=0>, stored as its log): P's scale is exp(Q) element by element. The pairs (P, Q).
std::vector<std::pair<std::string, std::string>> written_scales(const sema::Model& m) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!m.guide_block) return out;
  auto param = [&](const ast::Expr& e) -> const sema::Variable* {
    const auto* n = e.as<ast::Name>();
    if (!n) return nullptr;
    const sema::Variable* v = m.find_variable(n->name);
    return v && v->role == sema::Role::Param ? v : nullptr;
  };
  for (const ast::StmtPtr& st : m.guide_block->statements) {
    const auto* smp = st->as<ast::Sample>();
    if (!smp || smp->dist.args.size() != 2) continue;
    const std::string& family = smp->dist.callee.name;
    if (family != "normal" && family != "lognormal") continue;
    const sema::Variable* loc = param(*smp->dist.args[0]);
    if (!loc) continue;
    const sema::Variable* spread = nullptr;
    if (const auto* call = smp->dist.args[1]->as<ast::Call>(); call && call->callee.name == "exp" && call->args.size() == 1) {
      spread = param(*call->args[0]);
      if (spread && !spread->type.constraint.empty()) spread = nullptr;
    } else if (const sema::Variable* q = param(*smp->dist.args[1]);
               q && q->type.constraint.lower && *q->type.constraint.lower == 0 && !q->type.constraint.upper) {
      spread = q;  // <lower=0>: its unconstrained value is its log
    }
    if (spread) out.emplace_back(loc->name, spread->name);
  }
  return out;
}

}  // namespace

runtime::ScaleFn guide_scales(const runtime::Trainer& t, const sema::Model& model) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> at;  // name → (offset, size)
  std::size_t offset = 0;
  for (const std::string& n : t.param_names()) {
    std::size_t size = 1;
    for (std::int64_t e : t.param_shape(n)) size *= static_cast<std::size_t>(e);
    at[n] = {offset, size};
    offset += size;
  }
  // A joint guide's location: its latents' NAME.loc, as one.
  if (auto joint = joint_loc(at)) at["guide.loc"] = *joint;
  struct Pair {
    std::size_t loc, spread, n;
    bool chol;
    std::size_t factor = 0, rank = 0;  // lowrank: the sd is d_k √(1 + Σ_j G_kj²)
  };
  std::vector<Pair> pairs;
  for (const auto& [name, place] : at) {
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".loc") != 0) continue;
    std::string base = name.substr(0, name.size() - 4);
    std::size_t n = place.second;
    if (auto s = at.find(base + ".scale"); s != at.end() && s->second.second == n) {
      Pair p{place.first, s->second.first, n, false};
      if (auto f = at.find(base + ".factor"); f != at.end() && n > 0) p.factor = f->second.first, p.rank = f->second.second / n;
      pairs.push_back(p);
    } else if (auto c = at.find(base + ".chol"); c != at.end() && c->second.second == n * n) {
      pairs.push_back({place.first, c->second.first, n, true});
    }
  }
  for (const auto& [loc, spread] : written_scales(model)) {
    auto l = at.find(loc), q = at.find(spread);
    if (l != at.end() && q != at.end() && l->second.second == q->second.second) {
      pairs.push_back({l->second.first, q->second.first, l->second.second, false});
    }
  }
  return [pairs](const std::vector<double>& p, std::vector<double>& scale) {
    for (const Pair& q : pairs) {
      for (std::size_t k = 0; k < q.n; ++k) {
        if (!q.chol) {
          double stretch = 1;
          for (std::size_t j = 0; j < q.rank; ++j) stretch += p[q.factor + k * q.rank + j] * p[q.factor + k * q.rank + j];
          scale[q.loc + k] = std::exp(p[q.spread + k]) * std::sqrt(stretch);
          continue;
        }
        const double* row = &p[q.spread + k * q.n];
        double var = std::exp(2 * row[k]);
        for (std::size_t j = 0; j < k; ++j) var += row[j] * row[j];
        double sd = std::sqrt(var);
        scale[q.loc + k] = sd;
        for (std::size_t j = 0; j < k; ++j) scale[q.spread + k * q.n + j] = sd;
      }
    }
  };
}

}  // namespace vmc::driver

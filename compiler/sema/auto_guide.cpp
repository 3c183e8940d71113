#include "sema/auto_guide.hpp"

#include <algorithm>

#include "support/suggest.hpp"

namespace vmc::sema {

const std::vector<AutoGuide>& auto_guides() {
  static const std::vector<AutoGuide> table = {
      {"meanfield", "an independent normal per element of every latent (one per datapoint for a local latent), "
                    "mapped onto a constrained latent's support; its KL against a normal prior is closed-form "
                    "when the latent is unconstrained", false, false, "an independent normal per element"},
      {"fullrank", "one multivariate normal over the elements of every global latent at once (as Stan ADVI's "
                   "fullrank), with a dense Cholesky-factored covariance: captures the correlations between "
                   "latents; its params are each latent's LATENT.loc and guide.chol [D, D], D the global "
                   "latents' elements in declaration order; local latents keep a meanfield guide per datapoint", true, false,
       "one normal over all the global latents, with a dense covariance"},
      {"lowrank", "lowrank:R: one multivariate normal over the global latents' D elements whose covariance is "
                  "diagonal plus rank R (as Pyro's AutoLowRankMultivariateNormal; R from 1 to 16): D (R + 2) "
                  "params (LATENT.loc, guide.scale [D], guide.factor [D, R]) instead of fullrank's D^2, for larger "
                  "models; local latents keep a meanfield guide", true, true,
       "the same, its covariance diagonal plus rank R"},
  };
  return table;
}

const AutoGuide* find_auto_guide(std::string_view name) {
  for (const AutoGuide& g : auto_guides()) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

const AutoGuide* parse_auto_guide(std::string_view text, int& rank, std::string& problem) {
  std::string_view base = text.substr(0, text.find(':'));
  const AutoGuide* g = find_auto_guide(base);
  rank = 0;
  if (!g) {
    problem = "unknown automatic guide '" + std::string(text) + "'";
    return nullptr;
  }
  bool has_rank = base.size() < text.size();
  if (g->ranked != has_rank) {
    problem = g->ranked ? "'" + std::string(base) + "' takes a rank: " + std::string(base) + ":R, R from 1 to " +
                              std::to_string(kMaxRank)
                        : "'" + std::string(base) + "' takes no rank";
    return nullptr;
  }
  if (has_rank) {
    std::string digits(text.substr(base.size() + 1));
    bool ok = !digits.empty() && digits.size() <= 3 &&
              std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    rank = ok ? std::stoi(digits) : 0;
    if (rank < 1 || rank > kMaxRank) {
      problem = "the rank of '" + std::string(text) + "' must be a whole number from 1 to " + std::to_string(kMaxRank);
      return nullptr;
    }
  }
  return g;
}

const AutoGuide& factorized_auto_guide() {
  const auto& all = auto_guides();
  return *std::find_if(all.begin(), all.end(), [](const AutoGuide& g) { return !g.joint; });
}

std::vector<std::string> auto_guide_names() {
  std::vector<std::string> out;
  for (const AutoGuide& g : auto_guides()) out.emplace_back(std::string(g.name) + (g.ranked ? ":R" : ""));
  return out;
}

std::string auto_guide_list(const std::string& last) { return join(auto_guide_names(), last); }

std::string auto_guides_brief() {
  std::vector<std::string> parts;
  for (const AutoGuide& g : auto_guides()) {
    parts.push_back(std::string(g.name) + (g.ranked ? ":R" : "") + " (" + std::string(g.brief) + ")");
  }
  return join(parts, " or ");
}

std::string auto_guides_reference() {
  std::string out =
      "Automatic guides (--guide NAME, `guide = \"NAME\"` in a config, CompileOptions::guide in the host API),\n"
      "for a model without a guide block: a normal in each latent's unconstrained space, mapped onto its\n"
      "support. A meanfield guide's params are LATENT.loc and LATENT.scale (a log scale) per latent.\n\n"
      "| guide | what it is |\n|---|---|\n";
  for (const AutoGuide& g : auto_guides()) {
    out += "| " + std::string(g.name) + (g.ranked ? ":R" : "") + " | " + std::string(g.summary) + " |\n";
  }
  return out;
}

}  // namespace vmc::sema

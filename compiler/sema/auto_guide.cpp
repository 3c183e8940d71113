#include "sema/auto_guide.hpp"

#include <algorithm>

#include "support/suggest.hpp"

namespace vmc::sema {

const std::vector<AutoGuide>& auto_guides() {
  static const std::vector<AutoGuide> table = {
      {"meanfield", "an independent normal per element of every latent (one per datapoint for a local latent), "
                    "mapped onto a constrained latent's support; its KL against a normal prior is closed-form "
                    "when the latent is unconstrained", false},
      {"fullrank", "one multivariate normal over the elements of every global latent at once (as Stan ADVI's "
                   "fullrank), with a dense Cholesky-factored covariance: captures the correlations between "
                   "latents; its params are guide.loc [D] and guide.chol [D, D], D the global latents' elements "
                   "in declaration order; local latents keep a meanfield guide per datapoint", true},
  };
  return table;
}

const AutoGuide* find_auto_guide(std::string_view name) {
  for (const AutoGuide& g : auto_guides()) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

const AutoGuide& factorized_auto_guide() {
  const auto& all = auto_guides();
  return *std::find_if(all.begin(), all.end(), [](const AutoGuide& g) { return !g.joint; });
}

std::vector<std::string> auto_guide_names() {
  std::vector<std::string> out;
  for (const AutoGuide& g : auto_guides()) out.emplace_back(g.name);
  return out;
}

std::string auto_guide_list(const std::string& last) { return join(auto_guide_names(), last); }

std::string auto_guides_reference() {
  std::string out =
      "Automatic guides (--guide NAME, `guide = \"NAME\"` in a config, CompileOptions::guide in the host API),\n"
      "for a model without a guide block: a normal in each latent's unconstrained space, mapped onto its\n"
      "support. A meanfield guide's params are LATENT.loc and LATENT.scale (a log scale) per latent.\n\n"
      "| guide | what it is |\n|---|---|\n";
  for (const AutoGuide& g : auto_guides()) out += "| " + std::string(g.name) + " | " + std::string(g.summary) + " |\n";
  return out;
}

}  // namespace vmc::sema

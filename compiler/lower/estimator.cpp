#include "lower/estimator.hpp"

#include <algorithm>

#include "support/suggest.hpp"

namespace vmc::lower {

const std::vector<Estimator>& estimators() {
  static const std::vector<Estimator> table = {
      {"A", "L^A: the sampled log p(x, z) - log q(z), averaged over L samples", 'L', false, false, false},
      {"B", "L^B: -KL(q ‖ p) in closed form for every latent whose (guide, prior) pair has one, the sampled "
            "log-ratio for the others", 'L', true, false, false},
      {"iwae", "the importance-weighted bound: log of the mean of K samples' weights p/q per datapoint "
               "(tighter with K; all latents local, or all global without subsampling)", 'K', false, true, false},
      {"stl", "L^A's value with the path-derivative gradient (sticking the landing): the guide's params held "
              "constant inside log q", 'L', false, false, true},
  };
  return table;
}

const Estimator* find_estimator(std::string_view name) {
  for (const Estimator& e : estimators()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const Estimator& default_estimator() { return estimators().front(); }

const Estimator& closed_form_estimator() {
  const auto& all = estimators();
  return *std::find_if(all.begin(), all.end(), [](const Estimator& e) {
    return e.closed_form_kl && !e.importance_weighted && !e.path_derivative;
  });
}

std::vector<std::string> estimator_names() {
  std::vector<std::string> out;
  for (const Estimator& e : estimators()) out.emplace_back(e.name);
  return out;
}

std::string estimator_list(const std::string& last) { return join(estimator_names(), last); }

std::string estimators_reference() {
  std::string out =
      "ELBO estimators (--estimator NAME, --estimators A,B,... for vmc compare, `estimator = \"NAME\"` in a\n"
      "config). --samples counts L, the samples averaged, or K, the importance samples. They are drawn\n"
      "at run time (the model is compiled once, whatever their number): a step costs L passes of one\n"
      "sample forward and backward, or for iwae K such passes and K forward ones.\n\n"
      "| estimator | --samples | what it is |\n|---|---|---|\n";
  for (const Estimator& e : estimators()) {
    out += "| " + std::string(e.name) + " | " + std::string(1, e.samples) + " | " + std::string(e.summary) + " |\n";
  }
  return out;
}

}  // namespace vmc::lower

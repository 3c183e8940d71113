#include "driver/help.hpp"

#include "dist/distribution.hpp"
#include "lower/estimator.hpp"
#include "sema/auto_guide.hpp"
#include "sema/builtins.hpp"
#include "vmc/optimizers.hpp"

namespace vmc::driver {
namespace {

// One distribution: its signature, support, parameters' supports, guide use and KL partners.
std::string one_distribution(const dist::Distribution& d) {
  std::string out = std::string(d.name) + "(" + d.param_list() + ")\n";
  out += "  value: " + dist::to_string(d.support) +
         (d.accepts_real_data ? " (or real data in [0, 1]: then the cross-entropy)" : "") + "\n";
  for (const dist::Param& p : d.params) {
    out += "  " + std::string(p.name) + ": " + (p.kind == dist::ArgKind::Int ? "int, " : "") +
           dist::to_string(p.support) + (p.kind == dist::ArgKind::Constant ? ", a constant" : "") + "\n";
  }
  switch (d.reparam()) {
    case dist::Reparam::Yes: out += "  guide family: yes, " + std::string(d.sampler.how) + "\n"; break;
    case dist::Reparam::Later: out += "  guide family: not yet (needs implicit reparameterization)\n"; break;
    case dist::Reparam::No: out += "  guide family: no\n"; break;
  }
  if (!d.kl.empty()) {
    std::string priors;
    for (const dist::KlPartner& k : d.kl) priors += (priors.empty() ? "" : ", ") + std::string(k.prior);
    out += "  closed-form KL (estimator B) against the priors: " + priors + "\n";
  }
  out += std::string("  init ") + (d.init.fn ? "may draw from it" : "cannot draw from it") + "\n";
  return out;
}

}  // namespace

std::vector<std::string> help_topics() {
  return {"distributions", "functions", "estimators", "optimizers", "guides"};
}

std::optional<std::string> help_text(const std::string& topic) {
  if (topic == "distributions") return dist::reference_table();
  if (topic == "functions") return sema::builtins_reference();
  if (topic == "estimators") return lower::estimators_reference();
  if (topic == "guides") return sema::auto_guides_reference();
  if (topic == "optimizers") return runtime::optimizers_reference();
  if (const dist::Distribution* d = dist::find(topic)) return one_distribution(*d);
  return std::nullopt;
}

}  // namespace vmc::driver

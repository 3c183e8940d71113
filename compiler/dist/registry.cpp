// THE distribution table: one entry per distribution, every part of it beside it (see
// distribution.hpp for what each part is). Adding a distribution is one entry in a
// registry_*.cpp, its place in the list below, and its tests (compiler/README.md says which).
//
// Log densities are the normalised ones, in numerically stable forms (log_sigmoid for logits,
// log1p near 1, lgamma for factorials). They hold inside the support only: the IR has no −∞,
// so a value outside it gets a finite number (uniform) or NaN (log of a negative), and sema's
// support checks are what keep such values out.
//
// The entries are in registry_continuous.cpp and registry_discrete.cpp, built with the parts of
// registry_entry.hpp; this file lists them.

#include "dist/registry_entry.hpp"

namespace vmc::dist {

const std::vector<Distribution>& distributions() {
  using namespace entries;
  static const std::vector<Distribution> table = {
      normal(),      lognormal(),   laplace(),     logistic(),          cauchy(),
      student_t(),   exponential(), gamma(),       inv_gamma(),         beta(),
      uniform(),     half_normal(), half_cauchy(), half_student_t(),    weibull(),     von_mises(),
      mvnormal_cholesky(), multi_normal(), dirichlet(), lkj_corr_cholesky(),
      bernoulli(),   bernoulli_logit(), binomial(), binomial_logit(),   poisson(),
      poisson_log(), neg_binomial_2(), neg_binomial_2_log(), categorical_logit(), ordered_logistic(),
  };
  return table;
}

}  // namespace vmc::dist

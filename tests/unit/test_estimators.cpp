// The estimator registry (compiler/lower/estimator.cpp): names unique and found, properties
// consistent with what --samples counts, every entry in `vmc help estimators`, and the host API's
// vmc::Estimator, which is the registry's position, naming the entries it says.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>

#include "lower/estimator.hpp"
#include "vmc/vmc.hpp"  // the host API's vmc::Estimator (its enum only)

namespace lower = vmc::lower;

TEST_CASE("estimators: one registry, and the host API's enum is its positions") {
  const std::vector<lower::Estimator>& all = lower::estimators();
  std::set<std::string_view> names;
  for (const lower::Estimator& e : all) {
    CHECK(names.insert(e.name).second);
    CHECK(lower::find_estimator(e.name) == &e);
    CHECK((e.samples == 'L' || e.samples == 'K'));
    CHECK(e.samples == (e.importance_weighted ? 'K' : 'L'));
    CHECK(lower::estimators_reference().find("| " + std::string(e.name) + " | ") != std::string::npos);
  }
  CHECK(lower::find_estimator("nosuch") == nullptr);
  CHECK(&lower::default_estimator() == &all.front());
  CHECK(lower::closed_form_estimator().closed_form_kl);
  // vmc::Estimator's values index the registry (api/vmc.cpp): the names must line up.
  auto at = [&](vmc::Estimator e) { return all.at(static_cast<std::size_t>(e)).name; };
  CHECK(at(vmc::Estimator::A) == "A");
  CHECK(at(vmc::Estimator::B) == "B");
  CHECK(at(vmc::Estimator::Iwae) == "iwae");
  CHECK(at(vmc::Estimator::Stl) == "stl");
  CHECK(all.size() == 4);  // a new estimator is appended to vmc::Estimator too
}

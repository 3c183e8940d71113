// Trainer::sample over every row of a subsampled plate, `chunk` rows per kernel call (vmc sample
// --from guide, issue 21: it returned the codes of the first 100 rows only): the same draws as
// one call over all rows, the global values once per draw.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "digits_vae.hpp"

using vmc::unit_test::DigitsVae;

TEST_CASE("sample: a local latent's draws over all rows, in chunks, equal one call's") {
  DigitsVae vae("gaussian_vae", {"elbo_grad", "sample_guide"});
  vmc::runtime::Trainer t = vae.trainer(1);
  t.step();
  const std::int64_t n = vae.x.shape[0];  // 1797 rows
  vmc::runtime::Draws whole = t.sample("sample_guide", 3, n, 7);
  for (std::int64_t chunk : {100, 1000, 1797, 5000}) {
    CAPTURE(chunk);
    vmc::runtime::Draws parts = t.sample("sample_guide", 3, n, 7, nullptr, {}, chunk);
    CHECK(parts.count == 3);
    REQUIRE(parts.names == whole.names);
    CHECK(parts.shapes == whole.shapes);
    for (std::size_t k = 0; k < whole.values.size(); ++k) {
      CAPTURE(whole.names[k]);
      CHECK(parts.values[k] == whole.values[k]);
    }
  }
  // The codes are per row: one draw's z is 1797 x J, and rows differ.
  std::size_t z = 0;
  while (z < whole.names.size() && whole.names[z] != "z") ++z;
  REQUIRE(z < whole.names.size());
  CHECK(whole.shapes[z][0] == n);
  CHECK(whole.values[z].size() == static_cast<std::size_t>(3 * n * whole.shapes[z][1]));
  // Fewer rows than asked for: the first ones, the same values as the whole run's.
  vmc::runtime::Draws first = t.sample("sample_guide", 1, 150, 7, nullptr, {}, 64);
  CHECK(first.shapes[z][0] == 150);
  const std::int64_t J = whole.shapes[z][1];
  for (std::int64_t e = 0; e < 150 * J; ++e) CHECK(first.values[z][e] == whole.values[z][e]);
}

// Symbolic extents: the size of one tensor dimension as a polynomial over dim names with integer
// coefficients. `vmc check` runs without data, so N and D may stay symbols; dims with a known
// value are substituted before an Extent is built, so extents become constants where possible.
// Two extents are equal exactly when their canonical forms are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmc::sema {

// Thrown when an extent's coefficient leaves the int64 range; only shape evaluation and the
// summary multiply extents, and both catch it.
struct ExtentOverflow : std::overflow_error {
  ExtentOverflow() : std::overflow_error("extent too large") {}
};

class Extent {
 public:
  // Dim names in sorted order, repeated for powers (`J*J` is {"J", "J"}); empty for the
  // constant term.
  using Monomial = std::vector<std::string>;

  Extent() = default;  // zero
  static Extent constant(std::int64_t value);
  static Extent symbol(std::string dim);

  friend Extent operator+(const Extent& a, const Extent& b);
  friend Extent operator-(const Extent& a, const Extent& b);
  friend Extent operator*(const Extent& a, const Extent& b);
  Extent operator-() const;
  bool operator==(const Extent&) const = default;

  // The value when no dim symbol is left.
  std::optional<std::int64_t> constant_value() const;
  // Replaces the named dims by their values.
  Extent substitute(const std::map<std::string, std::int64_t>& values) const;
  // Nonzero terms, keyed by monomial; the zero polynomial has none.
  const std::map<Monomial, std::int64_t>& terms() const { return terms_; }

  // `400`, `N`, `2*J + 1`, `D*N - 3`, `J^2`: highest degree first, then alphabetical.
  std::string to_string() const;

 private:
  void add_term(const Monomial& m, std::int64_t coefficient);

  std::map<Monomial, std::int64_t> terms_;
};

}  // namespace vmc::sema

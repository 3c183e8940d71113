// The command line's checks of numbers (CLI11 validators), with readable messages: CLI11's own
// Range lets NaN through (every comparison with it is false), reads "-1" as 2^64 - 1 for an
// unsigned option and prints its bounds with std::to_string ("not in range 0.000000 to
// 179769313486231570814527423731704356798070567525844996598917476803157...").
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

namespace vmc::driver {

// A finite real number above `lo` (or at least `lo` unless `strict`): refuses NaN and inf.
inline CLI::Validator real_number(double lo, bool strict) {
  char bound[32];
  std::snprintf(bound, sizeof bound, "%g", lo);
  const std::string rule = std::string(strict ? "> " : ">= ") + bound;
  return CLI::Validator(
      [lo, strict, rule](std::string& input) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(input, v)) return "'" + input + "' is not a number";
        if (!std::isfinite(v)) return "'" + input + "' is not a finite number (it must be " + rule + ")";
        if (strict ? !(v > lo) : !(v >= lo)) return "'" + input + "': it must be " + rule;
        return {};
      },
      strict && lo == 0 ? "POSITIVE" : lo == 0 ? "NONNEGATIVE" : "NUMBER " + rule);
}

// A decimal integer from `lo` to `hi`: refuses signs where they cannot be, values past the type
// (strtoll would saturate, strtoull wrap "-1") and the octal/hex readings of a leading 0.
inline CLI::Validator integer_number(std::int64_t lo, std::int64_t hi, const std::string& hi_note = "") {
  const std::string range = hi == std::numeric_limits<std::int64_t>::max()
                                ? "at least " + std::to_string(lo)
                                : "from " + std::to_string(lo) + " to " + std::to_string(hi) + hi_note;
  return CLI::Validator(
      [lo, hi, hi_note](std::string& input) -> std::string {
        std::int64_t v = 0;
        const char* b = input.data() + (input.starts_with('+') ? 1 : 0);
        const char* e = input.data() + input.size();
        auto [end, ec] = std::from_chars(b, e, v);
        if (b == e || end != e || (ec != std::errc() && ec != std::errc::result_out_of_range))
          return "'" + input + "' is not an integer";
        if (ec == std::errc::result_out_of_range ? input.starts_with('-') : v < lo)
          return "'" + input + "': it must be at least " + std::to_string(lo);
        if (ec == std::errc::result_out_of_range || v > hi)
          return "'" + input + "': it must be at most " + std::to_string(hi) + hi_note;
        input = std::to_string(v);  // what CLI11 converts next: plain decimal
        return {};
      },
      lo == 0 && hi == std::numeric_limits<std::int64_t>::max() ? "NONNEGATIVE" : range);
}

// A seed: an integer from 0 to 2^63 - 1.
inline CLI::Validator seed_number() {
  return integer_number(0, std::numeric_limits<std::int64_t>::max());
}

}  // namespace vmc::driver

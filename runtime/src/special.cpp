// The scalar special functions generated code calls back into and the reference interpreter
// uses as its definition of each op (compiler/ir/special.hpp wraps these), so compiled and
// interpreted models agree to the last bit.
#include "vmc/abi.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace {
constexpr double kPi = std::numbers::pi;
}  // namespace

extern "C" {

double vmc_lgamma(double x) { return std::lgamma(x); }

double vmc_digamma(double x) {
  if (std::isnan(x) || x == -std::numeric_limits<double>::infinity()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (x <= 0 && std::floor(x) == x) return std::numeric_limits<double>::quiet_NaN();
  double result = 0;
  if (x < 0) {  // reflection: ψ(1 − x) − ψ(x) = π cot(πx)
    result -= kPi / std::tan(kPi * x);
    x = 1 - x;
  }
  while (x < 10) {  // recurrence ψ(x) = ψ(x + 1) − 1/x up to where the series is accurate
    result -= 1 / x;
    x += 1;
  }
  double f = 1 / (x * x);
  double series = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 +
                  f * (-1.0 / 132 + f * (691.0 / 32760 + f * (-1.0 / 12)))))));
  return result + std::log(x) - 0.5 / x + series;
}

double vmc_trigamma(double x) {
  if (std::isnan(x)) return x;
  if (x <= 0 && std::floor(x) == x) return std::numeric_limits<double>::infinity();
  double result = 0;
  if (x < 0) {  // reflection: ψ1(1 − x) + ψ1(x) = π² / sin²(πx)
    double s = std::sin(kPi * x);
    return -vmc_trigamma(1 - x) + kPi * kPi / (s * s);
  }
  while (x < 10) {
    result += 1 / (x * x);
    x += 1;
  }
  double f = 1 / (x * x);
  double series = 1 / x + f / 2 +
                  f / x * (1.0 / 6 + f * (-1.0 / 30 + f * (1.0 / 42 + f * (-1.0 / 30 +
                  f * (5.0 / 66 + f * (-691.0 / 2730 + f * (7.0 / 6)))))));
  return result + series;
}

// Wichura's algorithm AS 241 (PPND16), accurate to about 1e-16.
double vmc_ndtri(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  double q = p - 0.5;
  if (std::abs(q) <= 0.425) {
    double r = 0.180625 - q * q;
    return q *
           (((((((2509.0809287301226727 * r + 33430.575583588128105) * r +
                 67265.770927008700853) * r + 45921.953931549871457) * r +
               13731.693765509461125) * r + 1971.5909503065514427) * r +
             133.14166789178437745) * r + 3.387132872796366608) /
           (((((((5226.495278852545925 * r + 28729.085735721942674) * r +
                 39307.89580009271061) * r + 21213.794301586595867) * r +
               5394.1960214247511077) * r + 687.1870074920579083) * r +
             42.313330701600911252) * r + 1.0);
  }
  double r = q < 0 ? p : 1 - p;
  r = std::sqrt(-std::log(r));
  double x;
  if (r <= 5) {
    r -= 1.6;
    x = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r +
              0.24178072517745061177) * r + 1.27045825245236838258) * r +
            3.64784832476320460504) * r + 5.7694972214606914055) * r +
          4.6303378461565452959) * r + 1.42343711074968357734) /
        (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r +
              0.0151986665636164571966) * r + 0.14810397642748007459) * r +
            0.68976733498510000455) * r + 1.6763848301838038494) * r +
          2.05319162663775882187) * r + 1.0);
  } else {
    r -= 5;
    x = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
              0.0012426609473880784386) * r + 0.026532189526576123093) * r +
            0.29656057182850489123) * r + 1.7848265399172913358) * r +
          5.4637849111641143699) * r + 6.6579046435011037772) /
        (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r +
              1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r +
            0.0148753612908506148525) * r + 0.13692988092273580531) * r +
          0.59983220655588793769) * r + 1.0);
  }
  return q < 0 ? -x : x;
}

}  // extern "C"

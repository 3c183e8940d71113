#include "driver/initial_values.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "lower/lower.hpp"
#include "support/diagnostics.hpp"

namespace vmc::driver {
namespace {

constexpr std::int64_t kDraws = 4;

bool has_support_kernel(const runtime::Trainer& t) {
  const vmc_model_info& info = t.info();
  for (int i = 0; i < info.n_kernels; ++i) {
    if (std::string(info.kernels[i].name) == "support") return true;
  }
  return false;
}

bool inside(double v, dist::Support s) {
  if (s == dist::Support::Positive) return v > 0;  // NaN is outside
  return v >= 0 && v <= 1;
}

std::string value_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

struct Found {
  std::size_t check;
  double value;
  std::int64_t element, elements, draw;
};

// Every check's first value outside its support over the draws.
std::vector<Found> outside(const Bound& b, runtime::Trainer& t, std::int64_t draws, std::uint64_t stream) {
  std::vector<Found> out;
  const std::vector<lower::SupportCheck>& checks = b.fe.lowered->support_checks;
  if (checks.empty() || !has_support_kernel(t)) return out;
  std::int64_t rows = std::min<std::int64_t>(t.batch_size() > 0 ? t.batch_size() : 1, 100);
  runtime::Draws d = t.sample("support", draws, rows, stream);
  for (std::size_t k = 0; k < d.names.size() && k < checks.size(); ++k) {
    const std::vector<double>& v = d.values[k];
    const std::int64_t per = d.count > 0 ? static_cast<std::int64_t>(v.size()) / d.count : 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!inside(v[i], checks[k].support)) {
        auto at = static_cast<std::int64_t>(i);
        out.push_back({k, v[i], per > 0 ? at % per : 0, per, per > 0 ? at / per : 0});
        break;
      }
    }
  }
  return out;
}

std::string what(const lower::SupportCheck& c) { return "the " + c.param + " of the " + c.family; }

}  // namespace

bool check_supports(const Bound& b, runtime::Trainer& trainer, const std::string& when) {
  std::vector<Found> found = outside(b, trainer, kDraws, kStreamSupport);
  if (found.empty()) return true;
  Diagnostics diags;
  std::size_t shown = 0;
  for (const Found& f : found) {
    if (++shown > 5) break;
    const lower::SupportCheck& c = b.fe.lowered->support_checks[f.check];
    std::string element = f.elements > 1 ? " (element " + std::to_string(f.element) + " of " +
                                               std::to_string(f.elements) + ")"
                                         : "";
    std::string hint;
    if (c.bare_param && c.support == dist::Support::Positive) {
      hint = "; a param on the whole real line needs exp(" + std::string(c.arg.file->text().substr(c.arg.begin, c.arg.end - c.arg.begin)) +
             ") here, or a declaration <lower=0>";
    }
    diags.error(c.arg, "the " + c.param + " of this " + c.family + " is " + value_text(f.value) + element + " " + when +
                           ", outside its support " + dist::to_string(c.support) + hint);
  }
  render(std::cerr, diags);
  if (found.size() > 5) std::cerr << "... and " << found.size() - 5 << " more arguments outside their support\n";
  return false;
}

std::string support_problem(const Bound& b, runtime::Trainer& trainer, std::uint64_t draw) {
  std::vector<Found> found;
  try {
    found = outside(b, trainer, 1, kStreamSupport + 16 * (draw + 1));
  } catch (const std::exception&) {
    return "";
  }
  if (found.empty()) return "";
  const lower::SupportCheck& c = b.fe.lowered->support_checks[found.front().check];
  const LineCol at = c.arg.file->line_col(c.arg.begin);
  return what(c) + " at " + c.arg.file->path() + ":" + std::to_string(at.line) + ":" + std::to_string(at.col) +
         " is " + value_text(found.front().value) + ", outside " + dist::to_string(c.support);
}

}  // namespace vmc::driver

#include "support/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace vmc {
namespace {

// Damerau–Levenshtein (optimal string alignment) distance in units of 2, where an edit that only
// changes a letter's case costs 1: `dec_w` is closer to `dec_W` than to `dec_b`.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = 2 * i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = 2 * j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = 0;
      if (a[i - 1] != b[j - 1]) {
        bool case_only = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                         std::tolower(static_cast<unsigned char>(b[j - 1]));
        sub = case_only ? 1 : 2;
      }
      d[i][j] = std::min({d[i - 1][j] + 2, d[i][j - 1] + 2, d[i - 1][j - 1] + sub});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 2);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string closest_match(std::string_view name, const std::vector<std::string>& candidates) {
  // Allow about one edit per three characters, at least one, but never an edit of every
  // character: 'v' is no typo of 'a'.
  std::size_t limit = std::min(2 * std::max<std::size_t>(1, name.size() / 3), 2 * name.size() - 1);
  std::string best;
  std::size_t best_d = limit + 1;
  for (const std::string& c : candidates) {
    if (c == name) continue;
    std::size_t dist = distance(name, c);
    if (dist < best_d || (dist == best_d && c < best)) {
      best_d = dist;
      best = c;
    }
  }
  return best_d <= limit ? best : std::string();
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  std::string m = closest_match(name, candidates);
  return m.empty() ? std::string() : "; did you mean '" + m + "'?";
}

std::string join(const std::vector<std::string>& items, const std::string& last) {
  std::string out;
  for (std::size_t k = 0; k < items.size(); ++k) out += (k == 0 ? "" : k + 1 == items.size() ? last : ", ") + items[k];
  return out;
}

}  // namespace vmc

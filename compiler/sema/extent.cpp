#include "sema/extent.hpp"

#include <algorithm>

namespace vmc::sema {
namespace {

std::int64_t checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw ExtentOverflow();
  return r;
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw ExtentOverflow();
  return r;
}

// `J^2*N` for {"J", "J", "N"}.
std::string monomial_text(const Extent::Monomial& m) {
  std::string out;
  for (std::size_t i = 0; i < m.size();) {
    std::size_t j = i;
    while (j < m.size() && m[j] == m[i]) ++j;
    if (!out.empty()) out += '*';
    out += m[i];
    if (j - i > 1) out += '^' + std::to_string(j - i);
    i = j;
  }
  return out;
}

}  // namespace

Extent Extent::constant(std::int64_t value) {
  Extent e;
  e.add_term({}, value);
  return e;
}

Extent Extent::symbol(std::string dim) {
  Extent e;
  e.add_term({std::move(dim)}, 1);
  return e;
}

void Extent::add_term(const Monomial& m, std::int64_t coefficient) {
  if (coefficient == 0) return;
  auto [it, inserted] = terms_.emplace(m, coefficient);
  if (inserted) return;
  it->second = checked_add(it->second, coefficient);
  if (it->second == 0) terms_.erase(it);
}

Extent operator+(const Extent& a, const Extent& b) {
  Extent r = a;
  for (const auto& [m, c] : b.terms_) r.add_term(m, c);
  return r;
}

Extent Extent::operator-() const {
  Extent r;
  for (const auto& [m, c] : terms_) r.add_term(m, checked_mul(c, -1));
  return r;
}

Extent operator-(const Extent& a, const Extent& b) { return a + -b; }

Extent operator*(const Extent& a, const Extent& b) {
  Extent r;
  for (const auto& [ma, ca] : a.terms_) {
    for (const auto& [mb, cb] : b.terms_) {
      Extent::Monomial m = ma;
      m.insert(m.end(), mb.begin(), mb.end());
      std::sort(m.begin(), m.end());
      r.add_term(m, checked_mul(ca, cb));
    }
  }
  return r;
}

std::optional<std::int64_t> Extent::constant_value() const {
  if (terms_.empty()) return 0;
  if (terms_.size() == 1 && terms_.begin()->first.empty()) return terms_.begin()->second;
  return std::nullopt;
}

Extent Extent::substitute(const std::map<std::string, std::int64_t>& values) const {
  Extent r;
  for (const auto& [m, c] : terms_) {
    Extent term = constant(c);
    for (const std::string& dim : m) {
      auto it = values.find(dim);
      term = term * (it == values.end() ? symbol(dim) : constant(it->second));
    }
    r = r + term;
  }
  return r;
}

std::string Extent::to_string() const {
  if (terms_.empty()) return "0";
  std::vector<std::pair<Monomial, std::int64_t>> order(terms_.begin(), terms_.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return x.first.size() > y.first.size();
  });
  std::string out;
  for (const auto& [m, c] : order) {
    bool negative = c < 0;
    // Spelled out rather than negated: -INT64_MIN does not exist.
    std::string magnitude = std::to_string(c);
    if (negative) magnitude.erase(0, 1);
    if (!out.empty()) out += negative ? " - " : " + ";
    else if (negative) out += '-';
    if (m.empty()) out += magnitude;
    else if (magnitude == "1") out += monomial_text(m);
    else out += magnitude + "*" + monomial_text(m);
  }
  return out;
}

}  // namespace vmc::sema

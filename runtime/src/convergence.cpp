// Iterate-based convergence (runtime/include/vmc/convergence.hpp).
#include "vmc/convergence.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace vmc::runtime {
namespace {

template <typename V> void put(std::string& out, const V& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
template <typename V> V get(const std::string& in, std::size_t& at) {
  if (in.size() - at < sizeof(V)) throw std::runtime_error("the convergence state is truncated");
  V v;
  std::memcpy(&v, in.data() + at, sizeof v);
  at += sizeof v;
  return v;
}
void put_vec(std::string& out, const std::vector<double>& v) {
  put<std::uint64_t>(out, v.size());
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
}
std::vector<double> get_vec(const std::string& in, std::size_t& at) {
  auto n = get<std::uint64_t>(in, at);
  if (n > (in.size() - at) / sizeof(double)) throw std::runtime_error("the convergence state is truncated");
  std::vector<double> v(n);
  std::memcpy(v.data(), in.data() + at, n * sizeof(double));
  at += n * sizeof(double);
  return v;
}

constexpr std::size_t kKeptRows = 1024;  // iterates kept (twice that at most), thinned past it: a checkpoint holds them

// Every other row of `rows` (each `width` values), at twice the stride.
void thin(std::vector<double>& rows, std::vector<std::int64_t>& steps, std::size_t width, std::int64_t& stride) {
  std::size_t out = 0;
  for (std::size_t r = 0; r < steps.size(); r += 2, ++out) {
    std::copy_n(rows.begin() + static_cast<long>(r * width), width, rows.begin() + static_cast<long>(out * width));
    steps[out] = steps[r];
  }
  rows.resize(out * width);
  steps.resize(out);
  stride *= 2;
}

// Split R̂ of `chains` equal chunks (Gelman et al., BDA3 §11.4).
double split_rhat(const std::vector<double>& x, int chains, double& spread) {
  const std::size_t n = x.size() / static_cast<std::size_t>(chains);
  spread = INFINITY;
  if (n < 2) return INFINITY;
  double mean_of_means = 0, within = 0;
  std::vector<double> means(static_cast<std::size_t>(chains));
  for (int c = 0; c < chains; ++c) {
    const double* v = x.data() + static_cast<std::size_t>(c) * n;
    double m = 0;
    for (std::size_t i = 0; i < n; ++i) m += v[i];
    m /= static_cast<double>(n);
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += (v[i] - m) * (v[i] - m);
    within += s / static_cast<double>(n - 1);
    means[static_cast<std::size_t>(c)] = m;
    mean_of_means += m;
  }
  within /= chains;
  mean_of_means /= chains;
  auto [lo, hi] = std::minmax_element(means.begin(), means.end());
  spread = *hi - *lo;
  double between = 0;
  for (double m : means) between += (m - mean_of_means) * (m - mean_of_means);
  between *= static_cast<double>(n) / (chains - 1);
  if (!(within > 0)) return between > 0 ? INFINITY : 1.0;
  double var_plus = (static_cast<double>(n) - 1) / static_cast<double>(n) * within + between / static_cast<double>(n);
  return std::sqrt(var_plus / within);
}

// The effective sample size of x by Geyer's initial monotone sequence estimator of the
// autocorrelations (as Stan's), and its standard deviation.
double effective_size(const std::vector<double>& x, double& sd) {
  const std::size_t n = x.size();
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(n);
  auto autocov = [&](std::size_t lag) {
    double c = 0;
    for (std::size_t i = 0; i + lag < n; ++i) c += (x[i] - mean) * (x[i + lag] - mean);
    return c / static_cast<double>(n);
  };
  const double c0 = autocov(0);
  sd = std::sqrt(c0 * static_cast<double>(n) / static_cast<double>(n - 1));
  if (!(c0 > 0)) return static_cast<double>(n);
  double tau = -1, previous = INFINITY;
  for (std::size_t k = 0; 2 * k + 1 < n; ++k) {
    double pair = (autocov(2 * k) + autocov(2 * k + 1)) / c0;
    if (pair <= 0) break;
    pair = std::min(pair, previous);  // monotone
    tau += 2 * pair;
    previous = pair;
  }
  return static_cast<double>(n) / std::max(tau, 1.0 / std::log10(static_cast<double>(n) + 10));
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

Convergence::Convergence(std::vector<std::string> names, std::vector<std::int64_t> sizes, ConvergenceOptions options,
                         ScaleFn scales, std::vector<bool> watched)
    : names_(std::move(names)), sizes_(std::move(sizes)), o_(options), scales_(std::move(scales)) {
  std::size_t total = 0;
  std::vector<std::size_t> candidates;  // the watched params' components
  for (std::size_t p = 0; p < sizes_.size(); ++p) {
    for (std::int64_t k = 0; k < sizes_[p]; ++k) {
      if (watched.empty() || watched[p]) candidates.push_back(total + static_cast<std::size_t>(k));
    }
    total += static_cast<std::size_t>(sizes_[p]);
  }
  const std::size_t count = std::min(candidates.size(), o_.max_tracked);
  for (std::size_t i = 0; i < count; ++i) tracked_.push_back(candidates[i * candidates.size() / count]);
  sum_.assign(total, 0.0);
}

std::string Convergence::component(std::size_t k) const {
  std::size_t at = 0;
  for (std::size_t p = 0; p < names_.size(); ++p) {
    auto n = static_cast<std::size_t>(sizes_[p]);
    if (k < at + n) return sizes_[p] == 1 ? "'" + names_[p] + "'" : "'" + names_[p] + "'[" + std::to_string(k - at) + "]";
    at += n;
  }
  return "component " + std::to_string(k);
}

bool Convergence::observe(std::int64_t step, const std::vector<double>& params) {
  const std::size_t t = tracked_.size();
  if (!status_.stationary) {
    if (step % row_stride_ == 0) {
      for (std::size_t j = 0; j < t; ++j) rows_.push_back(params[tracked_[j]]);
      row_steps_.push_back(step);
      if (row_steps_.size() > 2 * kKeptRows) thin(rows_, row_steps_, t, row_stride_);
    }
  } else {
    for (std::size_t k = 0; k < sum_.size(); ++k) sum_[k] += params[k];
    if (status_.averaged % kept_stride_ == 0) {
      for (std::size_t j = 0; j < t; ++j) kept_.push_back(params[tracked_[j]]);
      if (kept_.size() / std::max<std::size_t>(t, 1) > kKeptRows) {  // every other row, at twice the stride
        std::size_t rows = kept_.size() / t, out = 0;
        for (std::size_t r = 0; r < rows; r += 2, ++out) std::copy_n(kept_.begin() + r * t, t, kept_.begin() + out * t);
        kept_.resize(out * t);
        kept_stride_ *= 2;
      }
    }
    ++status_.averaged;
    last_ = params;
  }
  if (step % o_.check_every != 0) return false;
  return check(step, params);
}

bool Convergence::check(std::int64_t step, const std::vector<double>& params) {
  const std::size_t t = tracked_.size();
  // No params (a model whose guide is fixed): nothing moves, so the first check ends the fit.
  if (t == 0) {
    status_.stationary = status_.converged = true;
    status_.averaged_from = step + 1;
    return true;
  }
  if (!status_.stationary) {
    // The second half of the iterates since the search began.
    const std::int64_t half = status_.search_from + (step - status_.search_from) / 2;
    std::size_t first = 0;
    while (first < row_steps_.size() && row_steps_[first] <= half) ++first;
    const std::size_t n = row_steps_.size() - first;
    if (step - half < o_.min_window || n < 8) return false;
    std::vector<double> x(n);
    double worst = 0;
    std::size_t worst_k = 0;
    std::vector<double> scale(params.size(), 1.0);
    if (scales_) scales_(params, scale);
    for (std::size_t j = 0; j < t; ++j) {
      for (std::size_t i = 0; i < n; ++i) x[i] = rows_[(first + i) * t + j];
      double spread = 0;
      double r = split_rhat(std::vector<double>(x.end() - static_cast<long>(n / 4 * 4), x.end()), 4, spread);
      // A component whose chunks' means differ by a small fraction of its scale has stopped
      // moving for the posterior's purposes, even if slowly (a flat direction of the bound).
      if (spread < o_.drift * scale[tracked_[j]]) continue;
      if (!(r <= worst)) worst = r, worst_k = tracked_[j];
    }
    status_.rhat = worst;
    status_.rhat_of = component(worst_k);
    if (worst < o_.rhat) {
      rows_.clear();
      row_steps_.clear();
      row_stride_ = 1;
      if (status_.halvings < o_.halvings) {
        ++status_.halvings;
        status_.search_from = step;
        status_.rhat = 0;
      } else {
        status_.stationary = true;
        status_.averaged_from = step + 1;
      }
    }
    return false;
  }
  if (status_.averaged < o_.min_averaged) return false;
  // The check's cost grows with the averaged iterates kept: at most every tenth of them.
  if (step - last_check_ < status_.averaged / 10) return false;
  last_check_ = step;
  std::vector<double> avg = average(), scale(avg.size(), 1.0);
  if (scales_) scales_(avg, scale);
  const std::size_t rows = kept_.size() / t;
  std::vector<double> x(rows);
  double worst = 0;
  std::size_t worst_k = 0;
  double fewest = INFINITY;
  for (std::size_t j = 0; j < t; ++j) {
    for (std::size_t r = 0; r < rows; ++r) x[r] = kept_[r * t + j];
    double s = scale[tracked_[j]], sd = 0;
    double ess = effective_size(x, sd);
    double ratio = sd / std::sqrt(ess) / (s > 0 ? s : 1.0);
    if (!(ratio <= worst)) worst = ratio, worst_k = tracked_[j];
    // The effective size matters where the error is near the tolerance: a component that
    // barely moves (a flat direction's slow wander, a tiny sd) has a small one and no error.
    if (ratio > o_.mcse / 4) fewest = std::min(fewest, ess);
  }
  status_.mcse = worst;
  status_.mcse_of = component(worst_k);
  status_.ess = fewest;
  status_.converged = worst < o_.mcse && fewest >= o_.min_ess;
  return status_.converged;
}

std::vector<double> Convergence::average() const {
  if (!status_.stationary || status_.averaged == 0) return {};
  std::vector<double> out(sum_.size());
  for (std::size_t k = 0; k < sum_.size(); ++k) out[k] = sum_[k] / static_cast<double>(status_.averaged);
  return out;
}

std::string Convergence::why_not() const {
  if (status_.converged) return "";
  if (!status_.stationary) {
    std::string at = status_.halvings > 0 ? " at the step size halved " + std::to_string(status_.halvings) +
                                                " time" + (status_.halvings > 1 ? "s" : "") + " (from step " +
                                                std::to_string(status_.search_from) + ")"
                                          : "";
    if (status_.rhat == 0) {
      return "too few steps to tell whether the iterates are stationary" + at + " (R̂ needs " +
             std::to_string(2 * o_.min_window) + ")";
    }
    return "the iterates are not stationary" + at + ": R̂ " + number(status_.rhat) + " of " + status_.rhat_of +
           " (> " + number(o_.rhat) + ")";
  }
  if (status_.mcse == 0) {
    return "the iterates are stationary from step " + std::to_string(status_.averaged_from) + ", but " +
           std::to_string(status_.averaged) + " averaged are too few to tell (" + std::to_string(o_.min_averaged) +
           " needed)";
  }
  if (status_.mcse < o_.mcse) {
    return "averaged over the " + std::to_string(status_.averaged) + " steps from " +
           std::to_string(status_.averaged_from) + ", the effective sample size is " + number(status_.ess) +
           " (< " + number(o_.min_ess) + ")";
  }
  return "averaged over the " + std::to_string(status_.averaged) + " steps from " +
         std::to_string(status_.averaged_from) + ", the Monte Carlo error of " + status_.mcse_of + " is " +
         number(status_.mcse) + " of its scale (> " + number(o_.mcse) + ")";
}

std::string Convergence::save() const {
  std::string out;
  put<std::uint64_t>(out, sum_.size());
  put<std::uint64_t>(out, tracked_.size());
  put_vec(out, rows_);
  put<std::uint64_t>(out, row_steps_.size());
  for (std::int64_t st : row_steps_) put(out, st);
  put(out, row_stride_);
  put_vec(out, sum_);
  put_vec(out, kept_);
  put(out, kept_stride_);
  put_vec(out, last_);
  put<std::uint8_t>(out, status_.stationary);
  put<std::uint8_t>(out, status_.converged);
  put(out, status_.averaged_from);
  put(out, status_.averaged);
  put(out, status_.rhat);
  put(out, status_.mcse);
  put(out, status_.halvings);
  put(out, status_.search_from);
  return out;
}

void Convergence::restore(const std::string& bytes) {
  std::size_t at = 0;
  if (get<std::uint64_t>(bytes, at) != sum_.size() || get<std::uint64_t>(bytes, at) != tracked_.size()) {
    throw std::runtime_error("the convergence state is of other params");
  }
  Convergence c = *this;
  c.rows_ = get_vec(bytes, at);
  auto steps = get<std::uint64_t>(bytes, at);
  if (steps > (bytes.size() - at) / 8) throw std::runtime_error("the convergence state is truncated");
  c.row_steps_.resize(steps);
  for (std::int64_t& st : c.row_steps_) st = get<std::int64_t>(bytes, at);
  c.row_stride_ = get<std::int64_t>(bytes, at);
  c.sum_ = get_vec(bytes, at);
  c.kept_ = get_vec(bytes, at);
  c.kept_stride_ = get<std::int64_t>(bytes, at);
  c.last_ = get_vec(bytes, at);
  c.status_.stationary = get<std::uint8_t>(bytes, at) != 0;
  c.status_.converged = get<std::uint8_t>(bytes, at) != 0;
  c.status_.averaged_from = get<std::int64_t>(bytes, at);
  c.status_.averaged = get<std::int64_t>(bytes, at);
  c.status_.rhat = get<double>(bytes, at);
  c.status_.mcse = get<double>(bytes, at);
  c.status_.halvings = get<int>(bytes, at);
  c.status_.search_from = get<std::int64_t>(bytes, at);
  if (c.sum_.size() != sum_.size() || c.rows_.size() != c.row_steps_.size() * tracked_.size() ||
      c.row_stride_ < 1 || c.kept_stride_ < 1 || c.status_.halvings < 0 || c.status_.halvings > 60 || (!c.last_.empty() && c.last_.size() != sum_.size()) || (tracked_.empty() ? !c.kept_.empty() : c.kept_.size() % tracked_.size() != 0) ||
      at != bytes.size()) {
    throw std::runtime_error("the convergence state is damaged");
  }
  *this = std::move(c);
}

}  // namespace vmc::runtime

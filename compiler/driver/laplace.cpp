#include "driver/laplace.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "vmc/laplace.hpp"

namespace vmc::driver {
namespace {

// Where each param's values sit in all_params order.
struct Layout {
  std::map<std::string, std::pair<std::size_t, std::size_t>> at;  // name → (offset, size)
  bool has(const std::string& n) const { return at.count(n) > 0; }
  std::size_t offset(const std::string& n) const { return at.at(n).first; }
  std::size_t size(const std::string& n) const { return at.at(n).second; }
};

// One block of the mode's coordinates: a latent's loc (meanfield) or the joint one (fullrank).
struct Block {
  std::string base;  // "w" (w.loc, w.scale, w.center, w.unit) or "guide"
  bool joint = false;
  std::size_t n = 0;
};

}  // namespace

std::optional<std::pair<std::size_t, std::size_t>> joint_loc(
    const std::map<std::string, std::pair<std::size_t, std::size_t>>& at) {
  auto center = at.find("guide.center");
  if (center == at.end()) return std::nullopt;
  std::vector<std::pair<std::size_t, std::size_t>> parts;
  for (const auto& [name, where] : at) {
    if (!name.ends_with(".loc") || name == "guide.loc") continue;
    std::string base = name.substr(0, name.size() - 4);
    if (!at.count(base + ".center") && !at.count(base + ".scale")) parts.push_back(where);
  }
  std::sort(parts.begin(), parts.end());
  if (parts.empty()) return std::nullopt;
  std::size_t end = parts.front().first;
  for (const auto& [offset, size] : parts) {
    if (offset != end) return std::nullopt;  // not one run of params
    end += size;
  }
  if (end - parts.front().first != center->second.second) return std::nullopt;
  return std::make_pair(parts.front().first, end - parts.front().first);
}

namespace {

constexpr std::size_t kMaxDense = 1000;  // elements of a block with a dense precision at most

// The automatic guide's blocks (a joint block's location seen as one param "guide.loc", added to
// the layout), or none when the params are not an automatic guide's over global latents alone.
std::vector<Block> guide_blocks(Layout& layout) {
  std::optional<std::pair<std::size_t, std::size_t>> joint = joint_loc(layout.at);
  if (joint) layout.at["guide.loc"] = *joint;
  std::vector<Block> blocks;
  for (const auto& [name, where] : layout.at) {
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".center") != 0) continue;
    std::string base = name.substr(0, name.size() - 7);
    std::size_t n = where.second;
    if (base == "guide" && layout.has("guide.loc") && layout.has("guide.chol") && layout.has("guide.unit")) {
      blocks.push_back({base, true, n});
    } else if (layout.has(base + ".loc") && layout.has(base + ".scale") && layout.has(base + ".unit")) {
      blocks.push_back({base, false, n});
    }
  }
  // Any other guide param (a local latent's loc and scale) means this is not a model of global
  // latents alone.
  for (const auto& [name, where] : layout.at) {
    bool auto_param = name.ends_with(".loc") || name.ends_with(".scale") || name.ends_with(".chol");
    if (!auto_param) continue;
    std::string base = name.substr(0, name.rfind('.'));
    bool in_joint = joint && where.first >= joint->first && where.first < joint->first + joint->second;
    if (!layout.has(base + ".center") && !in_joint) return {};
  }
  return blocks;
}

// The params with the guide shrunk to a point at its loc: every scale e^-30, the frame the
// identity, lowrank's factor 0.
std::vector<double> point_guide(std::vector<double> point, const std::vector<Block>& blocks, const Layout& layout) {
  for (const Block& b : blocks) {
    for (std::size_t k = 0; k < b.n; ++k) {
      point[layout.offset(b.base + ".center") + k] = 0;
      if (b.joint) {
        for (std::size_t j = 0; j < b.n; ++j) {
          point[layout.offset("guide.chol") + k * b.n + j] = j == k ? -30.0 : 0.0;
          point[layout.offset("guide.unit") + k * b.n + j] = 0;
        }
      } else {
        point[layout.offset(b.base + ".scale") + k] = -30;
        point[layout.offset(b.base + ".unit") + k] = 0;
      }
    }
    if (layout.has(b.base + ".factor")) {
      std::size_t f = layout.offset(b.base + ".factor");
      for (std::size_t k = 0; k < layout.size(b.base + ".factor"); ++k) point[f + k] = 0;
    }
  }
  return point;
}

// The largest element of the Newton step from xb, C Cᵀ ∇f, in units of the sd √(C Cᵀ)_kk (C the
// covariance's lower factor, row-major n × n).
double newton_step_in_sds(const runtime::LogDensityFn& f, const std::vector<double>& xb, const std::vector<double>& c) {
  const std::size_t n = xb.size();
  std::vector<double> g;
  f(xb, g);
  std::vector<double> t(n, 0.0);  // Cᵀ g
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t i = j; i < n; ++i) t[j] += c[i * n + j] * g[i];
  }
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double step = 0, var = 0;
    for (std::size_t j = 0; j <= i; ++j) step += c[i * n + j] * t[j], var += c[i * n + j] * c[i * n + j];
    worst = std::max(worst, std::abs(step) / std::sqrt(var));
  }
  return worst;
}

// One block's frame in `frame` from its mode xb and its own log density fb: center the mode, loc
// 0; unit the meanfield sd 1/√P_ii (meanfield, lowrank, and lowrank's factor from the rest of the
// covariance) or the covariance's Cholesky factor (fullrank). "" or why the start is skipped.
std::string block_frame(const Block& b, const Layout& layout, const runtime::LogDensityFn& fb,
                        const std::vector<double>& xb, const runtime::Mode& mode, bool stalled,
                        std::vector<double>& frame, double& jitter) {
  const std::size_t center = layout.offset(b.base + ".center"), unit = layout.offset(b.base + ".unit"),
                    loc = layout.offset(b.base + ".loc");
  for (std::size_t k = 0; k < b.n; ++k) frame[center + k] = xb[k], frame[loc + k] = 0;
  const bool ranked = layout.has(b.base + ".factor") && b.n <= kMaxDense;  // a dense precision to start G from
  if (!b.joint && !stalled && !ranked) {
    // Meanfield: the precision's diagonal alone, one gradient pair per coordinate.
    std::size_t scale = layout.offset(b.base + ".scale");
    std::vector<double> g_plus, g_minus, y = xb;
    for (std::size_t k = 0; k < b.n; ++k) {
      double h = 1e-3 * std::max(1.0, std::abs(xb[k]));
      y[k] = xb[k] + h;
      fb(y, g_plus);
      y[k] = xb[k] - h;
      fb(y, g_minus);
      y[k] = xb[k];
      double p = -(g_plus[k] - g_minus[k]) / (2 * h);
      frame[unit + k] = p > 0 && std::isfinite(p) ? -0.5 * std::log(p) : 0.0;
      frame[scale + k] = 0;
    }
    return "";
  }
  std::vector<double> p = runtime::precision_at(fb, xb);
  std::vector<double> c = runtime::covariance_factor(p, b.n, jitter);
  if (c.empty()) return "the precision at the mode is not finite";
  if (stalled) {
    double worst = newton_step_in_sds(fb, xb, c);
    if (!(worst < 0.25)) {
      char why[160];
      std::snprintf(why, sizeof why, "%s (the mode is still %.2g sd away)", mode.problem.c_str(), worst);
      return why;
    }
  }
  if (ranked) {  // lowrank: the conditional sds as the unit, the rest of the covariance as G
    std::size_t f = layout.offset(b.base + ".factor"), r = layout.size(b.base + ".factor") / b.n;
    std::vector<double> g = runtime::low_rank_start(p, b.n, r);
    for (std::size_t k = 0; k < g.size(); ++k) frame[f + k] = g[k];
  }
  if (!b.joint) {  // meanfield, lowrank: the curvature's diagonal, from the same precision
    std::size_t scale = layout.offset(b.base + ".scale");
    for (std::size_t k = 0; k < b.n; ++k) {
      double pk = p[k * b.n + k];
      frame[unit + k] = pk > 0 && std::isfinite(pk) ? -0.5 * std::log(pk) : 0.0;
      frame[scale + k] = 0;
    }
    return "";
  }
  std::size_t chol = layout.offset("guide.chol");
  for (std::size_t i = 0; i < b.n; ++i) {
    for (std::size_t j = 0; j < b.n; ++j) {
      double v = c[i * b.n + j];
      frame[unit + i * b.n + j] = j < i ? v : j == i ? std::log(v) : 0.0;
      frame[chol + i * b.n + j] = 0;
    }
  }
  return "";
}

}  // namespace

std::optional<LaplaceStart> laplace_start(runtime::Trainer& trainer, std::uint64_t stream) {
  Layout layout;
  std::size_t total = 0;
  for (const std::string& name : trainer.param_names()) {
    std::size_t size = 1;
    for (std::int64_t e : trainer.param_shape(name)) size *= static_cast<std::size_t>(e);
    layout.at[name] = {total, size};
    total += size;
  }
  const std::vector<Block> blocks = guide_blocks(layout);
  if (blocks.empty()) return std::nullopt;

  LaplaceStart out;
  std::vector<double> start;
  trainer.all_params(start);
  std::size_t d = 0;
  for (const Block& b : blocks) d += b.n;
  out.dimensions = static_cast<std::int64_t>(d);
  const double n_data = static_cast<double>(trainer.datapoints());
  std::vector<double> params = point_guide(start, blocks, layout), grad;
  // The log density at x (every block's loc, in order): the bound of the point guide times the
  // datapoints, whose gradient in the locs is that of log p(x, T(u)) + log |T'(u)|.
  runtime::LogDensityFn f = [&](const std::vector<double>& x, std::vector<double>& g) {
    std::size_t at = 0;
    for (const Block& b : blocks) {
      std::size_t loc = layout.offset(b.base + ".loc");
      for (std::size_t k = 0; k < b.n; ++k) params[loc + k] = x[at + k];
      at += b.n;
    }
    trainer.set_params(params);
    double v = trainer.bound_and_gradient(stream, 0, grad) * n_data;
    g.resize(x.size());
    at = 0;
    for (const Block& b : blocks) {
      std::size_t loc = layout.offset(b.base + ".loc");
      for (std::size_t k = 0; k < b.n; ++k) g[at + k] = grad[loc + k] * n_data;
      at += b.n;
    }
    return v;
  };
  std::vector<double> x0;
  for (const Block& b : blocks) {
    std::size_t loc = layout.offset(b.base + ".loc");
    x0.insert(x0.end(), start.begin() + static_cast<long>(loc), start.begin() + static_cast<long>(loc + b.n));
  }
  runtime::Mode mode = runtime::find_mode(f, x0);
  out.iterations = mode.iterations;
  out.evaluations = mode.evaluations;
  out.log_density = mode.value;
  auto keep_start = [&](const std::string& why) {
    trainer.set_params(start);
    out.summary = "Laplace start skipped: " + why;
    return out;
  };
  // Rounding (a float32 model's log density over many datapoints) may stall the search short of
  // a vanishing gradient; a point whose Newton step is a small fraction of the posterior's sd is
  // as good a start (the stochastic phase refines it), so it is judged by that (block_frame).
  const bool stalled = !mode.converged && mode.problem.find("stopped improving") != std::string::npos;
  if (!mode.converged && !stalled) return keep_start(mode.problem);
  bool any_joint = std::any_of(blocks.begin(), blocks.end(), [](const Block& b) { return b.joint; });
  if (any_joint && d > kMaxDense) return keep_start("its covariance would have " + std::to_string(d) + "^2 elements");
  std::vector<double> frame = start;
  std::size_t at = 0;
  for (const Block& b : blocks) {
    std::vector<double> xb(mode.x.begin() + static_cast<long>(at), mode.x.begin() + static_cast<long>(at + b.n));
    // The block's own log density, the others held at their mode.
    runtime::LogDensityFn fb = [&](const std::vector<double>& y, std::vector<double>& g) {
      std::vector<double> x = mode.x, gx;
      std::copy(y.begin(), y.end(), x.begin() + static_cast<long>(at));
      double v = f(x, gx);
      g.assign(gx.begin() + static_cast<long>(at), gx.begin() + static_cast<long>(at + b.n));
      return v;
    };
    double jitter = 0;
    std::string problem = block_frame(b, layout, fb, xb, mode, stalled, frame, jitter);
    if (!problem.empty()) return keep_start(problem);
    if (b.joint) out.jitter = std::max(out.jitter, jitter);
    at += b.n;
  }
  for (double v : frame) {
    if (!std::isfinite(v)) return keep_start("the frame from the mode is not finite");
  }
  trainer.set_params(frame);
  out.applied = true;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "Laplace start: a mode of the %lld unconstrained dimensions in %lld L-BFGS iterations (%lld "
                "evaluations); the guide starts from its %s",
                static_cast<long long>(d), static_cast<long long>(mode.iterations),
                static_cast<long long>(mode.evaluations), any_joint ? "covariance" : "curvature");
  out.summary = buf;
  return out;
}

}  // namespace vmc::driver

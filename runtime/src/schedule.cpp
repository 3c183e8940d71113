// Step-size schedules (runtime/include/vmc/schedule.hpp).
#include "vmc/schedule.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace vmc::runtime {

double LrSchedule::at(std::int64_t t) const {
  switch (kind) {
    case Kind::Step: return std::pow(factor, static_cast<double>(t / every));
    case Kind::InvSqrt: return 1 / std::sqrt(1 + static_cast<double>(t) / tau);
    default: return 1;
  }
}

std::string LrSchedule::text() const {
  char buf[64];
  switch (kind) {
    case Kind::Step: std::snprintf(buf, sizeof buf, "step:%lld:%g", static_cast<long long>(every), factor); return buf;
    case Kind::InvSqrt: std::snprintf(buf, sizeof buf, "invsqrt:%g", tau); return buf;
    case Kind::Adapt: return "adapt";
    default: return "constant";
  }
}

namespace {

bool number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

}  // namespace

std::optional<LrSchedule> parse_lr_schedule(const std::string& text, std::string& problem) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (true) {
    std::size_t colon = text.find(':', at);
    parts.push_back(text.substr(at, colon == std::string::npos ? std::string::npos : colon - at));
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  LrSchedule s;
  const std::string& kind = parts[0];
  double v = 0;
  if (kind == "constant" || kind == "adapt") {
    if (parts.size() > 1) {
      problem = "'" + kind + "' takes no arguments";
      return std::nullopt;
    }
    s.kind = kind == "adapt" ? LrSchedule::Kind::Adapt : LrSchedule::Kind::Constant;
    return s;
  }
  if (kind == "step") {
    s.kind = LrSchedule::Kind::Step;
    if (parts.size() > 3) {
      problem = "step takes at most EVERY and FACTOR (step:1000:0.5)";
      return std::nullopt;
    }
    if (parts.size() > 1) {
      if (!number(parts[1], v) || v < 1 || v != std::floor(v) || v > 1e15) {
        problem = "step's EVERY must be a whole number of steps >= 1, not '" + parts[1] + "'";
        return std::nullopt;
      }
      s.every = static_cast<std::int64_t>(v);
    }
    if (parts.size() > 2) {
      if (!number(parts[2], v) || !(v > 0 && v <= 1)) {
        problem = "step's FACTOR must be in (0, 1], not '" + parts[2] + "'";
        return std::nullopt;
      }
      s.factor = v;
    }
    return s;
  }
  if (kind == "invsqrt") {
    s.kind = LrSchedule::Kind::InvSqrt;
    if (parts.size() > 2) {
      problem = "invsqrt takes at most TAU (invsqrt:100)";
      return std::nullopt;
    }
    if (parts.size() > 1) {
      if (!number(parts[1], v) || !(v > 0)) {
        problem = "invsqrt's TAU must be a positive number of steps, not '" + parts[1] + "'";
        return std::nullopt;
      }
      s.tau = v;
    }
    return s;
  }
  problem = "unknown schedule '" + kind + "'; use constant, adapt, step[:EVERY[:FACTOR]] or invsqrt[:TAU]";
  return std::nullopt;
}

std::string lr_schedules_reference() {
  return "| schedule | step size at step t |\n|---|---|\n"
         "| constant | --lr throughout |\n"
         "| adapt | as Stan ADVI's eta adaptation: 100 trial steps from the start with --lr times 10, 3, 1, 0.3, "
         "0.1, 0.03, 0.01 in turn, until one does not end with a clearly higher bound than the best before it (its "
         "trial's last half averaged, beyond twice its noise); the best is kept and the fit starts from the start again (the trials do not count as "
         "steps). Then constant (halved by the convergence rule at each stationarity). The default for a model "
         "whose latents are all global when --lr is not given |\n"
         "| step[:EVERY[:FACTOR]] | --lr times FACTOR^floor(t / EVERY) (default step:1000:0.5) |\n"
         "| invsqrt[:TAU] | --lr / sqrt(1 + t / TAU) (default TAU 100) |\n";
}

AdaptResult adapt_lr(Trainer& trainer, double base, std::int64_t steps) {
  AdaptResult r;
  const std::string start = trainer.save_state();
  double best = -std::numeric_limits<double>::infinity(), best_se = 0;
  for (double f : {10.0, 3.0, 1.0, 0.3, 0.1, 0.03, 0.01}) {
    double lr = base * f;
    trainer.set_lr(lr);
    double sum = 0, sumsq = 0;
    std::int64_t counted = 0;
    bool diverged = false;
    for (std::int64_t t = 0; t < steps; ++t) {
      StepResult s = trainer.step();
      ++r.steps;
      if (!s.finite || !std::isfinite(s.elbo_per_datapoint)) {
        diverged = true;
        break;
      }
      if (t >= steps / 2) sum += s.elbo_per_datapoint, sumsq += s.elbo_per_datapoint * s.elbo_per_datapoint, ++counted;
    }
    double bound = diverged || counted < 2 ? NAN : sum / static_cast<double>(counted);
    // The standard error of that mean (as if the estimates were independent: a floor).
    double se = std::isnan(bound) ? 0
                                  : std::sqrt(std::max(0.0, sumsq / static_cast<double>(counted) - bound * bound) /
                                              static_cast<double>(counted - 1));
    trainer.restore_state(start);
    r.candidates.push_back(lr);
    r.bounds.push_back(bound);
    if (std::isnan(bound)) continue;
    // A smaller step size must end clearly higher (beyond twice the noise of the two means) to
    // be chosen: between step sizes the bound cannot tell apart (a start already near the
    // optimum), the larger one averages sooner.
    if (r.lr == 0 || bound > best + 2 * std::hypot(se, best_se)) {
      best = bound;
      best_se = se;
      r.lr = lr;
    } else {
      break;  // no better than a larger step size that worked: smaller ones will be slower still
    }
  }
  if (r.lr == 0) r.lr = base * 0.01;  // every trial diverged: the smallest
  trainer.set_lr(r.lr);
  return r;
}

}  // namespace vmc::runtime

// Step-size schedules (vmc fit --lr-schedule): the step size of each step as the base --lr times
// a factor of the step count, and Stan ADVI's adaptation of the base step size (a short trial of
// each candidate from the same start, keeping the one whose bound ends highest).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmc/trainer.hpp"

namespace vmc::runtime {

struct LrSchedule {
  enum class Kind { Constant, Step, InvSqrt, Adapt };
  Kind kind = Kind::Constant;
  std::int64_t every = 1000;  // step: the factor is multiplied by `factor` every `every` steps
  double factor = 0.5;
  double tau = 100;           // invsqrt: 1 / √(1 + t / tau)
  // The factor after t steps (Adapt: 1; the adapted base step size is the trainer's).
  double at(std::int64_t t) const;
  std::string text() const;
};

// "constant", "adapt", "step", "step:EVERY", "step:EVERY:FACTOR", "invsqrt", "invsqrt:TAU";
// nullopt with `problem` set otherwise.
std::optional<LrSchedule> parse_lr_schedule(const std::string& text, std::string& problem);
// The table `vmc help fit` shows.
std::string lr_schedules_reference();

struct AdaptResult {
  double lr = 0;                        // the chosen base step size
  std::vector<double> candidates;       // tried, in order
  std::vector<double> bounds;           // each one's bound per datapoint at the end of its trial (NaN: diverged)
  std::int64_t steps = 0;               // steps spent, not counted in the fit
};

// Stan ADVI's eta adaptation for a step-size-scaled optimizer: from the trainer's current state,
// `steps` steps with each candidate (`base` times 10, 3, 1, 0.3, 0.1, 0.03, 0.01, largest
// first), the mean estimate of the trial's last half as its bound; the state is put back after
// each trial, so the fit starts where it was, with the best candidate as its step size. Stops
// trying once a candidate is not clearly better (beyond twice the noise of the two trials'
// means) than the best larger one that did not diverge.
AdaptResult adapt_lr(Trainer& trainer, double base, std::int64_t steps = 100);

}  // namespace vmc::runtime

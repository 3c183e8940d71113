// What a training step may do, decided before it runs: how it stores the updated params, whether
// it keeps the last good state. (Whether its update may run in the products' epilogue is the
// guard's: Engine::bound_part and fusable_step.) Internal to the runtime.
#pragma once

#include <cstdint>

#include "vmc/trainer.hpp"

namespace vmc::runtime::detail {

// Every kGoodEvery-th step whose bound is finite keeps the params and optimizer state as they
// were before its update (engine_update.cpp): a fit that gives up on non-finite steps puts them
// back.
inline constexpr std::int64_t kGoodEvery = 50;
inline bool keeps_good_state(std::int64_t step) { return step % kGoodEvery == 0; }

// How a multi-threaded float32 step stores the updated params (TrainerOptions::param_stores):
// through the cache or streamed past it. Auto times both: kTrial steps from `next` cached, as many
// streamed, each arm's time summed; the faster is kept until the next trial, kRetune steps on.
class StorePolicy {
 public:
  static constexpr std::int64_t kTrial = 16, kRetune = 2048;

  struct Choice {
    bool stream = false;
    int arm = -1;  // in a trial: 0 cached, 1 streamed; else -1
  };
  Choice choose(std::int64_t step, TrainerOptions::ParamStores mode, bool can_stream) const {
    using Stores = TrainerOptions::ParamStores;
    Choice c;
    if (!can_stream) return c;
    if (mode == Stores::Auto && step >= next_ && step < next_ + 2 * kTrial) c.arm = step - next_ < kTrial ? 0 : 1;
    c.stream = c.arm >= 0 ? c.arm == 1 : mode == Stores::Streamed || (mode == Stores::Auto && streamed_);
    return c;
  }
  // After step `step`, which took `seconds` under `c`: a trial's arm's time added, and at the
  // trial's end the choice made.
  void record(std::int64_t step, const Choice& c, double seconds) {
    if (c.arm < 0) return;
    seconds_[c.arm] += seconds;
    if (step + 1 == next_ + 2 * kTrial) {
      streamed_ = seconds_[1] < seconds_[0];
      seconds_[0] = seconds_[1] = 0;
      next_ += kRetune;
    }
  }

 private:
  std::int64_t next_ = 64;  // past the warm-up
  double seconds_[2] = {0, 0};
  bool streamed_ = false;   // the choice between trials
};

}  // namespace vmc::runtime::detail

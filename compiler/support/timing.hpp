// Wall time per compiler stage, for `vmc check --timing` and `vmc bench -v`.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace vmc {

class StageTimes {
 public:
  void add(const std::string& stage, double ms) { stages_.emplace_back(stage, ms); }
  const std::vector<std::pair<std::string, double>>& all() const { return stages_; }
  double total() const {
    double t = 0;
    for (const auto& [name, ms] : stages_) t += ms;
    return t;
  }

 private:
  std::vector<std::pair<std::string, double>> stages_;
};

// Adds the time from its construction to its destruction to `times` (if not null) as `stage`.
class StageTimer {
 public:
  StageTimer(StageTimes* times, std::string stage)
      : times_(times), stage_(std::move(stage)), start_(std::chrono::steady_clock::now()) {}
  ~StageTimer() {
    if (times_) {
      auto d = std::chrono::steady_clock::now() - start_;
      times_->add(stage_, std::chrono::duration<double, std::milli>(d).count());
    }
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  StageTimes* times_;
  std::string stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vmc

// How a step divides work between its threads: near-equal slices (the minibatch's rows, the
// update of params no deferred product made), and the deferred products' blocks, cut on cache
// lines and balanced over the step's products. Internal to the runtime (engine.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

namespace vmc::runtime::detail {

// [begin, end) of part t of n split into `parts` near-equal contiguous pieces.
inline std::pair<std::size_t, std::size_t> part(std::size_t n, int parts, int t) {
  std::size_t base = n / parts, extra = n % parts;
  std::size_t begin = t * base + std::min<std::size_t>(t, extra);
  return {begin, begin + base + (static_cast<std::size_t>(t) < extra ? 1 : 0)};
}

// The blocks of a step's products, one per thread: each product's rows (or columns) cut at
// multiples of `unit` (a cache line's elements, so that every block starts on a line), each cut
// rounded down or up, whichever keeps the work before it, summed over the products so far,
// nearer its share (p/parts of the whole): the unit's granularity evens out over the products
// instead of always falling to the same thread. Each thread keeps its own and asks for its own
// block of every product, in the same order: a cut's choices depend on that cut's history only,
// so two threads sharing a cut agree.
class BalancedCuts {
 public:
  // Thread t's cuts: t and t + 1 (no allocation: the step's blocks allocate nothing).
  BalancedCuts(int parts, std::size_t unit, int t) : parts_(parts), t_(t), unit_(unit) {}
  // Thread t's part of the next product's n rows, each `work` long.
  std::pair<std::size_t, std::size_t> next(std::size_t n, double work) {
    return {cut(n, work, t_, carry_[0]), cut(n, work, t_ + 1, carry_[1])};
  }

 private:
  std::size_t cut(std::size_t n, double work, int p, double& carry) const {
    if (p <= 0) return 0;
    if (p >= parts_) return n;
    const double exact = static_cast<double>(n) * p / parts_;
    const std::size_t down = std::min(n, static_cast<std::size_t>(exact) / unit_ * unit_);
    const std::size_t up = std::min(n, down + unit_);
    const double if_down = carry + (static_cast<double>(down) - exact) * work;
    const double if_up = carry + (static_cast<double>(up) - exact) * work;
    const bool round_down = std::abs(if_down) <= std::abs(if_up);
    carry = round_down ? if_down : if_up;
    return round_down ? down : up;
  }
  int parts_, t_;
  std::size_t unit_;
  double carry_[2] = {0, 0};  // per cut, t's and t + 1's: the work before it beyond its share
};

}  // namespace vmc::runtime::detail

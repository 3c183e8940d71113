// The minibatches of a fit: one plan per subsampled plate's dim (its N rows, its batch size M,
// the batches of an epoch), and the rows of each step's batch: a seeded Fisher–Yates shuffle per
// epoch, the last batch of an epoch the remainder. A step's rows are a pure function of the seed
// and the step number (a resumed fit continues bit for bit). Internal to the runtime.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace vmc::runtime::detail {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Minibatches {
 public:
  // One subsampled dim.
  struct Plate {
    std::string dim;
    int symbol = -1;  // its minibatch size's symbol (vmc_model_info::sizes)
    std::int64_t n = 0, m = 0, batches = 1;
    std::uint64_t site = 0;  // its shuffle's stream
    std::vector<std::int64_t> perm;  // this epoch's order of the rows
    std::int64_t perm_epoch = -1;
  };

  std::vector<Plate> plates;
  // The primary plate (the largest: its rows are split across threads and ranks, the bound is
  // per its datapoints), or -1.
  int primary = -1;

  // The rows of step `step`'s batch of plate j.
  std::span<const std::int64_t> rows(std::size_t j, std::int64_t step, std::uint64_t seed) {
    Plate& s = plates[j];
    std::int64_t epoch = step / s.batches, b = step % s.batches;
    if (s.perm_epoch != epoch || s.perm.empty()) {
      s.perm.resize(static_cast<std::size_t>(s.n));
      std::iota(s.perm.begin(), s.perm.end(), std::int64_t{0});
      std::uint64_t state = seed ^ (s.site * 0x9E3779B97F4A7C15ull) ^ (static_cast<std::uint64_t>(epoch) << 1);
      splitmix64(state);
      for (std::int64_t i = s.n - 1; i > 0; --i) {
        auto k = static_cast<std::int64_t>(splitmix64(state) % static_cast<std::uint64_t>(i + 1));
        std::swap(s.perm[i], s.perm[k]);
      }
      s.perm_epoch = epoch;
    }
    std::int64_t begin = b * s.m, end = std::min(s.n, begin + s.m);
    return {s.perm.data() + begin, static_cast<std::size_t>(end - begin)};
  }

  // The plate whose batch size is symbol s, or -1.
  int of_symbol(int s) const {
    for (std::size_t j = 0; j < plates.size(); ++j) {
      if (plates[j].symbol == s) return static_cast<int>(j);
    }
    return -1;
  }
  // The plate over `dim`, or -1.
  int of_dim(const std::string& dim) const {
    for (std::size_t j = 0; j < plates.size(); ++j) {
      if (plates[j].dim == dim) return static_cast<int>(j);
    }
    return -1;
  }
};

}  // namespace vmc::runtime::detail

// A small model with a global latent (its prior outside the plate: the bound has a row-free
// part) and local latents with an amortised guide, two data arrays batched over the subsampled
// plate, and data for it: what the runtime's ways of splitting a step (threads, ranks, samples)
// are tested on (test_ranks.cpp, test_averaged_samples.cpp).
#pragma once

#include <cmath>
#include <cstdint>

#include "vmc/data.hpp"
#include "vmc/trainer.hpp"

namespace global_local {

inline const char* const kModel = R"(model global_local;
dims { N; D; K = 2; }
data { x : real[N, D]; y : real[N]; }
latent { w : real[D]; z : real[N, K]; }
param {
  w_loc : real[D];  w_ls : real[D] init -1;
  A : real[K, D];  a : real[K];  log_s : real[K];
}
model {
  w ~ normal(0, 1);
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    y[i] ~ normal(dot(x[i], w) + sum(z[i]), 1);
  }
}
guide {
  w ~ normal(w_loc, exp(w_ls));
  plate i in N subsample {
    z[i] ~ normal(A * x[i] + a, exp(log_s));
  }
}
)";

// x[i, j] = sin(0.7 i + 1.3 j), y[i] = Σ_j (j + 1) x[i, j] / 2 + cos(i) / 10.
inline vmc::runtime::Arrays make_data(std::int64_t n, std::int64_t d) {
  vmc::data::Array x{"x", {n, d}, {}, false}, y{"y", {n}, {}, false};
  for (std::int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::int64_t j = 0; j < d; ++j) {
      double v = std::sin(0.7 * static_cast<double>(i) + 1.3 * static_cast<double>(j));
      x.values.push_back(v);
      s += (j + 1) * v * 0.5;
    }
    y.values.push_back(s + 0.1 * std::cos(static_cast<double>(i)));
  }
  return {{"x", x}, {"y", y}};
}

}  // namespace global_local

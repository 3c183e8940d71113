// The optimizers, one class each: its registry entry (include/vmc/optimizers.hpp), its update of
// a param's elements [b, e) by the gradient of the bound (ascent: the bound is maximised), and
// optionally its float32 update as the epilogue of the weight gradients' products
// (fused_products). Internal to the runtime; the engine reaches them only through this file's
// dispatch (visit_optimizer, update in engine_update.cpp, fuses_into_products and fused_products).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

#include "adam_avx512.hpp"
#include "gemm_sum.hpp"
#include "vmc/optimizers.hpp"

namespace vmc::runtime::detail {

// One update of elements [b, e) of a param: its values p, its gradient g (summed over the
// minibatch), its state arrays, the factor on the gradient (1 / datapoints, maybe clipped), the
// step size, the update's number (1 for the first: Adam's bias correction), and whether the
// params may be stored past the cache (float32 with AVX-512).
inline constexpr int kMaxSlots = 2;  // state arrays per param, at most

template <typename T>
struct Slice {
  T* p;
  const T* g;
  T* const* state;  // Optimizer::slots arrays
  std::size_t b, e;
  double scale, lr;
  std::int64_t number;
  bool stream;
};

// The params a fused update moves, laid out as a product's C and at its (0, 0), with their state
// arrays; and Slice's factors (the gradient is C itself, never written).
struct FusedBlock {
  float* p;
  float* const* state;
  double scale, lr;
  std::int64_t number;
  bool stream;
};

struct Sgd {
  static constexpr Optimizer kEntry{"sgd", "p += lr g", 1e-3, 0, false};
  template <typename T>
  static void update(const Slice<T>& s) {
    const T r = static_cast<T>(s.lr), k = static_cast<T>(s.scale);
    for (std::size_t x = s.b; x < s.e; ++x) s.p[x] += r * k * s.g[x];
  }
};

struct Momentum {
  static constexpr double kMomentum = 0.9;
  static constexpr Optimizer kEntry{"momentum", "v = 0.9 v + g; p += lr v", 1e-3, 1, false};
  template <typename T>
  static void update(const Slice<T>& s) {
    T* v = s.state[0];
    const T r = static_cast<T>(s.lr), k = static_cast<T>(s.scale);
    for (std::size_t x = s.b; x < s.e; ++x) {
      v[x] = static_cast<T>(kMomentum) * v[x] + k * s.g[x];
      s.p[x] += r * v[x];
    }
  }
};

struct Adagrad {
  static constexpr Optimizer kEntry{"adagrad", "h += g^2; p += lr g / (sqrt(h) + 1e-10)", 1e-2, 1, false};
  template <typename T>
  static void update(const Slice<T>& s) {
    T* h = s.state[0];
    const T r = static_cast<T>(s.lr), k = static_cast<T>(s.scale);
    for (std::size_t x = s.b; x < s.e; ++x) {
      T gx = k * s.g[x];
      h[x] += gx * gx;
      s.p[x] += r * gx / (std::sqrt(h[x]) + static_cast<T>(1e-10));
    }
  }
};

struct RmsProp {
  static constexpr double kAlpha = 0.99, kEps = 1e-8;
  static constexpr Optimizer kEntry{"rmsprop", "v = 0.99 v + 0.01 g^2; p += lr g / (sqrt(v) + 1e-8)", 1e-3, 1,
                                    false};
  template <typename T>
  static void update(const Slice<T>& s) {
    T* v = s.state[0];
    const T r = static_cast<T>(s.lr), k = static_cast<T>(s.scale);
    for (std::size_t x = s.b; x < s.e; ++x) {
      T gx = k * s.g[x];
      v[x] = static_cast<T>(kAlpha) * v[x] + static_cast<T>(1 - kAlpha) * gx * gx;
      s.p[x] += r * gx / (std::sqrt(v[x]) + static_cast<T>(kEps));
    }
  }
};

// PyTorch's form: step lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps, with the division by
// sqrt(bc2) a product by its inverse (one division per element, not two: 13-19 % of the update,
// which is memory- and divider-bound). float32 on AVX-512 runs AdamLanes, whose arithmetic the
// weight gradients' GEMM epilogue shares (gemm_sum_adam), so a param moved by either path ends
// up bit for bit the same.
struct Adam {
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  static constexpr Optimizer kEntry{"adam", "Adam (PyTorch's form): beta1 0.9, beta2 0.999, eps 1e-8", 1e-3, 2,
                                    true};
  // One update's constants, for the float32 lanes and the GEMM epilogue.
  static AdamConstants constants(double scale, double lr, std::int64_t number);
  template <typename T>
  static void update(const Slice<T>& s);
  // The epilogue: gemm_sum with beta = 0 whose every finished tile of C moves the params and
  // moments at its positions from registers (gemm_sum_adam); false, with nothing computed, when
  // this build's products cannot take it.
  static bool fuses() { return gemm_fuses_adam(); }
  static bool fused_products(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n,
                             const GemmTerm<float>* terms, int n_terms, float alpha, float* c, std::int64_t ldc,
                             const FusedBlock& at) {
    const AdamTarget target{at.p, at.state[0], at.state[1], constants(at.scale, at.lr, at.number), at.stream};
    return gemm_sum_adam(context, ta, tb, m, n, terms, n_terms, alpha, c, ldc, target);
  }
};

// In the order of optimizers() (a checkpoint records the position).
using AllOptimizers = std::tuple<Sgd, Momentum, Adagrad, RmsProp, Adam>;

// Calls f(X{}) for the class X of optimizer `o`.
template <class F, std::size_t I = 0>
void visit_optimizer(const Optimizer& o, F&& f) {
  if constexpr (I < std::tuple_size_v<AllOptimizers>) {
    using X = std::tuple_element_t<I, AllOptimizers>;
    if (&o == &optimizers()[I]) return f(X{});
    return visit_optimizer<F, I + 1>(o, std::forward<F>(f));
  }
}

template <class X>
constexpr bool has_epilogue = requires { &X::fused_products; };

// Whether o's float32 update can run in the weight gradients' products in this build.
inline bool fuses_into_products(const Optimizer& o) {
  bool yes = false;
  visit_optimizer(o, [&](auto x) {
    if constexpr (has_epilogue<decltype(x)>) yes = decltype(x)::fuses();
  });
  return yes;
}

// The product C = alpha·Σ op(A_s)·op(B_s) with o's update of `at` as its epilogue (C not
// written); false, with nothing computed, when o has none or the products cannot take it.
inline bool fused_products(const Optimizer& o, const vmc_context* context, bool ta, bool tb, std::int64_t m,
                           std::int64_t n, const GemmTerm<float>* terms, int n_terms, float alpha, float* c,
                           std::int64_t ldc, const FusedBlock& at) {
  bool done = false;
  visit_optimizer(o, [&](auto x) {
    if constexpr (has_epilogue<decltype(x)>) done = decltype(x)::fused_products(context, ta, tb, m, n, terms, n_terms, alpha, c, ldc, at);
  });
  return done;
}

}  // namespace vmc::runtime::detail

// Engine<T>: the optimizer's update of a step (each thread its blocks and slices), and the last
// good state it copies every kGoodEvery-th step and puts back.
#include "engine.hpp"

#include "adam_avx512.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace vmc::runtime::detail {

// Adam's hyperparameters (PyTorch's defaults), for both adam_constants and update_range.
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.999, kAdamEps = 1e-8;

#if defined(__AVX512F__)
// Adam on elements [b, e) of one float32 param, 16 at a time (masked at the ends, so every
// element gets the same arithmetic), the params stored through the cache or, with `stream`,
// past it (64-byte aligned non-temporal stores; the head and tail through the cache). The
// values are the same either way.
static void adam_f32(float* __restrict p, const float* __restrict g, float* __restrict m1, float* __restrict m2,
                     std::size_t b, std::size_t e, const AdamConstants& constants, bool stream) {
  const AdamLanes step(constants);
  auto partial = [&](std::size_t x, __mmask16 mask) {
    __m512 first, second;
    const __m512 next = step(_mm512_maskz_loadu_ps(mask, g + x), _mm512_maskz_loadu_ps(mask, m1 + x),
                             _mm512_maskz_loadu_ps(mask, m2 + x), _mm512_maskz_loadu_ps(mask, p + x), first, second);
    _mm512_mask_storeu_ps(m1 + x, mask, first);
    _mm512_mask_storeu_ps(m2 + x, mask, second);
    _mm512_mask_storeu_ps(p + x, mask, next);
  };
  std::size_t x = b;
  // The head up to p's next 64-byte boundary, then whole vectors, then the tail.
  const std::size_t misaligned = (reinterpret_cast<std::uintptr_t>(p + x) % 64) / sizeof(float);
  if (misaligned != 0 && x < e) {
    const std::size_t head = std::min<std::size_t>(16 - misaligned, e - x);
    partial(x, static_cast<__mmask16>((1u << head) - 1));
    x += head;
  }
  for (; x + 16 <= e; x += 16) {
    __m512 first, second;
    const __m512 next = step(_mm512_loadu_ps(g + x), _mm512_loadu_ps(m1 + x), _mm512_loadu_ps(m2 + x),
                             _mm512_load_ps(p + x), first, second);
    _mm512_storeu_ps(m1 + x, first);
    _mm512_storeu_ps(m2 + x, second);
    if (stream) {
      _mm512_stream_ps(p + x, next);
    } else {
      _mm512_store_ps(p + x, next);
    }
  }
  if (x < e) partial(x, static_cast<__mmask16>((1u << (e - x)) - 1));
  if (stream) _mm_sfence();  // the streamed stores are seen before the next step's reads
}
#endif

template <typename T>
void Engine<T>::prepare_good() {
  good_.resize(params_.size());
  for (int i : param_inputs_) {
    Good& g = good_[static_cast<std::size_t>(i)];
    g.param.resize(params_[i].size);
    g.moments.resize(moments_[i].size());
    for (std::size_t j = 0; j < moments_[i].size(); ++j) g.moments[j].resize(moments_[i][j].size);
    // A param with no gradient is never updated (update_slice copies the others): copied here.
    if (std::find(grad_of_.begin(), grad_of_.end(), i) == grad_of_.end()) {
      std::memcpy(g.param.data, params_[i].data, params_[i].size * sizeof(T));
    }
  }
}

template <typename T>
std::int64_t Engine<T>::restore_last_good() {
  if (good_step_ < 0) return -1;
  auto put_back = [](Aligned<T>& to, const Aligned<T>& from) { std::memcpy(to.data, from.data, to.size * sizeof(T)); };
  for (int i : param_inputs_) {
    const Good& g = good_[static_cast<std::size_t>(i)];
    put_back(params_[i], g.param);
    for (std::size_t j = 0; j < moments_[i].size(); ++j) put_back(moments_[i][j], g.moments[j]);
  }
  updates = good_updates_;
  return good_step_;
}

template <typename T>
void Engine<T>::update_slice(const vmc_kernel_info& k, int th, const Update* u, bool keep, bool owned) {
  // Pieces of 4096 elements (16 KB of float32 per array): the copy's reads stay in L1 and L2
  // for the update after it.
  constexpr std::size_t kPiece = 4096;
  auto range = [&](int o, std::size_t b, std::size_t e) {
    const int i = grad_of_[o - 1];
    if (!keep) {
      if (u) update_range(o, b, e, *u);
      return;
    }
    Good& g = good_[static_cast<std::size_t>(i)];
    auto copy = [](Aligned<T>& to, const Aligned<T>& from, std::size_t x, std::size_t n) {
      std::memcpy(to.data + x, from.data + x, n * sizeof(T));
    };
    for (std::size_t x = b; x < e;) {
      const std::size_t end = std::min(e, (x / kPiece + 1) * kPiece);  // pieces on multiples of kPiece
      copy(g.param, params_[i], x, end - x);
      for (std::size_t j = 0; j < moments_[i].size(); ++j) copy(g.moments[j], moments_[i][j], x, end - x);
      if (u) update_range(o, x, end, *u);
      x = end;
    }
  };
  // The params of the gradients th computed in the deferred products: its blocks, whose
  // gradient is in its own cache (and none crosses to the other core); the rest by slices.
  if (owned) {
    for (const Block& blk : step_blocks_[th]) {
      if (blk.updated) continue;  // in the product's epilogue
      for (std::size_t r = 0; r < blk.rows; ++r) range(blk.o, blk.first + r * blk.ld, blk.first + r * blk.ld + blk.cols);
    }
  }
  for (int o = 1; o < k.n_outputs; ++o) {
    if (owned && gathered_[static_cast<std::size_t>(o)]) continue;
    auto [b, e] = part(params_[grad_of_[o - 1]].size, options.threads, th);
    range(o, b, e);
  }
}

template <typename T>
AdamConstants Engine<T>::adam_constants(const Update& u) const {
  const double t = static_cast<double>(u.number);
  const float bc1 = static_cast<float>(1 - std::pow(kAdamBeta1, t)), bc2 = static_cast<float>(1 - std::pow(kAdamBeta2, t));
  const float r = static_cast<float>(options.lr);
  return {static_cast<float>(u.scale), static_cast<float>(kAdamBeta1), static_cast<float>(kAdamBeta2),
          static_cast<float>(kAdamEps), r / bc1, 1 / std::sqrt(bc2)};
}

// Elements [b, e) of the param whose gradient (summed into slot 0) is output o moved up it,
// times u.scale; u.number is the update's (Adam's bias correction). Elementwise: a param
// updated in any pieces ends up the same.
template <typename T>
void Engine<T>::update_range(int o, std::size_t b, std::size_t e, const Update& u) {
  const double lr = options.lr;
  const OptimizerKind kind = options.optimizer;
  const double t = static_cast<double>(u.number);
  const double beta1 = kAdamBeta1, beta2 = kAdamBeta2, eps = kAdamEps, momentum = 0.9, alpha = 0.99;
  const T bc1 = static_cast<T>(1 - std::pow(beta1, t)), bc2 = static_cast<T>(1 - std::pow(beta2, t));
  const int i = grad_of_[o - 1];
  T* p = params_[i].data;
  const T* g = slots_[0].outs[o].data;
  const T s = static_cast<T>(u.scale), r = static_cast<T>(lr);
  switch (kind) {
    case OptimizerKind::Sgd:
      for (std::size_t x = b; x < e; ++x) p[x] += r * s * g[x];
      break;
    case OptimizerKind::Momentum: {
      T* v = moments_[i][0].data;
      for (std::size_t x = b; x < e; ++x) {
        v[x] = static_cast<T>(momentum) * v[x] + s * g[x];
        p[x] += r * v[x];
      }
      break;
    }
    case OptimizerKind::Adagrad: {
      T* h = moments_[i][0].data;
      for (std::size_t x = b; x < e; ++x) {
        T gx = s * g[x];
        h[x] += gx * gx;
        p[x] += r * gx / (std::sqrt(h[x]) + static_cast<T>(1e-10));
      }
      break;
    }
    case OptimizerKind::RmsProp: {
      T* v = moments_[i][0].data;
      for (std::size_t x = b; x < e; ++x) {
        T gx = s * g[x];
        v[x] = static_cast<T>(alpha) * v[x] + static_cast<T>(1 - alpha) * gx * gx;
        p[x] += r * gx / (std::sqrt(v[x]) + static_cast<T>(eps));
      }
      break;
    }
    case OptimizerKind::Adam: {
      // PyTorch's form: step lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps, with the
      // division by sqrt(bc2) a product by its inverse (one division per element, not two:
      // 13-19 % of the update, which is memory- and divider-bound). The moments stay in
      // registers between their update and the step (the buffers do not alias).
      T* __restrict m1 = moments_[i][0].data;
      T* __restrict m2 = moments_[i][1].data;
      T* __restrict pp = p;
      const T* __restrict gg = g;
      const T step_size = r / bc1, inv_root_bc2 = 1 / std::sqrt(bc2);
      const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2), ep = static_cast<T>(eps);
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float>) {
        adam_f32(pp, gg, m1, m2, b, e, adam_constants(u), u.stream);
        break;
      }
#endif
      for (std::size_t x = b; x < e; ++x) {
        const T gx = s * gg[x];
        const T first = b1 * m1[x] + (1 - b1) * gx;
        const T second = b2 * m2[x] + (1 - b2) * gx * gx;
        m1[x] = first;
        m2[x] = second;
        pp[x] += step_size * first / (std::sqrt(second) * inv_root_bc2 + ep);
      }
      break;
    }
  }
}

// The members defined here, for both precisions.
template void Engine<float>::prepare_good();
template void Engine<double>::prepare_good();
template std::int64_t Engine<float>::restore_last_good();
template std::int64_t Engine<double>::restore_last_good();
template void Engine<float>::update_slice(const vmc_kernel_info& k, int th, const Update* u, bool keep, bool owned);
template void Engine<double>::update_slice(const vmc_kernel_info& k, int th, const Update* u, bool keep, bool owned);
template AdamConstants Engine<float>::adam_constants(const Update& u) const;
template AdamConstants Engine<double>::adam_constants(const Update& u) const;
template void Engine<float>::update_range(int o, std::size_t b, std::size_t e, const Update& u);
template void Engine<double>::update_range(int o, std::size_t b, std::size_t e, const Update& u);

}  // namespace vmc::runtime::detail

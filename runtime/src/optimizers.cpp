// The optimizers' registry (include/vmc/optimizers.hpp), and Adam's update (optimizers.hpp).
#include "optimizers.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace vmc::runtime {

const std::vector<Optimizer>& optimizers() {
  static const std::vector<Optimizer> table = std::apply(
      [](auto... x) { return std::vector<Optimizer>{decltype(x)::kEntry...}; }, detail::AllOptimizers{});
  return table;
}

const Optimizer* find_optimizer(std::string_view name) {
  for (const Optimizer& o : optimizers()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const Optimizer& optimizer_named(std::string_view name) {
  if (const Optimizer* o = find_optimizer(name)) return *o;
  throw std::invalid_argument("unknown optimizer '" + std::string(name) + "' (the optimizers are " +
                              optimizer_list() + ")");
}

const Optimizer& default_optimizer() { return *find_optimizer(detail::Adam::kEntry.name); }

std::vector<std::string> optimizer_names() {
  std::vector<std::string> out;
  for (const Optimizer& o : optimizers()) out.emplace_back(o.name);
  return out;
}

std::string optimizer_list(const std::string& last) {
  std::string out;
  const auto& all = optimizers();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i) out += i + 1 == all.size() ? last : ", ";
    out += all[i].name;
  }
  return out;
}

std::string optimizers_reference() {
  std::string out =
      "Optimizers (--optimizer NAME, `optimizer = \"NAME\"` in a config). Each moves the params up the\n"
      "gradient g of the bound per datapoint. The default step size --lr is the one below for minibatch\n"
      "fits and ten times it for a model with no subsampled plate (every step sees all the data).\n\n"
      "| optimizer | update | default --lr | state per param |\n|---|---|---|---|\n";
  char lr[32];
  for (const Optimizer& o : optimizers()) {
    std::snprintf(lr, sizeof lr, "%g", o.default_lr);
    out += "| " + std::string(o.name) + (&o == &default_optimizer() ? " (default)" : "") + " | " +
           std::string(o.summary) + " | " + lr + " | " + std::to_string(o.slots) + " |\n";
  }
  return out;
}

namespace detail {

// Each class's entry says what the class is.
template <class... X>
constexpr bool entries_match(std::tuple<X...>*) {
  return ((X::kEntry.slots <= kMaxSlots && X::kEntry.fuses_into_products == has_epilogue<X>) && ...);
}
static_assert(entries_match(static_cast<AllOptimizers*>(nullptr)),
              "an optimizer's entry has more state slots than kMaxSlots, or its fuses_into_products does not "
              "say whether its class has fused_products");

AdamConstants Adam::constants(double scale, double lr, std::int64_t number) {
  const double t = static_cast<double>(number);
  const float bc1 = static_cast<float>(1 - std::pow(kBeta1, t)), bc2 = static_cast<float>(1 - std::pow(kBeta2, t));
  const float r = static_cast<float>(lr);
  return {static_cast<float>(scale), static_cast<float>(kBeta1), static_cast<float>(kBeta2),
          static_cast<float>(kEps), r / bc1, 1 / std::sqrt(bc2)};
}

#if defined(__AVX512F__)
namespace {
// Adam on elements [b, e) of one float32 param, 16 at a time (masked at the ends, so every
// element gets the same arithmetic), the params stored through the cache or, with `stream`,
// past it (64-byte aligned non-temporal stores; the head and tail through the cache). The
// values are the same either way.
void adam_f32(float* __restrict p, const float* __restrict g, float* __restrict m1, float* __restrict m2,
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
}  // namespace
#endif

template <typename T>
void Adam::update(const Slice<T>& s) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    adam_f32(s.p, s.g, s.state[0], s.state[1], s.b, s.e, constants(s.scale, s.lr, s.number), s.stream);
    return;
  }
#endif
  // The moments stay in registers between their update and the step (the buffers do not alias).
  const double t = static_cast<double>(s.number);
  const T bc1 = static_cast<T>(1 - std::pow(kBeta1, t)), bc2 = static_cast<T>(1 - std::pow(kBeta2, t));
  T* __restrict m1 = s.state[0];
  T* __restrict m2 = s.state[1];
  T* __restrict pp = s.p;
  const T* __restrict gg = s.g;
  const T r = static_cast<T>(s.lr), k = static_cast<T>(s.scale);
  const T step_size = r / bc1, inv_root_bc2 = 1 / std::sqrt(bc2);
  const T b1 = static_cast<T>(kBeta1), b2 = static_cast<T>(kBeta2), ep = static_cast<T>(kEps);
  for (std::size_t x = s.b; x < s.e; ++x) {
    const T gx = k * gg[x];
    const T first = b1 * m1[x] + (1 - b1) * gx;
    const T second = b2 * m2[x] + (1 - b2) * gx * gx;
    m1[x] = first;
    m2[x] = second;
    pp[x] += step_size * first / (std::sqrt(second) * inv_root_bc2 + ep);
  }
}

template void Adam::update<float>(const Slice<float>&);
template void Adam::update<double>(const Slice<double>&);

}  // namespace detail
}  // namespace vmc::runtime

// Engine<T>: a split step's deferred products (abi.h, vmc_gemm_rows_*): the weight gradients
// the threads' kernels left, each computed once over every thread's rows, a block per thread,
// and the step's check of a summed gradient's elements.
#include "engine.hpp"
#include "optimizers.hpp"

namespace vmc::runtime::detail {

template <typename T>
bool Engine<T>::plan_products(int parts, int copies, std::vector<int>& outs) const {
  outs.clear();
  auto fail = [&] {
    outs.clear();
    return false;
  };
  const std::vector<DeferredGemm>& first = deferred_[0];
  const int threads = options.threads;
  const int n_out = grad_kernel_->n_outputs;
  // The slots whose products are summed: the parts, then the row-free call's.
  auto slot_of = [&](int p) { return p < parts ? p : threads; };
  const int terms = parts + (copies > 0 ? 1 : 0);
  for (int p = 1; p < terms; ++p) {
    if (deferred_[slot_of(p)].size() != first.size()) return fail();
  }
  for (std::size_t d = 0; d < first.size(); ++d) {
    const DeferredGemm& g = first[d];
    int o = 1;
    while (o < n_out && slots_[0].outs[o].data != g.c) ++o;
    if (o == n_out || slots_[0].outs[o].size != static_cast<std::size_t>(g.m * g.n) || g.ldc != g.n ||
        std::find(outs.begin(), outs.end(), o) != outs.end()) {
      return fail();
    }
    for (int p = 0; p < terms; ++p) {
      const DeferredGemm& h = deferred_[slot_of(p)][d];
      if (h.c != slots_[slot_of(p)].outs[o].data || h.transpose_a != g.transpose_a ||
          h.transpose_b != g.transpose_b || h.m != g.m || h.n != g.n || h.ldc != g.ldc || h.beta != 0) {
        return fail();
      }
    }
    outs.push_back(o);
  }
  return true;
}

template <typename T>
void Engine<T>::run_products(int t, int parts, int copies, const std::vector<int>& outs, bool check,
                             const Update* fused) {
  const int threads = options.threads;
  std::vector<GemmTerm<T>>& terms = step_terms_[t];
  // A block of C's rows per thread (contiguous, so the update of the params it is the gradient
  // of runs over whole lines), or of its columns when it has fewer rows than columns and too
  // few for a block of rows per thread (≥ 64 rows each: five 12-row micro-tiles), cut
  // at a multiple of a cache line's elements so that every thread's block of C, and of a
  // transposed op(A) or an op(B), starts on a line (with 784 = 392 + 392 columns, the second
  // thread's block took ~3 % longer a row), the cuts balanced over the products (BalancedCuts:
  // 784 = 384 + 400 both times left one thread ~6 % more work).
  BalancedCuts cuts(threads, 64 / sizeof(T), t);
  vmc_context products = products_context(t);
  std::vector<Block>& blocks = step_blocks_[t];
  blocks.clear();
  for (std::size_t d = 0; d < outs.size(); ++d) {
    const DeferredGemm& g0 = deferred_[0][d];
    const bool by_rows = g0.m >= g0.n || g0.m >= 64 * threads;
    std::int64_t k = 0;
    for (int p = 0; p < parts; ++p) k += deferred_[p][d].k;
    auto [lo, hi] = cuts.next(static_cast<std::size_t>(by_rows ? g0.m : g0.n),
                              static_cast<double>(by_rows ? g0.n : g0.m) * static_cast<double>(k));
    if (lo == hi) continue;
    const auto b = static_cast<std::int64_t>(lo), e = static_cast<std::int64_t>(hi);
    T* c = slots_[0].outs[outs[d]].data + (by_rows ? b * g0.ldc : b);
    const std::int64_t m = by_rows ? e - b : g0.m, n = by_rows ? g0.n : e - b;
    // A block of rows is contiguous (plan_products: ldc = n).
    blocks.push_back(by_rows ? Block{outs[d], static_cast<std::size_t>(b * g0.ldc), 1, static_cast<std::size_t>(m * n), 0,
                                     false}
                             : Block{outs[d], lo, static_cast<std::size_t>(m), static_cast<std::size_t>(n),
                                     static_cast<std::size_t>(g0.ldc), false});
    // The block of op(A) or op(B) that makes this block of C, from a call's operands.
    auto block = [&](const DeferredGemm& g) {
      const T* a = static_cast<const T*>(g.a);
      const T* bm = static_cast<const T*>(g.b);
      if (by_rows) a += g.transpose_a ? b : b * g.lda;
      else bm += g.transpose_b ? b * g.ldb : b;
      return GemmTerm<T>{a, g.lda, bm, g.ldb, g.k};
    };
    terms.clear();
    for (int p = 0; p < parts; ++p) terms.push_back(block(deferred_[p][d]));
    if constexpr (std::is_same_v<T, float>) {
      if (fused) {
        const int i = grad_of_[outs[d] - 1];
        const std::size_t at = blocks.back().first;
        float* state[kMaxSlots] = {};
        for (std::size_t k = 0; k < moments_[i].size(); ++k) state[k] = moments_[i][k].data + at;
        const FusedBlock target{params_[i].data + at, state, fused->scale, options.lr, fused->number, fused->stream};
        if (fused_products(*options.optimizer, &products, g0.transpose_a != 0, g0.transpose_b != 0, m, n,
                           terms.data(), parts, static_cast<float>(g0.alpha), c, g0.ldc, target)) {
          blocks.back().updated = true;
          continue;
        }
      }
    }
    gemm_sum(&products, g0.transpose_a != 0, g0.transpose_b != 0, m, n, terms.data(), parts, static_cast<T>(g0.alpha),
             T(0), c, g0.ldc);
    // The row-free call's product (made only when there is a row-free part; with no rows its
    // k is usually 0), taken out `copies` times.
    if (copies > 0 && deferred_[threads][d].k > 0) {
      const DeferredGemm& none = deferred_[threads][d];
      GemmTerm<T> x = block(none);
      gemm_as<T>(&products, none.transpose_a, none.transpose_b, m, n, x.k, -static_cast<double>(copies) * none.alpha,
                 x.a, x.lda, x.b, x.ldb, 1.0, c, g0.ldc);
    }
    if (check) {
      const auto first = static_cast<std::size_t>(c - slots_[0].outs[outs[d]].data);
      if (by_rows) {
        check_range(outs[d], first, first + static_cast<std::size_t>(m * n), t);
      } else {
        for (std::int64_t i = 0; i < m; ++i) {
          const std::size_t row = first + static_cast<std::size_t>(i * g0.ldc);
          check_range(outs[d], row, row + static_cast<std::size_t>(n), t);
        }
      }
    }
  }
}

template <typename T>
void Engine<T>::check_range(int o, std::size_t b, std::size_t e, int t) {
  const T* g = slots_[0].outs[o].data;
  // The sum of squares (for --clip-grad); a NaN or Inf anywhere makes it non-finite, and then
  // the range is searched.
  double ss = sum_of_squares(g + b, e - b);
  if (!std::isfinite(ss)) {
    ss = 0;
    for (std::size_t x = b; x < e; ++x) ss += static_cast<double>(g[x]) * static_cast<double>(g[x]);
  }
  if (!std::isfinite(ss) && step_bad_[t].empty()) {
    for (std::size_t i = b; i < e; ++i) {
      if (!std::isfinite(g[i])) {
        step_bad_[t] = std::string("the gradient of '") + info->inputs[grad_of_[o - 1]].name + "' is " +
                       (std::isnan(g[i]) ? "NaN" : "infinite") + " at element " + std::to_string(i);
        break;
      }
    }
  }
  step_sumsq_[t] += ss;
}

template <typename T>
void Engine<T>::bound_part(int t) {
  PartBound& bound = part_bounds_[t];
  bound.products.clear();
  bound.rest = 0;
  if constexpr (std::is_same_v<T, float>) {
    auto inf = std::numeric_limits<double>::infinity();
    // max |x| over a rows × cols matrix with leading dimension ld.
    auto largest = [](const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
      float most = 0;
      if (ld == cols) return static_cast<double>(largest_magnitude(x, static_cast<std::size_t>(rows * cols)));
      for (std::int64_t r = 0; r < rows; ++r) {
        most = std::max(most, largest_magnitude(x + r * ld, static_cast<std::size_t>(cols)));
      }
      return static_cast<double>(most);
    };
    for (const DeferredGemm& g : deferred_[t]) {
      if (g.k == 0) {
        bound.products.push_back(0);
        continue;
      }
      const auto* a = static_cast<const float*>(g.a);
      const auto* b = static_cast<const float*>(g.b);
      // op(A) is m × k: A is k × m when transposed; op(B) is k × n: B is n × k when transposed.
      const double ma = g.transpose_a ? largest(a, g.k, g.m, g.lda) : largest(a, g.m, g.k, g.lda);
      const double mb = g.transpose_b ? largest(b, g.n, g.k, g.ldb) : largest(b, g.k, g.n, g.ldb);
      // Inf · 0 is NaN: an infinite operand bounds nothing.
      bound.products.push_back(std::isinf(ma) || std::isinf(mb) ? inf : static_cast<double>(g.k) * ma * mb);
    }
    const Slot& slot = slots_[t];
    for (int o = 1; o < grad_kernel_->n_outputs; ++o) {
      const T* out = slot.outs[o].data;
      if (std::any_of(deferred_[t].begin(), deferred_[t].end(), [&](const DeferredGemm& g) { return g.c == out; })) {
        continue;  // a deferred product's C: not written by the kernel
      }
      bound.rest = std::max(bound.rest, static_cast<double>(largest_magnitude(out, slot.outs[o].size)));
    }
  }
}

template <typename T>
bool Engine<T>::fusable_step(int parts, const std::vector<int>& outs) const {
  double elbo = 0, rest = 0;
  for (int p = 0; p < parts; ++p) {
    elbo += static_cast<double>(slots_[p].outs[0].data[0]);  // as step() sums it
    rest += part_bounds_[p].rest;
  }
  if (!std::isfinite(elbo) || !(rest <= kFusedLimit)) return false;
  for (std::size_t d = 0; d < deferred_[0].size(); ++d) {
    double sum = 0;
    for (int p = 0; p < parts; ++p) sum += part_bounds_[p].products[d];
    if (!(std::abs(deferred_[0][d].alpha) * sum <= kFusedLimit)) return false;
  }
  // An operand inside a param that an epilogue writes (were a row-indexed param an operand of
  // a weight's product) could be read after another thread has moved it: not fused.
  for (int o : outs) {
    const Aligned<T>& param = params_[grad_of_[o - 1]];
    const auto begin = reinterpret_cast<std::uintptr_t>(param.data);
    const auto end = reinterpret_cast<std::uintptr_t>(param.data + param.size);
    auto inside = [&](const void* x) {
      const auto at = reinterpret_cast<std::uintptr_t>(x);
      return at >= begin && at < end;
    };
    for (int p = 0; p < parts; ++p) {
      for (const DeferredGemm& g : deferred_[p]) {
        if (inside(g.a) || inside(g.b)) return false;
      }
    }
  }
  return true;
}

template <typename T>
void Engine<T>::run_own_products(int p, int t) {
  vmc_context products = products_context(t);
  for (const DeferredGemm& g : deferred_[p]) {
    gemm_as<T>(&products, g.transpose_a, g.transpose_b, g.m, g.n, g.k, g.alpha, static_cast<const T*>(g.a), g.lda,
               static_cast<const T*>(g.b), g.ldb, g.beta, static_cast<T*>(g.c), g.ldc);
  }
}

// The members defined here, for both precisions.
template bool Engine<float>::plan_products(int parts, int copies, std::vector<int>& outs) const;
template bool Engine<double>::plan_products(int parts, int copies, std::vector<int>& outs) const;
template void Engine<float>::run_products(int t, int parts, int copies, const std::vector<int>& outs, bool check,
                                          const Update* fused);
template void Engine<double>::run_products(int t, int parts, int copies, const std::vector<int>& outs, bool check,
                                           const Update* fused);
template void Engine<float>::check_range(int o, std::size_t b, std::size_t e, int t);
template void Engine<double>::check_range(int o, std::size_t b, std::size_t e, int t);
template void Engine<float>::bound_part(int t);
template void Engine<double>::bound_part(int t);
template bool Engine<float>::fusable_step(int parts, const std::vector<int>& outs) const;
template bool Engine<double>::fusable_step(int parts, const std::vector<int>& outs) const;
template void Engine<float>::run_own_products(int p, int t);
template void Engine<double>::run_own_products(int p, int t);

}  // namespace vmc::runtime::detail

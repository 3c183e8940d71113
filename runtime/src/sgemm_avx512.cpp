// A float32 GEMM for AVX-512 in the manner of BLIS and Goto: op(B) packed into panels of 32
// columns per block of kc rows, op(A) into slivers of 12 rows, and a 12×32 register-blocked
// micro-kernel (24 accumulators). The packing buffers are per thread and only grow, so a warm
// product allocates nothing. Compiled only when the runtime is built for AVX-512.
#include "sgemm_avx512.hpp"

#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <cstring>
#include <vector>

namespace vmc::runtime::detail {
namespace {

constexpr int64_t kMR = 12, kNR = 32;  // the micro-kernel's block of C
// Rows of op(B) per packed block. C is read and written once per block, so for the VAE's k of
// 400 to 1000 a block of 512 halves that traffic against 256 (M = 1000: +3-7 % steps/s, the
// GEMM bound +6-10 %; M = 100 unchanged); a sliver (24 KB) stays in L1, a panel (64 KB) in L2.
constexpr int64_t kKC = 512;
constexpr int64_t kMC = 132;  // rows of op(A) per packed block (a multiple of kMR, fits L2)

// A buffer of floats, 64-byte aligned, that only grows.
struct Buffer {
  std::vector<float> v;
  float* get(std::size_t n) {
    if (v.size() < n + 16) v.resize(n + 16);
    auto p = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<float*>((p + 63) / 64 * 64);
  }
};

// r[i][j] ← r[j][i] for a 16×16 tile of floats (four rounds of unpacks and lane shuffles).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // Now each group of 4 rows holds 4×4 blocks per 128-bit lane; gather lanes across groups.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

// op(B)[p0 .. p0+kc) × [j0 .. j0+nc) as panels of kNR columns: panel q holds, for each row p,
// kNR consecutive values (zero past column nc).
void pack_b(bool tb, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t q = 0; q < nc; q += kNR) {
    const int64_t w = std::min(kNR, nc - q);
    float* panel = out + q * kc;
    if (!tb) {
      const __mmask16 lo = static_cast<__mmask16>(w >= 16 ? 0xFFFF : (1u << w) - 1);
      const __mmask16 hi = static_cast<__mmask16>(w >= 32 ? 0xFFFF : w > 16 ? (1u << (w - 16)) - 1 : 0);
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + j0 + q;
        _mm512_store_ps(panel + p * kNR, _mm512_maskz_loadu_ps(lo, src));
        _mm512_store_ps(panel + p * kNR + 16, _mm512_maskz_loadu_ps(hi, src + 16));
      }
    } else if (ldb <= (int64_t{1} << 26)) {
      // op(B)[p][j] = B[j][p]: 16×16 tiles of B transposed in registers (16 rows of B, 16 p),
      // rows past w read as zeros. A panel of ≤ 16 columns is computed in one vector
      // (kernel_block<H, 1>), so its second half is not written.
      const float* base = b + (j0 + q) * ldb + p0;
      const int halves = w > 16 ? 2 : 1;
      int64_t p = 0;
      for (; p + 16 <= kc; p += 16) {
        for (int half = 0; half < halves; ++half) {
          __m512 r[16];
          for (int jj = 0; jj < 16; ++jj) {
            const int64_t row = half * 16 + jj;
            r[jj] = row < w ? _mm512_loadu_ps(base + row * ldb + p) : _mm512_setzero_ps();
          }
          transpose16(r);
          for (int pp = 0; pp < 16; ++pp) _mm512_store_ps(panel + (p + pp) * kNR + half * 16, r[pp]);
        }
      }
      for (; p < kc; ++p) {
        for (int64_t jj = 0; jj < 16 * halves; ++jj) panel[p * kNR + jj] = jj < w ? base[jj * ldb + p] : 0.0f;
      }
    } else {  // a last, partial panel of a B too wide to index in 32 bits
      for (int64_t jj = 0; jj < kNR; ++jj) {
        if (jj < w) {
          const float* src = b + (j0 + q + jj) * ldb + p0;
          for (int64_t p = 0; p < kc; ++p) panel[p * kNR + jj] = src[p];
        } else {
          for (int64_t p = 0; p < kc; ++p) panel[p * kNR + jj] = 0;
        }
      }
    }
  }
}

// Rows per sliver for a block of mc rows: as many slivers as kMR-row ones would need, the rows
// spread evenly over them (50 rows: five of 10, not four of 12 and one of 2, which the kernel
// for 2 rows computes at a fraction of the speed: its loads outnumber its FMAs).
int64_t sliver_rows(int64_t mc) {
  const int64_t slivers = (mc + kMR - 1) / kMR;
  return (mc + slivers - 1) / slivers;
}

// op(A)[i0 .. i0+mc) × [p0 .. p0+kc) as slivers of sliver_rows(mc) ≤ kMR rows, each kMR floats
// wide: sliver s (the rows from s · mr) holds, for each p, kMR
// consecutive values (zero past row mc).
void pack_a(bool ta, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* out) {
  constexpr __mmask16 kSliver = (1u << kMR) - 1;
  const int64_t mr = sliver_rows(mc);
  for (int64_t s = 0; s < mc; s += mr) {
    const int64_t h = std::min(mr, mc - s);
    float* sliver = out + s / mr * kMR * kc;
    if (ta) {  // op(A)[i][p] = A[p][i]: kMR consecutive values per p, one masked load each
      const auto rows = static_cast<__mmask16>((1u << h) - 1);
      for (int64_t p = 0; p < kc; ++p) {
        _mm512_mask_storeu_ps(sliver + p * kMR, kSliver, _mm512_maskz_loadu_ps(rows, a + (p0 + p) * lda + i0 + s));
      }
    } else {
      // op(A)[i][p] = A[i][p]: 16 p of the sliver's rows at a time, transposed in registers
      // (rows past h, and 12 to 16, are zeros), each p's kMR values one masked store.
      const float* base = a + (i0 + s) * lda + p0;
      for (int64_t p = 0; p < kc; p += 16) {
        const int64_t width = std::min<int64_t>(16, kc - p);
        const auto cols = static_cast<__mmask16>(width == 16 ? 0xFFFF : (1u << width) - 1);
        __m512 r[16];
        for (int ii = 0; ii < 16; ++ii) {
          r[ii] = ii < h ? _mm512_maskz_loadu_ps(cols, base + ii * lda + p) : _mm512_setzero_ps();
        }
        transpose16(r);
        for (int64_t pp = 0; pp < width; ++pp) _mm512_mask_storeu_ps(sliver + (p + pp) * kMR, kSliver, r[pp]);
      }
    }
  }
}

// One stretch of k for a micro-tile: kMR rows of packed op(A) (a sliver), kNR columns of op(B)
// (a panel, `stride` floats from row to row), kc rows of both.
struct Run {
  const float* sliver;
  const float* panel;
  int64_t stride;
  int64_t kc;
};

// C[0..H) × [0..w) = alpha·Σ_runs (sliver · panel) + beta·C (beta = 0: C is not read), for a
// kMR × kNR block of which H × w is inside C, in V vectors of 16 columns (V = 1 when w ≤ 16).
// Only what is inside C is computed: the last block of a minibatch's 50 rows has 2 rows, and
// computing all 12 made the products 17 % slower; n = 400 ends in a panel of 16 columns.
template <int H, int V>
void kernel_block(const Run* runs, int n_runs, float* c, int64_t ldc, float alpha, float beta, int64_t w,
                  const AdamTarget* adam, int64_t at) {
  __m512 acc[H][V];
  for (int i = 0; i < H; ++i) {
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  for (int r = 0; r < n_runs; ++r) {
    const float* panel = runs[r].panel;
    const float* sliver = runs[r].sliver;
    const int64_t stride = runs[r].stride;
    for (int64_t p = 0; p < runs[r].kc; ++p) {
      // The tile's params and moments (in L3, or further), asked for a row per k step (to be
      // written: prefetchw) while the FMAs run, so that the epilogue finds them in L1.
      if (adam && r == 0 && p < H) {
        const int64_t x = at + p * ldc;
        for (int v = 0; v < V; ++v) {
          __builtin_prefetch(adam->p + x + 16 * v, 1, 3);
          __builtin_prefetch(adam->m1 + x + 16 * v, 1, 3);
          __builtin_prefetch(adam->m2 + x + 16 * v, 1, 3);
        }
      }
      __m512 b[V];
      for (int v = 0; v < V; ++v) b[v] = _mm512_loadu_ps(panel + p * stride + 16 * v);
      const float* ap = sliver + p * kMR;
#pragma GCC unroll 12
      for (int i = 0; i < H; ++i) {
        const __m512 ai = _mm512_set1_ps(ap[i]);
        for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(ai, b[v], acc[i][v]);
      }
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 mask[V];
  for (int v = 0; v < V; ++v) {
    const int64_t cols = std::clamp<int64_t>(w - 16 * v, 0, 16);
    mask[v] = static_cast<__mmask16>(cols == 16 ? 0xFFFF : (1u << cols) - 1);
  }
  if (adam) {
    const AdamLanes step(adam->constants);
    for (int i = 0; i < H; ++i) {
      const int64_t row = at + i * ldc;
      for (int v = 0; v < V; ++v) {
        __m512 g = _mm512_mul_ps(va, acc[i][v]);
        if (beta != 0.0f) g = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v), g);
        float* p = adam->p + row + 16 * v;
        float* m1 = adam->m1 + row + 16 * v;
        float* m2 = adam->m2 + row + 16 * v;
        __m512 first, second;
        const __m512 next = step(g, _mm512_maskz_loadu_ps(mask[v], m1), _mm512_maskz_loadu_ps(mask[v], m2),
                                 _mm512_maskz_loadu_ps(mask[v], p), first, second);
        _mm512_mask_storeu_ps(m1, mask[v], first);
        _mm512_mask_storeu_ps(m2, mask[v], second);
        if (adam->stream && mask[v] == 0xFFFF && reinterpret_cast<std::uintptr_t>(p) % 64 == 0) {
          _mm512_stream_ps(p, next);
        } else {
          _mm512_mask_storeu_ps(p, mask[v], next);
        }
      }
    }
    return;
  }
  for (int i = 0; i < H; ++i) {
    float* row = c + i * ldc;
    for (int v = 0; v < V; ++v) {
      __m512 x = _mm512_mul_ps(va, acc[i][v]);
      if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], row + 16 * v), x);
      _mm512_mask_storeu_ps(row + 16 * v, mask[v], x);
    }
  }
}

using Kernel = void (*)(const Run*, int, float*, int64_t, float, float, int64_t, const AdamTarget*, int64_t);
template <int V, std::size_t... H>
constexpr std::array<Kernel, sizeof...(H)> kernels_for(std::index_sequence<H...>) {
  return {&kernel_block<static_cast<int>(H) + 1, V>...};
}
// [V − 1][h − 1]: the kernel for h rows in V vectors of columns.
constexpr std::array<std::array<Kernel, kMR>, 2> kKernels = {kernels_for<1>(std::make_index_sequence<kMR>()),
                                                            kernels_for<2>(std::make_index_sequence<kMR>())};

// The block's h rows (1 to kMR) and w columns (1 to kNR) by the kernel made for them; with
// `adam`, the block is at element `at` of adam's arrays.
void kernel(const Run* runs, int n_runs, float* c, int64_t ldc, float alpha, float beta, int64_t h, int64_t w,
            const AdamTarget* adam, int64_t at) {
  kKernels[w > 16 ? 1 : 0][static_cast<std::size_t>(h - 1)](runs, n_runs, c, ldc, alpha, beta, w, adam, at);
}

// A block's stretch of one term: rows [p0, p0 + kc) of its k, and where its packed A and B go.
struct Piece {
  const GemmTerm<float>* term;
  int64_t p0, kc;
  float* packed_a;
  float* packed_b;
};

}  // namespace

void sgemm_avx512(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const GemmTerm<float> term{a, lda, b, ldb, k};
  sgemm_avx512_sum(ta, tb, m, n, &term, 1, alpha, beta, c, ldc);
}

void sgemm_avx512_sum(bool ta, bool tb, int64_t m, int64_t n, const GemmTerm<float>* terms, int n_terms, float alpha,
                      float beta, float* c, int64_t ldc, const AdamTarget* adam) {
  thread_local Buffer packed_a, packed_b;
  thread_local std::vector<Piece> pieces;
  thread_local std::vector<Run> runs;
  const int64_t n_padded = (n + kNR - 1) / kNR * kNR;
  const int64_t m_padded = (std::min(kMC, m) + kMR - 1) / kMR * kMR;
  // op(B) not transposed: its full 32-column panels are read where they are (row p of a panel
  // is 32 contiguous floats of B's row p); only a last, partial panel is packed (zero-padded).
  // Transposed: every panel is packed.
  const int64_t full = tb ? 0 : n / kNR * kNR;
  // With one block of op(A)'s rows (a minibatch: m ≤ kMC), each panel of op(B) is used just
  // after it is packed, so it is packed then, into one panel's space that stays in L1 and L2,
  // instead of all of op(B) first (1.6 MB for 512 × 784: written out to L3, read back).
  const bool just_in_time = m <= kMC;
  int t = 0;
  int64_t p = 0;  // the next row of term t's k
  bool first = true;
  for (;;) {
    // The next block: up to kKC rows of the terms' k, in order, cut where a term ends.
    pieces.clear();
    int64_t kc = 0;
    while (t < n_terms && kc < kKC) {
      if (p >= terms[t].k) {
        ++t;
        p = 0;
        continue;
      }
      const int64_t take = std::min(kKC - kc, terms[t].k - p);
      pieces.push_back({&terms[t], p, take, nullptr, nullptr});
      kc += take;
      p += take;
    }
    if (pieces.empty()) break;
    // Adam's epilogue in the last block of k only (the earlier ones leave C's partial sums).
    bool last = true;
    for (int u = t; u < n_terms && last; ++u) last = terms[u].k - (u == t ? p : 0) <= 0;
    const AdamTarget* epilogue = last ? adam : nullptr;
    // The first block takes the caller's beta; the later ones add to it.
    const float block_beta = first ? beta : 1.0f;
    first = false;
    float* bp = packed_b.get(static_cast<std::size_t>(n_padded * kc));
    float* ap = packed_a.get(static_cast<std::size_t>(m_padded * kc));
    int64_t before = 0;
    for (Piece& piece : pieces) {
      piece.packed_b = bp + (just_in_time ? kNR : n_padded) * before;
      piece.packed_a = ap + m_padded * before;
      before += piece.kc;
      const GemmTerm<float>& g = *piece.term;
      if (!just_in_time && full < n) {
        pack_b(tb, g.b, g.ldb, piece.p0, piece.kc, full, n - full, piece.packed_b + full * piece.kc);
      }
    }
    runs.resize(pieces.size());
    const int n_runs = static_cast<int>(pieces.size());
    for (int64_t i0 = 0; i0 < m; i0 += kMC) {
      const int64_t mc = std::min(kMC, m - i0);
      for (const Piece& piece : pieces) {
        pack_a(ta, piece.term->a, piece.term->lda, i0, mc, piece.p0, piece.kc, piece.packed_a);
      }
      for (int64_t j = 0; j < n; j += kNR) {
        const int64_t w = std::min(kNR, n - j);
        const bool in_place = j < full;
        if (just_in_time && !in_place) {
          for (const Piece& piece : pieces) {
            pack_b(tb, piece.term->b, piece.term->ldb, piece.p0, piece.kc, j, w, piece.packed_b);
          }
        }
        const int64_t mr = sliver_rows(mc);
        for (int64_t s = 0; s < mc; s += mr) {
          for (int r = 0; r < n_runs; ++r) {
            const Piece& piece = pieces[static_cast<std::size_t>(r)];
            const GemmTerm<float>& g = *piece.term;
            const float* panel = in_place       ? g.b + piece.p0 * g.ldb + j
                                 : just_in_time ? piece.packed_b
                                                : piece.packed_b + j * piece.kc;
            runs[static_cast<std::size_t>(r)] = {piece.packed_a + s / mr * kMR * piece.kc, panel, in_place ? g.ldb : kNR,
                                                 piece.kc};
          }
          kernel(runs.data(), n_runs, c + (i0 + s) * ldc + j, ldc, alpha, block_beta, std::min(mr, mc - s), w, epilogue,
                 (i0 + s) * ldc + j);
        }
      }
    }
  }
  if (adam && adam->stream) _mm_sfence();  // the streamed params seen before the next step's reads
  if (first && beta != 1.0f) {  // no k at all: C = beta·C (beta = 0: zeros, C not read)
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    }
  }
}

}  // namespace vmc::runtime::detail

#endif

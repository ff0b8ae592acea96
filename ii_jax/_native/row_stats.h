// The Information Imbalance's row statistics for one row of distances, shared by the native kernels (stats.cc,
// window_stats.cc). For Delta(A -> B) and row i (the self column excluded):
//   dk      = k-th smallest a[i, :]
//   m_less  = #{j: a_ij < dk},  m_eq = #{j: a_ij == dk}
//   2r_ij   = 2 #{l: b_il < b_ij} + #{l: b_il == b_ij} + 1    (ties="average", mid-ranks; j itself included)
//           = 2 #{l: b_il < b_ij} + 2                         (ties="min")
//   stats   = [sum_{a_ij < dk} 2r_ij, sum_{a_ij == dk} (2r_ij >> 11), sum_{a_ij == dk} (2r_ij & 2047), m_less, m_eq]
// the same integers as ii_jax.imbalance._direction_fast / _direction_exact, whatever the size of the tie group.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define II_STATS_X86 1
#endif

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ii_jax_native {
namespace {  // internal linkage: each translation unit of the library keeps its own copy

constexpr int kSplit = 11;        // as imbalance._SPLIT
constexpr int64_t kCountMax = 8;  // neighbour sets up to this size are ranked by counting passes

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define II_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define II_CLONES
#endif

// #{j < m: v[j] < x} and #{j < m: v[j] == x}
template <typename T>
inline void count_less_eq(const T* v, int64_t m, T x, int64_t* less, int64_t* eq) {
  int64_t l = 0, e = 0;
  for (int64_t j = 0; j < m; j++) {
    l += v[j] < x;
    e += v[j] == x;
  }
  *less = l;
  *eq = e;
}

II_CLONES void count_i32(const int32_t* v, int64_t m, int32_t x, int64_t* l, int64_t* e) {
  count_less_eq(v, m, x, l, e);
}
II_CLONES void count_f32(const float* v, int64_t m, float x, int64_t* l, int64_t* e) { count_less_eq(v, m, x, l, e); }
inline void count(const int32_t* v, int64_t m, int32_t x, int64_t* l, int64_t* e);
inline void count(const float* v, int64_t m, float x, int64_t* l, int64_t* e) { count_f32(v, m, x, l, e); }
II_CLONES void count_u16(const uint16_t* v, int64_t m, uint16_t x, int64_t* l, int64_t* e) {
  count_less_eq(v, m, x, l, e);
}
inline void count(const uint16_t* v, int64_t m, uint16_t x, int64_t* l, int64_t* e);

template <typename T>
struct Scratch {
  std::vector<T> buf, sorted;
  std::vector<int64_t> strict, tied;
};

// The k-th smallest of v[j], j < m, j != self (k <= the number of such j).
template <typename T>
T kth_smallest(const T* v, int64_t m, int64_t self, int64_t k, Scratch<T>& s) {
  s.buf.clear();
  if (k <= 32) {  // a sorted buffer of the k smallest so far: one pass, rarely an insertion
    int64_t j = 0;
    for (; j < m && static_cast<int64_t>(s.buf.size()) < k; j++)
      if (j != self) s.buf.push_back(v[j]);
    std::sort(s.buf.begin(), s.buf.end());
    T top = s.buf.back();
    for (; j < m; j++) {
      if (v[j] < top && j != self) {
        auto pos = std::upper_bound(s.buf.begin(), s.buf.end() - 1, v[j]);
        std::move_backward(pos, s.buf.end() - 1, s.buf.end());
        *pos = v[j];
        top = s.buf.back();
      }
    }
    return top;
  }
  for (int64_t j = 0; j < m; j++)
    if (j != self) s.buf.push_back(v[j]);
  std::nth_element(s.buf.begin(), s.buf.begin() + (k - 1), s.buf.end());
  return s.buf[k - 1];
}

// The neighbour sets of one row: s.strict = {j != self: a[j] < dk}, s.tied = {j != self: a[j] == dk}, dk the
// k-th smallest a[j] (j != self). The general route: kth_smallest, then one partition pass.
template <typename T>
void neighbours_general(const T* a, int64_t m, int64_t self, int64_t k, Scratch<T>& s) {
  const T dk = kth_smallest(a, m, self, k, s);
  s.strict.clear();
  s.tied.clear();
  for (int64_t j = 0; j < m; j++) {
    if (j == self) continue;
    if (a[j] < dk)
      s.strict.push_back(j);
    else if (a[j] == dk)
      s.tied.push_back(j);
  }
}

// min over v[j], j < m (m >= 1), vectorised by the compiler for each target.
II_CLONES int32_t min_i32(const int32_t* v, int64_t m) {
  int32_t mn = v[0];
  for (int64_t j = 1; j < m; j++) mn = v[j] < mn ? v[j] : mn;
  return mn;
}
II_CLONES uint16_t min_u16(const uint16_t* v, int64_t m) {
  uint16_t mn = v[0];
  for (int64_t j = 1; j < m; j++) mn = v[j] < mn ? v[j] : mn;
  return mn;
}
inline int32_t min_of(const int32_t* v, int64_t m) { return min_i32(v, m); }
inline uint16_t min_of(const uint16_t* v, int64_t m) { return min_u16(v, m); }

#ifdef II_STATS_X86
// Appends {j < m: v[j] == x} + offset to out: one compare and one mask per 8 columns.
__attribute__((target("avx2"))) void equal_positions_avx2(const int32_t* v, int64_t m, int32_t x, int64_t offset,
                                                          std::vector<int64_t>& out) {
  const __m256i vx = _mm256_set1_epi32(x);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256i c = _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + j)), vx);
    unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(c)));
    while (mask) {
      out.push_back(offset + j + __builtin_ctz(mask));
      mask &= mask - 1;
    }
  }
  for (; j < m; j++)
    if (v[j] == x) out.push_back(offset + j);
}

// The sum of the eight int32 lanes of v.
__attribute__((target("avx2"))) inline int64_t lane_sum(__m256i v) {
  alignas(32) int32_t b[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(b), v);
  int64_t s = 0;
  for (int q = 0; q < 8; q++) s += b[q];
  return s;
}

// #{j < m: v[j] < x} and #{j < m: v[j] == x}, in int32 lanes (m < 2^31).
__attribute__((target("avx2"))) void count_i32_avx2(const int32_t* v, int64_t m, int32_t x, int64_t* less,
                                                    int64_t* eq) {
  const __m256i vx = _mm256_set1_epi32(x);
  __m256i l = _mm256_setzero_si256(), e = l;
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + j));
    l = _mm256_sub_epi32(l, _mm256_cmpgt_epi32(vx, a));  // a lane's mask is -1 where true
    e = _mm256_sub_epi32(e, _mm256_cmpeq_epi32(vx, a));
  }
  int64_t sl = lane_sum(l), se = lane_sum(e);
  for (; j < m; j++) sl += v[j] < x, se += v[j] == x;
  *less = sl;
  *eq = se;
}

// uint16 rows (the window sweep's scratch where distances fit 16 bits), 16 columns per compare.
__attribute__((target("avx2"))) void equal_positions_u16_avx2(const uint16_t* v, int64_t m, uint16_t x,
                                                              int64_t offset, std::vector<int64_t>& out) {
  const __m256i vx = _mm256_set1_epi16(static_cast<int16_t>(x));
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    const __m256i c = _mm256_cmpeq_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + j)), vx);
    unsigned mask = static_cast<unsigned>(_mm256_movemask_epi8(c));  // two bits per column
    while (mask) {
      const int b = __builtin_ctz(mask);
      out.push_back(offset + j + b / 2);
      mask &= ~(3u << b);
    }
  }
  for (; j < m; j++)
    if (v[j] == x) out.push_back(offset + j);
}

// #{j < m: v[j] < x}, #{j < m: v[j] == x}: unsigned order by a signed compare of values biased by 2^15, counts in
// 16-bit lanes widened every 32767 vectors.
__attribute__((target("avx2"))) void count_u16_avx2(const uint16_t* v, int64_t m, uint16_t x, int64_t* less,
                                                    int64_t* eq) {
  const __m256i bias = _mm256_set1_epi16(static_cast<int16_t>(0x8000));
  const __m256i vx = _mm256_set1_epi16(static_cast<int16_t>(x ^ 0x8000));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i l32 = _mm256_setzero_si256(), e32 = l32;
  int64_t j = 0;
  while (j + 16 <= m) {
    __m256i l = _mm256_setzero_si256(), e = l;
    for (int64_t it = 0; it < 32767 && j + 16 <= m; it++, j += 16) {
      const __m256i a = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + j)), bias);
      l = _mm256_sub_epi16(l, _mm256_cmpgt_epi16(vx, a));
      e = _mm256_sub_epi16(e, _mm256_cmpeq_epi16(vx, a));
    }
    l32 = _mm256_add_epi32(l32, _mm256_madd_epi16(l, ones));
    e32 = _mm256_add_epi32(e32, _mm256_madd_epi16(e, ones));
  }
  int64_t sl = lane_sum(l32), se = lane_sum(e32);
  for (; j < m; j++) sl += v[j] < x, se += v[j] == x;
  *less = sl;
  *eq = se;
}

inline bool stats_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

inline void count(const int32_t* v, int64_t m, int32_t x, int64_t* l, int64_t* e) {
#ifdef II_STATS_X86
  if (stats_avx2()) return count_i32_avx2(v, m, x, l, e);
#endif
  count_i32(v, m, x, l, e);
}

inline void count(const uint16_t* v, int64_t m, uint16_t x, int64_t* l, int64_t* e) {
#ifdef II_STATS_X86
  if (stats_avx2()) return count_u16_avx2(v, m, x, l, e);
#endif
  count_u16(v, m, x, l, e);
}

#ifdef II_STATS_X86
inline void equal_positions(const int32_t* v, int64_t m, int32_t x, int64_t off, std::vector<int64_t>& out) {
  equal_positions_avx2(v, m, x, off, out);
}
inline void equal_positions(const uint16_t* v, int64_t m, uint16_t x, int64_t off, std::vector<int64_t>& out) {
  equal_positions_u16_avx2(v, m, x, off, out);
}
#endif

// k = 1 on integer distances (Hamming, the hot case): dk = the row's minimum without self, no strict neighbours,
// the tied ones found by vector compares.
template <typename T>
inline void neighbours_integer(const T* a, int64_t m, int64_t self, int64_t k, Scratch<T>& s) {
#ifdef II_STATS_X86
  if (k == 1 && stats_avx2()) {
    const bool has_self = self >= 0 && self < m;
    const int64_t cut = has_self ? self : m;  // [0, cut) and [cut + 1, m): the columns but self
    T dk = cut > 0 ? min_of(a, cut) : a[cut + 1];
    if (has_self && cut + 1 < m) dk = std::min(dk, min_of(a + cut + 1, m - cut - 1));
    s.strict.clear();
    s.tied.clear();
    equal_positions(a, cut, dk, 0, s.tied);
    if (has_self && cut + 1 < m) equal_positions(a + cut + 1, m - cut - 1, dk, cut + 1, s.tied);
    return;
  }
#endif
  neighbours_general(a, m, self, k, s);
}
inline void neighbours(const int32_t* a, int64_t m, int64_t self, int64_t k, Scratch<int32_t>& s) {
  neighbours_integer(a, m, self, k, s);
}
inline void neighbours(const uint16_t* a, int64_t m, int64_t self, int64_t k, Scratch<uint16_t>& s) {
  neighbours_integer(a, m, self, k, s);
}
inline void neighbours(const float* a, int64_t m, int64_t self, int64_t k, Scratch<float>& s) {
  neighbours_general(a, m, self, k, s);
}

// One direction for one row: neighbours in a, ranks in b; out[0..4] strided by `stride`.
template <typename T>
void direction_row(const T* a, const T* b, int64_t m, int64_t self, int64_t k, bool average, Scratch<T>& s,
                   int32_t* out, int64_t stride) {
  const bool has_self = self >= 0 && self < m;
  neighbours(a, m, self, k, s);
  const int64_t n_nb = static_cast<int64_t>(s.strict.size() + s.tied.size());
  const bool by_count = n_nb <= kCountMax;
  if (!by_count) {  // a sorted copy of b's row without self: ranks by binary search
    s.sorted.clear();
    for (int64_t j = 0; j < m; j++)
      if (j != self) s.sorted.push_back(b[j]);
    std::sort(s.sorted.begin(), s.sorted.end());
  }
  auto two_rank = [&](int64_t j) -> int64_t {
    const T x = b[j];
    int64_t less, eq;
    if (by_count) {
      count(b, m, x, &less, &eq);
      if (has_self) {
        less -= b[self] < x;
        eq -= b[self] == x;
      }
    } else {
      auto lo = std::lower_bound(s.sorted.begin(), s.sorted.end(), x);
      auto hi = std::upper_bound(lo, s.sorted.end(), x);
      less = lo - s.sorted.begin();
      eq = hi - lo;
    }
    return average ? 2 * less + eq + 1 : 2 * less + 2;
  };
  int64_t s_strict = 0, hi = 0, lo = 0;
  for (int64_t j : s.strict) s_strict += two_rank(j);
  for (int64_t j : s.tied) {
    const int64_t r2 = two_rank(j);
    hi += r2 >> kSplit;
    lo += r2 & ((int64_t{1} << kSplit) - 1);
  }
  const int64_t vals[5] = {s_strict, hi, lo, static_cast<int64_t>(s.strict.size()),
                           static_cast<int64_t>(s.tied.size())};
  for (int q = 0; q < 5; q++) out[q * stride] = static_cast<int32_t>(vals[q]);
}

}  // namespace
}  // namespace ii_jax_native

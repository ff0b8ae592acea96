// Row statistics of the Information Imbalance for a block of distance rows, as an XLA FFI custom call for the CPU.
//
// The same integers as ii_jax.imbalance._direction_fast / _direction_exact, for every row, whatever the size of
// its tie group (so no overflow path): for Delta(A -> B) and row i (self column i and columns >= n_valid excluded)
//   dk      = k-th smallest a[i, :]
//   m_less  = #{j: a_ij < dk},  m_eq = #{j: a_ij == dk}
//   2r_ij   = 2 #{l: b_il < b_ij} + #{l: b_il == b_ij} + 1    (ties="average", mid-ranks; j itself included)
//           = 2 #{l: b_il < b_ij} + 2                         (ties="min")
//   stats   = [sum_{a_ij < dk} 2r_ij, sum_{a_ij == dk} (2r_ij >> 11), sum_{a_ij == dk} (2r_ij & 2047), m_less, m_eq]
// Operands dx, dy [B, M] (int32 or float32), row_ids int32 [B]; result int32 [2, 5, B] (X->Y, then Y->X).
// Ranks are counted (one pass per neighbour) for small neighbour sets and by a sorted copy of the row otherwise.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

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
inline void count(const int32_t* v, int64_t m, int32_t x, int64_t* l, int64_t* e) { count_i32(v, m, x, l, e); }
inline void count(const float* v, int64_t m, float x, int64_t* l, int64_t* e) { count_f32(v, m, x, l, e); }

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

// One direction for one row: neighbours in a, ranks in b; out[0..4] strided by `stride`.
template <typename T>
void direction_row(const T* a, const T* b, int64_t m, int64_t self, int64_t k, bool average, Scratch<T>& s,
                   int32_t* out, int64_t stride) {
  const bool has_self = self >= 0 && self < m;
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

template <typename T>
ffi::Error StatsImpl(ffi::AnyBuffer dx, ffi::AnyBuffer dy, ffi::Buffer<ffi::S32> row_ids,
                     ffi::ResultBuffer<ffi::S32> out, int64_t n_valid, int64_t k, int64_t average, int64_t threads) {
  auto sx = dx.dimensions(), sy = dy.dimensions();
  if (sx.size() != 2 || sy.size() != 2 || sx[0] != sy[0] || sx[1] != sy[1])
    return ffi::Error::InvalidArgument("ii_jax_block_stats: dx and dy must have one shape [B, M]");
  const int64_t nb = sx[0], ncol = sx[1];
  if (row_ids.element_count() != static_cast<size_t>(nb) || out->element_count() != static_cast<size_t>(10 * nb))
    return ffi::Error::InvalidArgument("ii_jax_block_stats: row_ids must be [B] and the result [2, 5, B]");
  if (n_valid < 0 || n_valid > ncol || k < 1 || k >= n_valid - 1)
    return ffi::Error::InvalidArgument("ii_jax_block_stats: need 1 <= k < n_valid - 1 and n_valid <= M");
  const T* px = reinterpret_cast<const T*>(dx.untyped_data());
  const T* py = reinterpret_cast<const T*>(dy.untyped_data());
  const int32_t* ids = row_ids.typed_data();
  int32_t* o = out->typed_data();
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    Scratch<T> s;
    for (int64_t i; (i = next.fetch_add(1)) < nb;) {
      const T *a = px + i * ncol, *b = py + i * ncol;
      direction_row(a, b, n_valid, ids[i], k, average != 0, s, o + i, nb);           // X -> Y
      direction_row(b, a, n_valid, ids[i], k, average != 0, s, o + 5 * nb + i, nb);  // Y -> X
    }
  };
  int64_t nthreads = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::max<int64_t>(1, std::min<int64_t>(nthreads, nb / 16));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < nthreads; t++) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  return ffi::Error::Success();
}

ffi::Error Stats(ffi::AnyBuffer dx, ffi::AnyBuffer dy, ffi::Buffer<ffi::S32> row_ids, ffi::ResultBuffer<ffi::S32> out,
                 int64_t n_valid, int64_t k, int64_t average, int64_t threads) {
  if (dx.element_type() != dy.element_type())
    return ffi::Error::InvalidArgument("ii_jax_block_stats: dx and dy must have one dtype");
  switch (dx.element_type()) {
    case ffi::DataType::S32:
      return StatsImpl<int32_t>(dx, dy, row_ids, out, n_valid, k, average, threads);
    case ffi::DataType::F32:
      return StatsImpl<float>(dx, dy, row_ids, out, n_valid, k, average, threads);
    default:
      return ffi::Error::InvalidArgument("ii_jax_block_stats: distances must be int32 or float32");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(IiJaxBlockStats, Stats,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()          // dx [B, M]
                                  .Arg<ffi::AnyBuffer>()          // dy [B, M]
                                  .Arg<ffi::Buffer<ffi::S32>>()   // row_ids [B]
                                  .Ret<ffi::Buffer<ffi::S32>>()   // [2, 5, B]
                                  .Attr<int64_t>("n_valid")
                                  .Attr<int64_t>("k")
                                  .Attr<int64_t>("average")       // 1: ties="average", 0: ties="min"
                                  .Attr<int64_t>("threads"));     // <= 0: every core

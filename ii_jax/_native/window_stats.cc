// The token-window sweep fused into one XLA FFI custom call for the CPU: the Information Imbalance's row statistics
// of two spaces for K nested windows of last tokens, from the packed bits, in one pass of the popcount.
//
//   x: uint32 [N, WX], each item's kept tokens in order, their words concatenated; xb: int32 [K + 1], decreasing
//      word bounds: window q is words [xb[q + 1], xb[0]) of every row (the last tokens). y, yb: the same for Y.
//   result: int32 [K, 2, 5, N], window q's statistics (X->Y, then Y->X) as ii_jax_block_stats gives them for the
//      whole [N, N] distance matrices of that window (row_stats.h).
//
// A window's Hamming distance is the sum of its tokens' distances, so the windows are running sums. Phase 1 runs
// the symmetric 64 x 64 tiles of hamming.cc (tiles on and above the diagonal, mirrored) through the segments
// [xb[q + 1], xb[q]) in order: after segment q a tile's accumulator is window q's tile, and is stored as such. The
// popcount work is one pass over the largest window, plus K tile stores. Phase 2 takes every window's rows from
// that scratch (K x 2 x N x N, uint16 where the largest window has at most 65535 bits, else int32; reused from
// call to call) and computes their statistics.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "popcount.h"
#include "row_stats.h"
#include "threads.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using namespace ii_jax_native;

// The scratch of the last call, kept for the next (fresh pages cost a fault each); calls that overlap, or need
// more than kKeepBytes, allocate their own.
constexpr size_t kKeepBytes = size_t{512} << 20;
std::mutex scratch_mutex;
std::unique_ptr<char[]> scratch_kept;
size_t scratch_size = 0;

struct Side {
  const uint32_t* data;
  int64_t w;              // words per row
  const int32_t* bounds;  // [K + 1], decreasing
};

// The spans of one side in the order the running sum takes them: window q's segment [bounds[q + 1], bounds[q]) cut
// into pieces of at most kChunk words, the last piece of each segment writing window q's tile (wt + q * kTile^2);
// then grouped into passes of at most kChunk words, so a micro-block's rows stay in L1 within a pass.
std::vector<std::vector<Span>> passes(const int32_t* bounds, int64_t nwin, int32_t* wt, int64_t width) {
  std::vector<std::vector<Span>> out(1);
  int64_t words = 0;
  for (int64_t q = 0; q < nwin; q++)
    for (int64_t lo = bounds[q + 1], hi = bounds[q]; lo < hi;) {
      const int64_t piece = std::min(kChunk, hi - lo);
      if (words + piece > kChunk) out.emplace_back(), words = 0;
      out.back().push_back({lo, lo + piece, lo + piece == hi ? wt + q * kTile * kTile : nullptr, width});
      words += piece;
      lo += piece;
    }
  return out;
}

// Phase 1: d[(q * 2 + side) * N * N + i * N + j] = window q's distance of rows i and j, as T (int32, or uint16
// where every distance fits: half the scratch to write and to read).
template <typename T>
void window_distances(const Side (&sides)[2], int64_t n, int64_t nwin, T* d, int64_t nthreads, const Isa& isa) {
  const int64_t nt = (n + kTile - 1) / kTile;
  std::vector<std::pair<int32_t, int32_t>> jobs;
  for (int64_t ti = 0; ti < nt; ti++)
    for (int64_t tj = ti; tj < nt; tj++) jobs.emplace_back(ti, tj);
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    std::vector<int32_t> acc(kTile * kTile), wt(nwin * kTile * kTile);
    const std::vector<std::vector<Span>> plan[2] = {passes(sides[0].bounds, nwin, wt.data(), sides[0].w),
                                                    passes(sides[1].bounds, nwin, wt.data(), sides[1].w)};
    const uint32_t* xr[4];
    const uint32_t* yc[4];
    for (int64_t t; (t = next.fetch_add(1)) < static_cast<int64_t>(jobs.size());) {
      const int64_t ri = jobs[t].first * kTile, cj = jobs[t].second * kTile;
      const int64_t tr = std::min(kTile, n - ri), tc = std::min(kTile, n - cj);
      for (int side = 0; side < 2; side++) {
        const Side& sd = sides[side];
        std::fill(acc.begin(), acc.end(), 0);
        for (const auto& pass : plan[side])
          for (int64_t i = 0; i < tr; i += isa.r) {
            for (int r = 0; r < isa.r; r++) xr[r] = sd.data + (ri + std::min(i + r, tr - 1)) * sd.w;
            for (int64_t j = 0; j < tc; j += isa.c) {  // rows past the tile's edge repeat its last row, unstored
              for (int c = 0; c < isa.c; c++) yc[c] = sd.data + (cj + std::min(j + c, tc - 1)) * sd.w;
              isa.spans(xr, yc, pass.data(), static_cast<int64_t>(pass.size()), acc.data() + i * kTile + j, kTile,
                        i * kTile + j);
            }
          }
        for (int64_t q = 0; q < nwin; q++) {
          const int32_t* tile = wt.data() + q * kTile * kTile;
          T* out = d + (q * 2 + side) * n * n;
          for (int64_t i = 0; i < tr; i++)
            for (int64_t j = 0; j < tc; j++) out[(ri + i) * n + cj + j] = static_cast<T>(tile[i * kTile + j]);
          if (ri != cj)
            for (int64_t j = 0; j < tc; j++)
              for (int64_t i = 0; i < tr; i++) out[(cj + j) * n + ri + i] = static_cast<T>(tile[i * kTile + j]);
        }
      }
    }
  };
  run_threads(std::min<int64_t>(nthreads, static_cast<int64_t>(jobs.size())), work);
}

// Phase 2: every window's row statistics, rows in chunks handed to threads.
template <typename T>
void window_row_stats(const T* d, int64_t n, int64_t nwin, int64_t k, bool average, int32_t* o,
                      int64_t nthreads) {
  constexpr int64_t kRows = 16;
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    Scratch<T> s;
    for (int64_t r0; (r0 = next.fetch_add(kRows)) < n;) {
      const int64_t r1 = std::min(n, r0 + kRows);
      for (int64_t q = 0; q < nwin; q++) {
        const T* dx = d + (q * 2) * n * n;
        const T* dy = dx + n * n;
        int32_t* oq = o + q * 10 * n;
        for (int64_t i = r0; i < r1; i++) {
          direction_row(dx + i * n, dy + i * n, n, i, k, average, s, oq + i, n);          // X -> Y
          direction_row(dy + i * n, dx + i * n, n, i, k, average, s, oq + 5 * n + i, n);  // Y -> X
        }
      }
    }
  };
  run_threads(std::max<int64_t>(1, std::min<int64_t>(nthreads, n / kRows)), work);
}

bool valid_bounds(const int32_t* b, int64_t nwin, int64_t w) {
  if (b[0] > w || b[nwin] < 0) return false;
  for (int64_t q = 0; q < nwin; q++)
    if (b[q + 1] >= b[q]) return false;
  return true;
}

ffi::Error WindowStatsImpl(ffi::Buffer<ffi::U32> x, ffi::Buffer<ffi::U32> y, ffi::Buffer<ffi::S32> xb,
                           ffi::Buffer<ffi::S32> yb, ffi::ResultBuffer<ffi::S32> out, int64_t k, int64_t average,
                           int64_t threads, int64_t isa) {
  auto dx = x.dimensions(), dy = y.dimensions(), dout = out->dimensions();
  if (dx.size() != 2 || dy.size() != 2 || dx[0] != dy[0])
    return ffi::Error::InvalidArgument("ii_jax_window_stats: x and y must be [N, W] with one N");
  const int64_t n = dx[0];
  if (dout.size() != 4 || dout[1] != 2 || dout[2] != 5 || dout[3] != n)
    return ffi::Error::InvalidArgument("ii_jax_window_stats: the result must be [K, 2, 5, N]");
  const int64_t nwin = dout[0];
  if (nwin < 1 || xb.element_count() != static_cast<size_t>(nwin + 1) ||
      yb.element_count() != static_cast<size_t>(nwin + 1))
    return ffi::Error::InvalidArgument("ii_jax_window_stats: need K >= 1 windows and bounds [K + 1]");
  if (!valid_bounds(xb.typed_data(), nwin, dx[1]) || !valid_bounds(yb.typed_data(), nwin, dy[1]))
    return ffi::Error::InvalidArgument("ii_jax_window_stats: bounds must decrease strictly within [0, W]");
  if (n < 3 || k < 1 || k >= n - 1)
    return ffi::Error::InvalidArgument("ii_jax_window_stats: need N >= 3 and 1 <= k < N - 1");
  // the largest distance is the bit count of the largest window: uint16 scratch where both sides fit
  const bool narrow = int64_t{32} * std::max(xb.typed_data()[0] - xb.typed_data()[nwin],
                                             yb.typed_data()[0] - yb.typed_data()[nwin]) <= 65535;
  const size_t bytes = static_cast<size_t>(nwin) * 2 * n * n * (narrow ? sizeof(uint16_t) : sizeof(int32_t));
  std::unique_lock<std::mutex> lock(scratch_mutex, std::try_to_lock);
  std::unique_ptr<char[]> own;
  char* d;
  if (lock.owns_lock() && bytes <= kKeepBytes) {
    if (scratch_size < bytes) {
      scratch_kept.reset();
      scratch_kept.reset(new char[bytes]);
      scratch_size = bytes;
    }
    d = scratch_kept.get();
  } else {
    if (lock.owns_lock()) lock.unlock();
    own.reset(new char[bytes]);
    d = own.get();
  }
  const int64_t nthreads = requested_threads(threads);
  const Side sides[2] = {{x.typed_data(), dx[1], xb.typed_data()}, {y.typed_data(), dy[1], yb.typed_data()}};
  if (narrow) {
    uint16_t* dn = reinterpret_cast<uint16_t*>(d);
    window_distances(sides, n, nwin, dn, nthreads, pick_isa(isa));
    window_row_stats(dn, n, nwin, k, average != 0, out->typed_data(), nthreads);
  } else {
    int32_t* dw = reinterpret_cast<int32_t*>(d);
    window_distances(sides, n, nwin, dw, nthreads, pick_isa(isa));
    window_row_stats(dw, n, nwin, k, average != 0, out->typed_data(), nthreads);
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(IiJaxWindowStats, WindowStatsImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()   // x [N, WX]
                                  .Arg<ffi::Buffer<ffi::U32>>()   // y [N, WY]
                                  .Arg<ffi::Buffer<ffi::S32>>()   // xb [K + 1]
                                  .Arg<ffi::Buffer<ffi::S32>>()   // yb [K + 1]
                                  .Ret<ffi::Buffer<ffi::S32>>()   // [K, 2, 5, N]
                                  .Attr<int64_t>("k")
                                  .Attr<int64_t>("average")       // 1: ties="average", 0: ties="min"
                                  .Attr<int64_t>("threads")       // <= 0: every core
                                  .Attr<int64_t>("isa"));         // -1 best, 0 scalar, 1 avx2, 2 avx512

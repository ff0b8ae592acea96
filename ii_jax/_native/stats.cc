// Row statistics of the Information Imbalance for a block of distance rows, as an XLA FFI custom call for the CPU.
//
// The statistics of each row (row_stats.h: the same integers as ii_jax.imbalance._direction_fast / _exact),
// self column i and columns >= n_valid excluded.
// Operands dx, dy [B, M] (int32 or float32), row_ids int32 [B]; result int32 [2, 5, B] (X->Y, then Y->X).
// Ranks are counted (one pass per neighbour) for small neighbour sets and by a sorted copy of the row otherwise.
// IiJaxSubsetStats: the same statistics for the sub-matrices of a subset of the points (the jackknife's), read in
// place from the whole matrices.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "row_stats.h"
#include "threads.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using namespace ii_jax_native;

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
  run_threads(std::max<int64_t>(1, std::min<int64_t>(requested_threads(threads), nb / 16)), work);
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

// The statistics of the sub-matrices dx[idx][:, idx], dy[idx][:, idx] of two [N, N] matrices (a jackknife subset):
// each row of the subset gathered into a scratch row of m columns, then the same row statistics as above (self:
// the row's position in idx). The sub-matrices are never written out.
template <typename T>
ffi::Error SubsetImpl(ffi::AnyBuffer dx, ffi::AnyBuffer dy, ffi::Buffer<ffi::S32> idx, ffi::ResultBuffer<ffi::S32> out,
                      int64_t k, int64_t average, int64_t threads) {
  auto sx = dx.dimensions(), sy = dy.dimensions();
  if (sx.size() != 2 || sy.size() != 2 || sx[0] != sx[1] || sx[0] != sy[0] || sx[1] != sy[1])
    return ffi::Error::InvalidArgument("ii_jax_subset_stats: dx and dy must have one square shape [N, N]");
  const int64_t n = sx[0], m = static_cast<int64_t>(idx.element_count());
  if (out->element_count() != static_cast<size_t>(10 * m))
    return ffi::Error::InvalidArgument("ii_jax_subset_stats: the result must be [2, 5, M]");
  if (k < 1 || k >= m - 1) return ffi::Error::InvalidArgument("ii_jax_subset_stats: need 1 <= k < M - 1");
  const int32_t* id = idx.typed_data();
  for (int64_t j = 0; j < m; j++)
    if (id[j] < 0 || id[j] >= n) return ffi::Error::InvalidArgument("ii_jax_subset_stats: an index is out of range");
  const T* px = reinterpret_cast<const T*>(dx.untyped_data());
  const T* py = reinterpret_cast<const T*>(dy.untyped_data());
  int32_t* o = out->typed_data();
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    Scratch<T> s;
    std::vector<T> ra(m), rb(m);
    for (int64_t i; (i = next.fetch_add(1)) < m;) {
      const T *a = px + static_cast<int64_t>(id[i]) * n, *b = py + static_cast<int64_t>(id[i]) * n;
      for (int64_t j = 0; j < m; j++) {
        ra[j] = a[id[j]];
        rb[j] = b[id[j]];
      }
      direction_row(ra.data(), rb.data(), m, i, k, average != 0, s, o + i, m);           // X -> Y
      direction_row(rb.data(), ra.data(), m, i, k, average != 0, s, o + 5 * m + i, m);  // Y -> X
    }
  };
  run_threads(std::max<int64_t>(1, std::min<int64_t>(requested_threads(threads), m / 16)), work);
  return ffi::Error::Success();
}

ffi::Error Subset(ffi::AnyBuffer dx, ffi::AnyBuffer dy, ffi::Buffer<ffi::S32> idx, ffi::ResultBuffer<ffi::S32> out,
                  int64_t k, int64_t average, int64_t threads) {
  if (dx.element_type() != dy.element_type())
    return ffi::Error::InvalidArgument("ii_jax_subset_stats: dx and dy must have one dtype");
  switch (dx.element_type()) {
    case ffi::DataType::S32:
      return SubsetImpl<int32_t>(dx, dy, idx, out, k, average, threads);
    case ffi::DataType::F32:
      return SubsetImpl<float>(dx, dy, idx, out, k, average, threads);
    default:
      return ffi::Error::InvalidArgument("ii_jax_subset_stats: distances must be int32 or float32");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(IiJaxSubsetStats, Subset,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()          // dx [N, N]
                                  .Arg<ffi::AnyBuffer>()          // dy [N, N]
                                  .Arg<ffi::Buffer<ffi::S32>>()   // idx [M]: the subset's rows and columns
                                  .Ret<ffi::Buffer<ffi::S32>>()   // [2, 5, M]
                                  .Attr<int64_t>("k")
                                  .Attr<int64_t>("average")       // 1: ties="average", 0: ties="min"
                                  .Attr<int64_t>("threads"));     // <= 0: every core

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

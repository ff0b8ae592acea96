// Hamming distances between bit-packed rows, as an XLA FFI custom call for the CPU (ii-jax's "native" kernel).
//
//   out[i, j] = sum_w popcount(a[i0 + i, w] ^ b[j0 + j, w])      a: uint32 [N, W], b: uint32 [M, W]
//
// for i < rows, j < cols (the result's shape); rows past N (columns past M) come back 0. With symmetric=1 the
// operands are one matrix against itself and the block is the whole [N, N] matrix: only the tiles on and above
// the diagonal are computed and each is mirrored.
//
// Blocked like a GEMM: 64 x 64 output tiles, k-chunks of 1024 words (4 KB of each row) so the rows of a tile's
// micro-block stay in L1 and the tile's rows in L2, a register-blocked micro-kernel, tiles handed to threads
// from an atomic counter. The popcount is chosen at run time from what the CPU has:
//   avx512: VPOPCNTQ on 512-bit words (AVX512F + AVX512_VPOPCNTDQ), 4 x 4 micro-kernel (16 accumulators);
//   avx2:   nibble-lookup popcount (vpshufb), 2 x 2 micro-kernel, byte counters folded every 31 vectors. A
//           Harley-Seal carry-save version (Mula, Kurz, Lemire, arXiv:1611.07612) was tried one pair at a time and
//           measured slower here (two loads per vector from L2); the lookup runs at the reference C kernel's speed;
//   scalar: 64-bit popcount, for any x86-64 (or other) CPU.
// The library is compiled without -m flags; each kernel carries its own target attribute, so it loads on any
// CPU and never executes an instruction the CPU lacks.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "popcount.h"
#include "threads.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using namespace ii_jax_native;

struct Rows {  // row-major packed words
  const uint32_t* data;
  int64_t n, w;
};

// out [rows, cols] (row-major) = Hamming distances of a[i0 + i] and b[j0 + j]; zero where a row is missing.
void hamming_block(Rows a, Rows b, int64_t i0, int64_t j0, int64_t rows, int64_t cols, int32_t* out,
                   bool symmetric, int64_t threads, const Isa& isa) {
  const int64_t vi = std::clamp<int64_t>(a.n - i0, 0, rows), vj = std::clamp<int64_t>(b.n - j0, 0, cols);
  for (int64_t i = 0; i < rows; i++)  // the missing part (padding) is zero
    if (i >= vi)
      std::memset(out + i * cols, 0, sizeof(int32_t) * cols);
    else if (vj < cols)
      std::memset(out + i * cols + vj, 0, sizeof(int32_t) * (cols - vj));
  if (vi == 0 || vj == 0) return;
  const int64_t nti = (vi + kTile - 1) / kTile, ntj = (vj + kTile - 1) / kTile;
  std::vector<std::pair<int32_t, int32_t>> jobs;
  for (int64_t ti = 0; ti < nti; ti++)
    for (int64_t tj = symmetric ? ti : 0; tj < ntj; tj++) jobs.emplace_back(ti, tj);
  const int64_t w = a.w;
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    std::vector<int32_t> acc(kTile * kTile);
    const uint32_t* xr[4];
    const uint32_t* yc[4];
    for (int64_t t; (t = next.fetch_add(1)) < static_cast<int64_t>(jobs.size());) {
      const int64_t ri = jobs[t].first * kTile, cj = jobs[t].second * kTile;
      const int64_t tr = std::min(kTile, vi - ri), tc = std::min(kTile, vj - cj);
      std::fill(acc.begin(), acc.end(), 0);
      for (int64_t k0 = 0; k0 < w; k0 += kChunk) {
        const int64_t k1 = std::min(w, k0 + kChunk);
        for (int64_t i = 0; i < tr; i += isa.r) {
          for (int r = 0; r < isa.r; r++) xr[r] = a.data + (i0 + ri + std::min(i + r, tr - 1)) * w;
          for (int64_t j = 0; j < tc; j += isa.c) {  // rows past the tile's edge repeat its last row, unstored
            for (int c = 0; c < isa.c; c++) yc[c] = b.data + (j0 + cj + std::min(j + c, tc - 1)) * w;
            isa.micro(xr, yc, k0, k1, acc.data() + i * kTile + j, kTile);
          }
        }
      }
      for (int64_t i = 0; i < tr; i++)
        std::memcpy(out + (ri + i) * cols + cj, acc.data() + i * kTile, sizeof(int32_t) * tc);
      if (symmetric && ri != cj)
        for (int64_t j = 0; j < tc; j++)
          for (int64_t i = 0; i < tr; i++) out[(cj + j) * cols + ri + i] = acc[i * kTile + j];
    }
  };
  run_threads(std::min<int64_t>(requested_threads(threads), static_cast<int64_t>(jobs.size())), work);
}

ffi::Error HammingImpl(ffi::Buffer<ffi::U32> a, ffi::Buffer<ffi::U32> b, ffi::Buffer<ffi::S32> offsets,
                       ffi::ResultBuffer<ffi::S32> out, int64_t symmetric, int64_t threads, int64_t isa) {
  auto da = a.dimensions(), db = b.dimensions(), dout = out->dimensions();
  if (da.size() != 2 || db.size() != 2 || dout.size() != 2)
    return ffi::Error::InvalidArgument("ii_jax_hamming: operands and result must be 2-d");
  if (da[1] != db[1]) return ffi::Error::InvalidArgument("ii_jax_hamming: a and b need the same number of words");
  if (offsets.element_count() != 2) return ffi::Error::InvalidArgument("ii_jax_hamming: offsets must be [2]");
  const int64_t i0 = offsets.typed_data()[0], j0 = offsets.typed_data()[1];
  if (i0 < 0 || j0 < 0) return ffi::Error::InvalidArgument("ii_jax_hamming: negative offset");
  if (symmetric && (i0 != 0 || j0 != 0 || dout[0] != da[0] || dout[1] != da[0] || da[0] != db[0]))
    return ffi::Error::InvalidArgument("ii_jax_hamming: symmetric=1 needs the whole [N, N] matrix of one operand");
  hamming_block({a.typed_data(), da[0], da[1]}, {b.typed_data(), db[0], db[1]}, i0, j0, dout[0], dout[1],
                out->typed_data(), symmetric != 0, threads, pick_isa(isa));
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(IiJaxHamming, HammingImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()   // a [N, W]
                                  .Arg<ffi::Buffer<ffi::U32>>()   // b [M, W]
                                  .Arg<ffi::Buffer<ffi::S32>>()   // offsets [2]: i0, j0
                                  .Ret<ffi::Buffer<ffi::S32>>()   // out [rows, cols]
                                  .Attr<int64_t>("symmetric")
                                  .Attr<int64_t>("threads")       // <= 0: every core
                                  .Attr<int64_t>("isa"));         // -1 best, 0 scalar, 1 avx2, 2 avx512

// The kernel a request resolves to on this CPU (-1: the best): 0 scalar, 1 avx2, 2 avx512.
extern "C" int ii_jax_hamming_isa(int request) { return pick_isa(request).code; }

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
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define II_X86 1
#endif

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

constexpr int64_t kTile = 64;    // output tile edge
constexpr int64_t kChunk = 1024;  // 32-bit words per k-chunk

// A micro-kernel adds popcount(x[r] ^ y[c]) over words [k0, k1) to acc[r * kTile + c], r < R, c < C.
using Micro = void (*)(const uint32_t* const* x, const uint32_t* const* y, int64_t k0, int64_t k1, int32_t* acc);

struct Isa {
  Micro micro;
  int r, c;
  int code;  // 0 scalar, 1 avx2, 2 avx512
};

void micro_scalar(const uint32_t* const* x, const uint32_t* const* y, int64_t k0, int64_t k1, int32_t* acc) {
  const uint32_t *a = x[0], *b = y[0];
  uint64_t s = 0;
  int64_t k = k0;
  for (; k + 2 <= k1; k += 2) {
    uint64_t u, v;
    std::memcpy(&u, a + k, 8);
    std::memcpy(&v, b + k, 8);
    s += __builtin_popcountll(u ^ v);
  }
  for (; k < k1; k++) s += __builtin_popcount(a[k] ^ b[k]);
  acc[0] += static_cast<int32_t>(s);
}

#ifdef II_X86
__attribute__((target("avx2,popcnt"))) inline __m256i popcount_bytes(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                       2, 2, 3, 2, 3, 3, 4);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

// 2 x 2 pairs per step, nibble lookup: 4 loads for 4 pairs, byte counters folded (vpsadbw) every 31 vectors.
__attribute__((target("avx2,popcnt"))) void micro_avx2_lookup(const uint32_t* const* x, const uint32_t* const* y,
                                                              int64_t k0, int64_t k1, int32_t* acc) {
  __m256i t00 = _mm256_setzero_si256(), t01 = t00, t10 = t00, t11 = t00;  // 4 x uint64 each
  int64_t k = k0;
  while (k + 8 <= k1) {
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;  // bytes: <= 31 * 8
    for (int v = 0; v < 31 && k + 8 <= k1; v++, k += 8) {
      const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[0] + k));
      const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[1] + k));
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[0] + k));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[1] + k));
      c00 = _mm256_add_epi8(c00, popcount_bytes(_mm256_xor_si256(a0, b0)));
      c01 = _mm256_add_epi8(c01, popcount_bytes(_mm256_xor_si256(a0, b1)));
      c10 = _mm256_add_epi8(c10, popcount_bytes(_mm256_xor_si256(a1, b0)));
      c11 = _mm256_add_epi8(c11, popcount_bytes(_mm256_xor_si256(a1, b1)));
    }
    const __m256i z = _mm256_setzero_si256();
    t00 = _mm256_add_epi64(t00, _mm256_sad_epu8(c00, z));
    t01 = _mm256_add_epi64(t01, _mm256_sad_epu8(c01, z));
    t10 = _mm256_add_epi64(t10, _mm256_sad_epu8(c10, z));
    t11 = _mm256_add_epi64(t11, _mm256_sad_epu8(c11, z));
  }
  const __m256i* t[4] = {&t00, &t01, &t10, &t11};
  for (int q = 0; q < 4; q++) {
    const int r = q >> 1, c = q & 1;
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(*t[q]), _mm256_extracti128_si256(*t[q], 1));
    int64_t s = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
    for (int64_t j = k; j < k1; j++) s += _mm_popcnt_u32(x[r][j] ^ y[c][j]);
    acc[r * kTile + c] += static_cast<int32_t>(s);
  }
}

// 4 x 4 pairs per step: 8 loads, 16 XOR + VPOPCNTQ + add, all 16 sums in registers; the tail word-masked.
__attribute__((target("avx512f,avx512vpopcntdq"))) void micro_avx512(const uint32_t* const* x,
                                                                    const uint32_t* const* y, int64_t k0,
                                                                    int64_t k1, int32_t* acc) {
  __m512i s[4][4];
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) s[r][c] = _mm512_setzero_si512();
  // (lambdas do not inherit the target attribute: a macro)
#define II_STEP(LOAD)                                                                   \
  {                                                                                     \
    const __m512i a0 = LOAD(x[0] + k), a1 = LOAD(x[1] + k), a2 = LOAD(x[2] + k), a3 = LOAD(x[3] + k); \
    for (int c = 0; c < 4; c++) {                                                       \
      const __m512i b = LOAD(y[c] + k);                                                 \
      s[0][c] = _mm512_add_epi64(s[0][c], _mm512_popcnt_epi64(_mm512_xor_si512(a0, b))); \
      s[1][c] = _mm512_add_epi64(s[1][c], _mm512_popcnt_epi64(_mm512_xor_si512(a1, b))); \
      s[2][c] = _mm512_add_epi64(s[2][c], _mm512_popcnt_epi64(_mm512_xor_si512(a2, b))); \
      s[3][c] = _mm512_add_epi64(s[3][c], _mm512_popcnt_epi64(_mm512_xor_si512(a3, b))); \
    }                                                                                   \
  }
  int64_t k = k0;
  for (; k + 16 <= k1; k += 16) II_STEP(_mm512_loadu_si512)
  if (k < k1) {
    const __mmask16 m = static_cast<__mmask16>((1u << (k1 - k)) - 1u);
#define II_MASKED(p) _mm512_maskz_loadu_epi32(m, p)
    II_STEP(II_MASKED)
#undef II_MASKED
  }
#undef II_STEP
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) acc[r * kTile + c] += static_cast<int32_t>(_mm512_reduce_add_epi64(s[r][c]));
}
#endif

int best_isa() {
#ifdef II_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq")) return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")) return 1;
#endif
  return 0;
}

// The requested kernel (-1: the best this CPU has), never one the CPU lacks.
Isa pick_isa(int64_t request) {
  int code = best_isa();
  if (request >= 0 && request < code) code = static_cast<int>(request);
#ifdef II_X86
  if (code == 2) return {micro_avx512, 4, 4, 2};
  if (code == 1) return {micro_avx2_lookup, 2, 2, 1};
#endif
  return {micro_scalar, 1, 1, 0};
}

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
            isa.micro(xr, yc, k0, k1, acc.data() + i * kTile + j);
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
  int64_t nthreads = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  nthreads = std::min<int64_t>(nthreads, static_cast<int64_t>(jobs.size()));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < nthreads; t++) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
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

// The popcount micro-kernels shared by the native Hamming kernels (hamming.cc, window_stats.cc), picked at run time
// from what the CPU has. Each carries its own target attribute, so the library is compiled without -m flags, loads
// on any CPU and never executes an instruction the CPU lacks:
//   avx512: VPOPCNTQ on 512-bit words (AVX512F + AVX512_VPOPCNTDQ), 4 x 4 micro-kernel (16 accumulators);
//   avx2:   nibble-lookup popcount (vpshufb), 2 x 2 micro-kernel, byte counters folded every 31 vectors;
//   scalar: 64-bit popcount, for any x86-64 (or other) CPU.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define II_X86 1
#endif

namespace ii_jax_native {
namespace {  // internal linkage: each translation unit of the library keeps its own copy

constexpr int64_t kTile = 64;    // output tile edge
constexpr int64_t kChunk = 1024;  // 32-bit words per k-chunk

// A micro-kernel adds popcount(x[r] ^ y[c]) over words [k0, k1) to acc[r * ld + c], r < R, c < C.
using Micro = void (*)(const uint32_t* const* x, const uint32_t* const* y, int64_t k0, int64_t k1, int32_t* acc,
                       int64_t ld);

// A run of words [lo, hi) of a micro-block's rows; where `out` is set, the sums after the run (acc plus what the
// call has added so far) are also written to out[off + r * ld + c]: the running sum's snapshot at a window's end.
// `limit`: words readable from each row pointer (the row's width). A span's last partial step loads 16 words and
// masks them by AND where they lie within the limit, a masked load only where they do not: masked loads cost
// several times a plain one on some CPUs (measured: ~3x on this Zen 5), and a sweep has a tail per window.
struct Span {
  int64_t lo, hi;
  int32_t* out;
  int64_t limit;
};

// A spans kernel runs a micro-block through spans[0 .. n) in order, its sums kept in registers across them, and
// adds the total to acc[r * ld + c].
using MicroSpans = void (*)(const uint32_t* const* x, const uint32_t* const* y, const Span* spans, int64_t n,
                            int32_t* acc, int64_t ld, int64_t off);

// Any micro-kernel as a spans kernel: one call per span into a small register tile.
template <Micro M, int R, int C>
void spans_by_calls(const uint32_t* const* x, const uint32_t* const* y, const Span* spans, int64_t n, int32_t* acc,
                    int64_t ld, int64_t off) {
  int32_t run[R * C] = {};
  for (int64_t q = 0; q < n; q++) {
    M(x, y, spans[q].lo, spans[q].hi, run, C);
    if (spans[q].out)
      for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) spans[q].out[off + r * ld + c] = acc[r * ld + c] + run[r * C + c];
  }
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) acc[r * ld + c] += run[r * C + c];
}

struct Isa {
  Micro micro;
  MicroSpans spans;
  int r, c;
  int code;  // 0 scalar, 1 avx2, 2 avx512
};

void micro_scalar(const uint32_t* const* x, const uint32_t* const* y, int64_t k0, int64_t k1, int32_t* acc, int64_t ld) {
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
                                                              int64_t k0, int64_t k1, int32_t* acc, int64_t ld) {
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
    acc[r * ld + c] += static_cast<int32_t>(s);
  }
}

// dst[r * ld + c] = base[r * ld + c] + the lanes' sum of s[r][c]: each row's four sums by one hadd tree (the
// lanes hold partial sums of an int32 distance, so they fit 32 bits).
__attribute__((target("avx512f,avx512vpopcntdq,avx2"))) inline void store_sums_4x4(const __m512i (&s)[4][4],
                                                                                    const int32_t* base,
                                                                                    int32_t* dst, int64_t ld) {
  for (int r = 0; r < 4; r++) {
    const __m256i v0 = _mm512_cvtepi64_epi32(s[r][0]), v1 = _mm512_cvtepi64_epi32(s[r][1]);
    const __m256i v2 = _mm512_cvtepi64_epi32(s[r][2]), v3 = _mm512_cvtepi64_epi32(s[r][3]);
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    const __m128i t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + r * ld));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + r * ld), _mm_add_epi32(b, t));
  }
}

// 4 x 4 pairs per step: 8 loads, 16 XOR + VPOPCNTQ + add, all 16 sums in registers; each span's tail word-masked.
__attribute__((target("avx512f,avx512vpopcntdq,avx2"))) void spans_avx512(const uint32_t* const* x,
                                                                         const uint32_t* const* y,
                                                                         const Span* spans, int64_t n,
                                                                         int32_t* acc, int64_t ld, int64_t off) {
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
  for (int64_t q = 0; q < n; q++) {
    const int64_t k1 = spans[q].hi;
    int64_t k = spans[q].lo;
    for (; k + 16 <= k1; k += 16) II_STEP(_mm512_loadu_si512)
    if (k < k1) {
      const __mmask16 m = static_cast<__mmask16>((1u << (k1 - k)) - 1u);
      if (k + 16 <= spans[q].limit) {
        const __m512i mv = _mm512_maskz_mov_epi32(m, _mm512_set1_epi32(-1));
#define II_ANDED(p) _mm512_and_si512(mv, _mm512_loadu_si512(p))
        II_STEP(II_ANDED)
#undef II_ANDED
      } else {
#define II_MASKED(p) _mm512_maskz_loadu_epi32(m, p)
        II_STEP(II_MASKED)
#undef II_MASKED
      }
    }
    if (spans[q].out) store_sums_4x4(s, acc, spans[q].out + off, ld);
  }
#undef II_STEP
  store_sums_4x4(s, acc, acc, ld);
}

__attribute__((target("avx512f,avx512vpopcntdq,avx2"))) void micro_avx512(const uint32_t* const* x,
                                                                         const uint32_t* const* y, int64_t k0,
                                                                         int64_t k1, int32_t* acc, int64_t ld) {
  const Span one{k0, k1, nullptr, k1};  // the row's width is not known here: a masked tail
  spans_avx512(x, y, &one, 1, acc, ld, 0);
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
  if (code == 2) return {micro_avx512, spans_avx512, 4, 4, 2};
  if (code == 1) return {micro_avx2_lookup, spans_by_calls<micro_avx2_lookup, 2, 2>, 2, 2, 1};
#endif
  return {micro_scalar, spans_by_calls<micro_scalar, 1, 1>, 1, 1, 0};
}

}  // namespace
}  // namespace ii_jax_native

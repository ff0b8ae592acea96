/* Reference C kernel for bench_core.py: the two half (symmetric) Hamming matrices of x and y, nothing else.
 *
 * The yardstick the benchmark compares against: AVX2 nibble-lookup popcount (vpshufb), 64x64 output
 * tiles, 4096-bit k-chunks kept in cache, a 2x2 register-blocked micro-kernel, OpenMP over row tiles. Only the
 * tiles on and above the diagonal are computed (no mirror, no ranks). Plain C, built by the benchmark itself:
 *
 *   cc -O3 -mavx2 -mpopcnt -fopenmp hamming_ref.c -o hamming_ref
 *   ./hamming_ref X.bin Y.bin N W [REPS [OUT_X.bin]]
 *
 * X.bin, Y.bin: uint32 [N, W] row-major packed bits. Prints one JSON line: the best of REPS (default 2) timed
 * runs of both matrices, each run after the output pages are touched, plus a checksum. With OUT_X.bin, the full
 * matrix of x (upper tiles, then mirrored outside the timing) is written there, for the benchmark's own test.
 */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TILE 64
#define KWORDS 128 /* 32-bit words per k-chunk: 4096 bits, 16 ymm vectors per row */
#define KVEC (KWORDS / 8)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static inline __m256i popcnt_bytes(__m256i v, __m256i lut, __m256i low4) {
  __m256i lo = _mm256_and_si256(v, low4);
  __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

static inline int64_t hsum(__m256i bytes) {
  __m256i s = _mm256_sad_epu8(bytes, _mm256_setzero_si256());
  __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

/* One 64x64 output tile (ti, tj) of the matrix of `a` (rows padded to a multiple of TILE, words to KWORDS). */
static void tile(const uint32_t *a, size_t wp, int ti, int tj, int32_t *acc) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  memset(acc, 0, sizeof(int32_t) * TILE * TILE);
  for (size_t k0 = 0; k0 < wp; k0 += KWORDS) {
    for (int i = 0; i < TILE; i += 2) {
      const uint32_t *x0 = a + (size_t)(ti + i) * wp + k0, *x1 = x0 + wp;
      for (int j = 0; j < TILE; j += 2) {
        const uint32_t *y0 = a + (size_t)(tj + j) * wp + k0, *y1 = y0 + wp;
        __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
        for (int v = 0; v < KVEC; v++) { /* 16 vectors x at most 8 per byte: no overflow of the byte lanes */
          __m256i a0 = _mm256_load_si256((const __m256i *)(x0 + 8 * v));
          __m256i a1 = _mm256_load_si256((const __m256i *)(x1 + 8 * v));
          __m256i b0 = _mm256_load_si256((const __m256i *)(y0 + 8 * v));
          __m256i b1 = _mm256_load_si256((const __m256i *)(y1 + 8 * v));
          c00 = _mm256_add_epi8(c00, popcnt_bytes(_mm256_xor_si256(a0, b0), lut, low4));
          c01 = _mm256_add_epi8(c01, popcnt_bytes(_mm256_xor_si256(a0, b1), lut, low4));
          c10 = _mm256_add_epi8(c10, popcnt_bytes(_mm256_xor_si256(a1, b0), lut, low4));
          c11 = _mm256_add_epi8(c11, popcnt_bytes(_mm256_xor_si256(a1, b1), lut, low4));
        }
        acc[i * TILE + j] += (int32_t)hsum(c00);
        acc[i * TILE + j + 1] += (int32_t)hsum(c01);
        acc[(i + 1) * TILE + j] += (int32_t)hsum(c10);
        acc[(i + 1) * TILE + j + 1] += (int32_t)hsum(c11);
      }
    }
  }
}

/* The upper tiles of the [n, n] matrix of `a` into `out` (row-major, n x n). */
static void half_matrix(const uint32_t *a, size_t n, size_t wp, int32_t *out) {
  int nt = (int)((n + TILE - 1) / TILE);
#pragma omp parallel
  {
    int32_t *acc = aligned_alloc(64, sizeof(int32_t) * TILE * TILE);
#pragma omp for schedule(dynamic, 1)
    for (int ti = 0; ti < nt; ti++) { /* row tiles; each takes its tiles on and right of the diagonal */
      for (int tj = ti; tj < nt; tj++) {
        tile(a, wp, ti * TILE, tj * TILE, acc);
        size_t i1 = (size_t)(ti + 1) * TILE < n ? (size_t)(ti + 1) * TILE : n;
        size_t j1 = (size_t)(tj + 1) * TILE < n ? (size_t)(tj + 1) * TILE : n;
        for (size_t i = (size_t)ti * TILE; i < i1; i++)
          memcpy(out + i * n + (size_t)tj * TILE, acc + (i - (size_t)ti * TILE) * TILE,
                 sizeof(int32_t) * (j1 - (size_t)tj * TILE));
      }
    }
    free(acc);
  }
}

static uint32_t *load_padded(const char *path, size_t n, size_t w, size_t *wp_out) {
  size_t wp = (w + KWORDS - 1) / KWORDS * KWORDS, np_ = (n + TILE - 1) / TILE * TILE;
  uint32_t *a = aligned_alloc(64, sizeof(uint32_t) * wp * np_);
  memset(a, 0, sizeof(uint32_t) * wp * np_);
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  for (size_t i = 0; i < n; i++)
    if (fread(a + i * wp, sizeof(uint32_t), w, f) != w) { fprintf(stderr, "%s: short read\n", path); exit(2); }
  fclose(f);
  *wp_out = wp;
  return a;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s X.bin Y.bin N W [REPS [OUT_X.bin]]\n", argv[0]);
    return 2;
  }
  size_t n = strtoull(argv[3], 0, 10), w = strtoull(argv[4], 0, 10), wp;
  int reps = argc > 5 ? atoi(argv[5]) : 2;
  uint32_t *x = load_padded(argv[1], n, w, &wp), *y = load_padded(argv[2], n, w, &wp);
  int32_t *dx = malloc(sizeof(int32_t) * n * n), *dy = malloc(sizeof(int32_t) * n * n);
  memset(dx, 0, sizeof(int32_t) * n * n); /* touch the pages outside the timing */
  memset(dy, 0, sizeof(int32_t) * n * n);
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t = now();
    half_matrix(x, n, wp, dx);
    half_matrix(y, n, wp, dy);
    t = now() - t;
    if (t < best) best = t;
  }
  int64_t check = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i; j < n; j++) check += dx[i * n + j] + dy[i * n + j];
  if (argc > 6) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < i; j++) dx[i * n + j] = dx[j * n + i];
    FILE *f = fopen(argv[6], "wb");
    fwrite(dx, sizeof(int32_t), n * n, f);
    fclose(f);
  }
  printf("{\"time\": %.6f, \"threads\": %d, \"checksum\": %lld}\n", best, omp_get_max_threads(), (long long)check);
  return 0;
}

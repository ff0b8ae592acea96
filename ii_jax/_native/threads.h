// The threads of the native kernels (hamming.cc, stats.cc, window_stats.cc): how many a call asks for, and one pool
// per call, the calling thread working as one of them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace ii_jax_native {
namespace {  // internal linkage: each translation unit of the library keeps its own copy

// `threads` as the FFI attribute gives it: <= 0 means every core.
inline int64_t requested_threads(int64_t threads) {
  return threads > 0 ? threads : std::max<int64_t>(1, std::thread::hardware_concurrency());
}

// Runs `work` on `nthreads` threads (at least one: this one) and waits for all of them.
inline void run_threads(int64_t nthreads, const std::function<void()>& work) {
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < nthreads; t++) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

}  // namespace
}  // namespace ii_jax_native

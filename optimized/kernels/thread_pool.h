// The threads the GEMM runs on: a fixed pool, created once, so that a GEMV-sized call (tens of
// microseconds) does not pay for creating threads. The calling thread works too. The count is every
// core by default, NVFP4_THREADS=N to override, or set_threads() (benches compare 1 and 2).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nvfp4::opt {

class ThreadPool {
 public:
  static ThreadPool& global();
  ~ThreadPool();
  int threads() const { return threads_; }
  void set_threads(int n);  // 1 .. the number of cores
  // f(task) for every task in [0, ntasks), spread over min(threads, ntasks) threads; returns when all
  // are done. Thread-safe: while one call holds the pool, concurrent calls run on their own thread.
  void run(std::int64_t ntasks, const std::function<void(std::int64_t)>& f);

 private:
  ThreadPool();
  void work();
  void start(int workers);
  void stop();

  std::mutex run_mu_;  // held by the call that owns the pool
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  int threads_ = 1;
  // Atomic so that a worker can spin on them unlocked (thread_pool.cpp says why); written under mu_.
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
  const std::function<void(std::int64_t)>* job_ = nullptr;
  std::int64_t ntasks_ = 0, next_ = 0;
  int active_ = 0, busy_ = 0;
};

}  // namespace nvfp4::opt

#include "optimized/kernels/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

namespace nvfp4::opt {

namespace {

// How long a thread spins before it sleeps, waiting for the next job (a worker) or for the
// helpers' last task (run()). Waking a sleeping thread takes a futex call and, in a virtual machine,
// an interrupt to a halted vCPU: measured at 15-25 us per GEMM on this project's 2-vCPU bench host
// (bench/measurements.md), more than a whole M = 1 GEMM of 768x2048 on one thread. A decode step
// runs GEMMs back to back, well within this; OpenMP runtimes spin too (KMP_BLOCKTIME, 200 ms).
constexpr auto kSpin = std::chrono::microseconds(300);

// Spins until done() or kSpin passes; true if done() came true.
template <class F>
bool spin(F done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      _mm_pause();
    }
    if (std::chrono::steady_clock::now() > until) return false;
  }
}

}  // namespace

ThreadPool& ThreadPool::global() {
  static ThreadPool p;
  return p;
}

ThreadPool::ThreadPool() {
  int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const char* env = std::getenv("NVFP4_THREADS")) {
    try {
      n = std::clamp(std::stoi(env), 1, n);
    } catch (const std::exception&) {
    }
  }
  threads_ = n;
  start(n - 1);
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::start(int workers) {
  quit_ = false;
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    quit_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::set_threads(int n) {
  n = std::clamp(n, 1, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (n == threads_) return;
  stop();
  threads_ = n;
  start(n - 1);
}

void ThreadPool::work() {
  std::uint64_t seen = 0;
  for (;;) {
    const std::function<void(std::int64_t)>* job;
    spin([&] { return quit_.load() || generation_.load() != seen; });
    {
      std::unique_lock<std::mutex> l(mu_);
      wake_.wait(l, [&] { return quit_ || (generation_ != seen && active_ > 0); });
      if (quit_) return;
      seen = generation_;
      --active_;  // one fewer worker still to join this job
      ++busy_;
      job = job_;
    }
    for (;;) {
      std::int64_t t;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (next_ >= ntasks_) break;
        t = next_++;
      }
      (*job)(t);
    }
    std::lock_guard<std::mutex> l(mu_);
    if (--busy_ == 0) done_.notify_all();
  }
}

void ThreadPool::run(std::int64_t ntasks, const std::function<void(std::int64_t)>& f) {
  const int helpers = static_cast<int>(std::min<std::int64_t>(threads_ - 1, ntasks - 1));
  // One run owns the pool at a time. A caller that finds it taken (another thread's GEMM: verify
  // checks modules in parallel, an engine may multiply from several threads) runs its tasks on its
  // own thread instead of overwriting the running job (which it did: NaN outputs).
  std::unique_lock<std::mutex> owner(run_mu_, std::try_to_lock);
  if (helpers <= 0 || !owner.owns_lock()) {
    for (std::int64_t t = 0; t < ntasks; ++t) f(t);
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    job_ = &f;
    ntasks_ = ntasks;
    next_ = 0;
    active_ = helpers;
    ++generation_;
  }
  wake_.notify_all();
  for (;;) {
    std::int64_t t;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (next_ >= ntasks_) break;
      t = next_++;
    }
    f(t);
  }
  const auto finished = [&] { return busy_ == 0 && (active_ == 0 || next_ >= ntasks_); };
  spin([&] {
    std::lock_guard<std::mutex> l(mu_);
    return finished();
  });
  std::unique_lock<std::mutex> l(mu_);
  // Wait until every helper that joined has finished its last task and no helper is still to join.
  done_.wait(l, finished);
  active_ = 0;
  job_ = nullptr;
}

}  // namespace nvfp4::opt

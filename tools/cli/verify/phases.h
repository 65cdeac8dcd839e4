// Where a module's time went, summed over modules in verify's report: what a user needs to see why
// a checkpoint takes as long as it does, and what --activation-rows and --reloads trade.
#pragma once
#include <chrono>

namespace nvfp4::cli {

struct Phases {
  double load_process = 0, reloads = 0, exact = 0, eigen = 0, kernels = 0;
  void operator+=(const Phases& o) {
    load_process += o.load_process, reloads += o.reloads, exact += o.exact, eigen += o.eigen, kernels += o.kernels;
  }
};

class Stopwatch {
 public:
  // Seconds since the last lap (or construction).
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - t_).count();
    t_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point t_ = std::chrono::steady_clock::now();
};

}  // namespace nvfp4::cli

// Progress of a long command on stderr, never on stdout (which may carry --json): on a terminal
// one line redrawn in place, "[k/N] current item, elapsed 12 s, ETA 30 s"; elsewhere (a log, a
// pipe) a plain line at most every 30 s, so a long run in CI still shows it is alive.
#pragma once
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace nvfp4::cli {

class Progress {
 public:
  // quiet: print nothing at all (--json, or a caller that reports on its own).
  Progress(std::size_t total, bool quiet);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Thread-safe: one item finished; `current` names it.
  void step(const std::string& current);
  // Clears the terminal line (also done by the destructor).
  void done();

 private:
  std::mutex mu_;
  std::size_t total_, k_ = 0;
  bool quiet_, tty_, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_plain_;
};

}  // namespace nvfp4::cli

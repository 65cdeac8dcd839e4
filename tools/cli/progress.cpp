#include "tools/cli/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "core/printable.h"

namespace nvfp4::cli {

namespace {
std::string duration(double s) {
  char b[32];
  if (s < 120) std::snprintf(b, sizeof b, "%.0f s", s);
  else if (s < 7200) std::snprintf(b, sizeof b, "%.0f min", s / 60);
  else std::snprintf(b, sizeof b, "%.1f h", s / 3600);
  return b;
}
}  // namespace

Progress::Progress(std::size_t total, bool quiet)
    : total_(total), quiet_(quiet), tty_(::isatty(2) != 0), start_(std::chrono::steady_clock::now()), last_plain_(start_) {
  if (tty_ && !quiet_ && total_ > 1) {  // something on the screen before the first item is done
    std::cerr << "[0/" << total_ << "] starting\033[K" << std::flush;
    drawn_ = true;
  }
}

Progress::~Progress() { done(); }

void Progress::step(const std::string& current) {
  std::lock_guard<std::mutex> l(mu_);
  ++k_;
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = k_ ? elapsed / static_cast<double>(k_) * static_cast<double>(total_ - std::min(k_, total_)) : 0;
  const std::string line = "[" + std::to_string(k_) + "/" + std::to_string(total_) + "] " + printable_short(current, 80) + ", elapsed " +
                           duration(elapsed) + (k_ < total_ ? ", ETA " + duration(eta) : "");
  if (tty_) {
    std::cerr << "\r" << line << "\033[K" << std::flush;
    drawn_ = true;
  } else if (std::chrono::duration<double>(now - last_plain_).count() >= 30) {
    std::cerr << line << "\n" << std::flush;
    last_plain_ = now;
  }
}

void Progress::done() {
  std::lock_guard<std::mutex> l(mu_);
  if (drawn_) std::cerr << "\r\033[K" << std::flush;
  drawn_ = false;
}

}  // namespace nvfp4::cli

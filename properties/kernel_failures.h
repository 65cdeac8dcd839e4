// How the kernel tests (kernel_classes_test.cpp, amx_kernel_test.cpp) report: every failing shape is
// one line (path, mode, threads, shape, seed, element, both values, bound); a test prints the first
// 12, how many there were, and the command that replays it alone.
#pragma once
#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace nvfp4::kernel_test {

inline void expect_none(const std::string& fails, const char* binary) {
  if (fails.empty()) return;
  std::istringstream in(fails);
  std::string line, first;
  int n = 0;
  while (std::getline(in, line))
    if (n++ < 12) first += "  " + line + "\n";
  const auto* t = ::testing::UnitTest::GetInstance()->current_test_info();
  ADD_FAILURE() << n << " failures; the first:\n"
                << first << "reproduce: " << binary << " --gtest_filter='" << t->test_suite_name() << "." << t->name() << "'";
}

}  // namespace nvfp4::kernel_test

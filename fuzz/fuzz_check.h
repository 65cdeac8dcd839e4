// Fuzz targets abort on a broken invariant (a crash is what the fuzzer and the replay test see).
#pragma once
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                             \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                  \
      std::fputc('\n', stderr);                                           \
      std::abort();                                                       \
    }                                                                     \
  } while (0)

#include <string>

namespace nvfp4::fuzz {
// An error message a user sees: non-empty, one line, no control byte (nothing from a file
// reaches the terminal raw).
inline void check_error_line(const std::string& w) {
  FUZZ_CHECK(!w.empty(), "empty error message");
  for (unsigned char ch : w) FUZZ_CHECK(ch >= 0x20 && ch != 0x7f, "error message must be one printable line: %s", w.c_str());
}
}  // namespace nvfp4::fuzz

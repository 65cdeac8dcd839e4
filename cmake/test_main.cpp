// gtest main for every test binary. Defaults that ctest would otherwise have to pass through the
// environment are compiled in, so a binary behaves the same when run by hand; an environment
// variable that is already set wins (RC_PARAMS="reproduce=..." replays a RapidCheck failure).
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
#ifdef NVFP4_RC_PARAMS
  setenv("RC_PARAMS", NVFP4_RC_PARAMS, 0);
#endif
#ifdef NVFP4_GOLDEN_DIR
  setenv("NVFP4_GOLDEN_DIR", NVFP4_GOLDEN_DIR, 0);
#endif
#ifdef NVFP4_SOURCE_DIR
  setenv("NVFP4_SOURCE_DIR", NVFP4_SOURCE_DIR, 0);
#endif
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

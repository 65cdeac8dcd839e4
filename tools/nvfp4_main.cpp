#include <iostream>

#include "tools/cli/cli.h"

int main(int argc, char** argv) {
  return nvfp4::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}

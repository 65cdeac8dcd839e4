#include <iostream>

#include "core/interrupt_cleanup.h"
#include "tools/cli/cli.h"

int main(int argc, char** argv) {
  nvfp4::install_interrupt_cleanup();  // no temporary output left behind on Ctrl-C or SIGTERM
  return nvfp4::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}

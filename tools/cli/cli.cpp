#include "tools/cli/cli.h"

#include <exception>
#include <map>

#include "core/error.h"

namespace nvfp4::cli {
namespace {

const char* kUsage =
    "usage: nvfp4 <command> [args]\n"
    "  make-checkpoint DIR [--layout fused|unfused] [--format modelopt|compressed-tensors]\n"
    "                  [--layers N] [--hidden H] [--intermediate I] [--experts E] [--shards S] [--seed N]\n"
    "                  [--head-dim D] [--kv-heads K] [--unequal-scales] [--w4a16] [--scalars 0d|1d|bf16]\n"
    "  inspect CKPT      modules, shards, dtypes, layout and findings\n"
    "  process CKPT --out FILE.safetensors [--pipeline reference] [--backend cutlass|trtllm]\n"
    "  gemm CKPT --module NAME [--expert E --proj w13|w2] --input X.safetensors --out Y.safetensors\n"
    "       --mode w4a4|w4a16 [--pipeline reference] [--backend cutlass|trtllm]\n"
    "  verify CKPT [--backend cutlass|trtllm] [--reloads N] [--json]\n";

using Cmd = int (*)(const std::vector<std::string>&, std::ostream&);

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  static const std::map<std::string, Cmd> kCommands = {
      {"make-checkpoint", cmd_make_checkpoint},
      {"inspect", cmd_inspect},
      {"process", cmd_process},
      {"gemm", cmd_gemm},
      {"verify", cmd_verify},
  };
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  auto it = kCommands.find(args[0]);
  if (it == kCommands.end()) {
    err << "nvfp4: unknown command \"" << args[0] << "\"\n" << kUsage;
    return 2;
  }
  try {
    return it->second(std::vector<std::string>(args.begin() + 1, args.end()), out);
  } catch (const Error& e) {
    err << "nvfp4 " << args[0] << ": " << e.what() << "\n";
    if (e.kind() == ErrorKind::Usage) err << kUsage;
    return e.kind() == ErrorKind::CheckFailed ? 1 : 2;
  } catch (const std::bad_alloc&) {
    err << "nvfp4 " << args[0] << ": out of memory\n";
    return 2;
  } catch (const std::exception& e) {
    err << "nvfp4 " << args[0] << ": internal error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace nvfp4::cli

#include "tools/cli/cli.h"

#include <cstdio>
#include <exception>
#include <map>

#include "core/allocator.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/printable.h"

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

std::string subject(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) == 0) {
      if (args[i].find('=') == std::string::npos) ++i;  // skip the option's value
      continue;
    }
    return printable_short(args[i], 240) + ": ";
  }
  return "";
}

}  // namespace

Checkpoint open_quantized(const std::string& dir) {
  Checkpoint c = Checkpoint::open(dir);
  const ModelSpec spec = map_modules(c);
  if (spec.linears.empty() && spec.experts.empty())
    throw Error(ErrorKind::BadInput, dir, "", "no quantized modules (no tensor ends in a block-scale name); nothing to do");
  return c;
}

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
    err << "nvfp4: unknown command \"" << printable_short(args[0], 80) << "\"\n" << kUsage;
    return 2;
  }
  try {
    return it->second(std::vector<std::string>(args.begin() + 1, args.end()), out);
  } catch (const Error& e) {
    // An error raised where no file is known (a pipeline's shape refusal, say) is about what the
    // command was working on: name it.
    const bool unnamed = e.file().empty() && e.kind() != ErrorKind::Usage;
    err << "nvfp4 " << args[0] << ": " << (unnamed ? subject(args) : "") << e.what() << "\n";
    if (e.kind() == ErrorKind::Usage) err << kUsage;
    return e.kind() == ErrorKind::CheckFailed ? 1 : 2;
  } catch (const OutOfMemory& e) {
    // Its own exit code (3), apart from bad input: the same command may succeed with more memory
    // or fewer --jobs. Name what was being worked on and how much was needed.
    char b[200];
    std::snprintf(b, sizeof b, "out of memory: an allocation of %.1f MiB failed with %.1f MiB already held (try --jobs 1, or more memory)",
                  static_cast<double>(e.requested()) / (1 << 20), static_cast<double>(e.live()) / (1 << 20));
    err << "nvfp4 " << args[0] << ": " << subject(args) << b << "\n";
    return 3;
  } catch (const std::bad_alloc&) {
    err << "nvfp4 " << args[0] << ": " << subject(args) << "out of memory (try --jobs 1, or more memory)\n";
    return 3;
  } catch (const std::exception& e) {
    err << "nvfp4 " << args[0] << ": " << subject(args) << "internal error: " << printable_short(e.what(), 400) << "\n";
    return 2;
  }
}

}  // namespace nvfp4::cli

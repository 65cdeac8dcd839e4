// nvfp4 diff on a hostile engine dump: byte 0 picks a committed checkpoint (even: the
// dense one, odd: the MoE one, tools/engine_dumps/data), the rest is the dump's safetensors image
// (seeds: the engines' own dumps of those checkpoints). The diff either completes, with every
// module of the checkpoint reported, every mismatch counted at least once and every dump tensor
// accounted for exactly once (read by a check or a placeholder of the release, unexplained under
// a module, or under no module; a module is absent only with nothing under its name), or throws a
// typed one-line error. Anything else (a crash, a sanitizer report, another exception) is a bug. The dictionary holds the names
// and metadata of the releases diff knows, decoded or not (fuzz/dict/engine_dump.dict).
// max_len 256 KiB (fuzz/max_len.txt): the largest seed is 141 KB.
#include <cstdint>
#include <set>
#include <string>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "fuzz/fuzz_check.h"
#include "tools/diff/diff_run.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > (256u << 10)) return 0;
  using namespace nvfp4;
  static const Checkpoint dense = Checkpoint::open(std::string(NVFP4_ENGINE_DUMPS) + "/dense");
  static const Checkpoint moe = Checkpoint::open(std::string(NVFP4_ENGINE_DUMPS) + "/moe");
  const Checkpoint& c = data[0] % 2 ? moe : dense;
  try {
    diff::EngineDump d = diff::EngineDump::of(SafetensorsFile::parse({data + 1, size - 1}, "dump"));
    diff::DiffRun r = diff::run_diff(c, d);
    FUZZ_CHECK(r.present >= 1 && r.failed <= r.present, "present %zu, failed %zu", r.present, r.failed);
    FUZZ_CHECK(r.modules.size() + r.not_checked.size() == module_units(c, map_modules(c)).size(), "a module went unreported");
    std::set<std::string> read, other(r.unread.begin(), r.unread.end());
    for (const auto& m : r.modules) {
      for (const auto& x : m.mismatches) FUZZ_CHECK(x.count >= 1 && !x.param.empty(), "mismatch without a count or a parameter in %s", m.module.c_str());
      FUZZ_CHECK(!m.absent || (m.params.empty() && m.unexplained.empty() && m.placeholders.empty()), "absent module %s with tensors", m.module.c_str());
      for (const auto& p : m.params) read.insert(m.module + "." + p);
      // A release's unused placeholders are accounted for as read: reported, never checked.
      for (const auto& p : m.placeholders) FUZZ_CHECK(read.insert(m.module + "." + p).second, "placeholder %s also read", p.c_str());
      for (const auto& n : m.unexplained) {
        FUZZ_CHECK(n.rfind(m.module + ".", 0) == 0, "unexplained %s outside %s", n.c_str(), m.module.c_str());
        FUZZ_CHECK(other.insert(n).second, "%s unexplained twice or also unread", n.c_str());
      }
    }
    std::size_t both = 0;
    for (const auto& n : other) both += read.count(n);
    FUZZ_CHECK(both == 0, "%zu dump tensors both read and unexplained", both);
    const auto names = d.names();
    std::set<std::string> all = read;
    all.insert(other.begin(), other.end());
    FUZZ_CHECK(all == std::set<std::string>(names.begin(), names.end()), "%zu dump tensors accounted for, %zu in the dump", all.size(), names.size());
  } catch (const Error& e) {
    fuzz::check_error_line(e.what());
  }
  return 0;
}

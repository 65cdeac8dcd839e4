// Hot reload as a transaction: load and process a generated checkpoint A, then reload from B, a
// second generated checkpoint of the same shapes whose shard bytes the input then mutates (up to
// 16 byte writes anywhere: header, scales, weights). Per pipeline, either the reload succeeds and
// the state equals a cold load of B (and, for the optimized pipeline, identities and addresses are
// those of A), or it is refused with a typed one-line error and the state is exactly A's. Both
// pipelines must make the same decision. max_len 256 bytes.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "checks/agreement.h"
#include "checks/reload.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_checkpoint_dir.h"
#include "fuzz/fuzz_generated.h"
#include "registry/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256) return 0;
  using namespace nvfp4;
  namespace fs = std::filesystem;
  fuzz::ByteReader in(data, size);
  WriterOptions o = fuzz::generated_options(in);
  const Backend b = in.flag() ? Backend::Cutlass : Backend::Trtllm;
  if (b == Backend::Trtllm && o.experts > 0 && o.hidden % 64) o.hidden = 64, o.kv_heads = 0;  // trtllm needs H % 64 == 0
  const fs::path a = fuzz::checkpoint_dir() / "A", bdir = fuzz::checkpoint_dir() / "B";
  write_checkpoint(a, generate_checkpoint(o), 1);
  o.seed = in.u32();
  write_checkpoint(bdir, generate_checkpoint(o), 1);
  {  // mutate B's shard in place
    const fs::path shard = bdir / "model.safetensors";
    std::ifstream f(shard, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), {});
    f.close();
    for (int k = static_cast<int>(in.in(0, 16)); k > 0 && !bytes.empty(); --k)
      bytes[static_cast<std::size_t>(in.in(0, static_cast<std::int64_t>(bytes.size()) - 1))] = static_cast<char>(in.byte());
    std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes;
  }
  std::vector<int> accepted;
  for (const auto& name : pipeline_names()) {
    auto p = make_pipeline(name, b);
    p->load_weights(Checkpoint::open(a));
    p->process_weights_after_loading(b);
    const checks::ReloadPromise& promise = pipeline_kind(name).reload;
    const State before = capture(*p);
    const auto recs = p->reconciliations();
    try {
      p->update_weights_from_disk(Checkpoint::open(bdir));
    } catch (const Error& e) {
      fuzz::check_error_line(e.what());
      const checks::Result r = checks::kept(before, capture(*p), promise, "A", "after a refused reload");
      FUZZ_CHECK(r.ok, "%s: a refused reload changed the state: %s (%s)", name.c_str(), r.detail.c_str(), e.what());
      const std::string d = checks::reconciliation_difference(recs, p->reconciliations(), "A", "after a refused reload");
      FUZZ_CHECK(d.empty(), "%s: a refused reload changed the reconciliation report: %s", name.c_str(), d.c_str());
      accepted.push_back(0);
      continue;
    }
    accepted.push_back(1);
    auto cold = make_pipeline(name, b);
    cold->load_weights(Checkpoint::open(bdir));
    cold->process_weights_after_loading(b);
    const std::string d = first_difference(capture(*cold), capture(*p), Same::Bytes, "cold B", "A reloaded with B");
    FUZZ_CHECK(d.empty(), "%s: warm A->B differs from cold B: %s", name.c_str(), d.c_str());
    // B holds other bytes; what the pipeline promises to keep besides them must still hold.
    const std::string ids = first_difference(before, capture(*p), promise.keeps, "A", "B");
    FUZZ_CHECK(ids.find("a different Parameter") == std::string::npos, "%s: %s", name.c_str(), ids.c_str());
    FUZZ_CHECK(promise.keeps != Same::Addresses || ids.find("storage moved") == std::string::npos, "%s: %s", name.c_str(), ids.c_str());
  }
  for (std::size_t i = 1; i < accepted.size(); ++i) FUZZ_CHECK(accepted[i] == accepted[0], "pipelines disagree on the reload");
  return 0;
}

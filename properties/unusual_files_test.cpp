// Valid checkpoints written in ways our writer never writes ("paths nobody walks"): header
// keys in an order other than their offsets', and zero-length tensors sharing an offset with each
// other and with the next tensor (both accepted by safetensors' own reader). Each pipeline must
// load and process such a file exactly as it processes the same weights written plainly.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "checks/state.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"
#include "registry/registry.h"

namespace nvfp4 {
namespace {

std::vector<char> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Rewrites one safetensors file in place: header keys in reverse order of their offsets, and two
// zero-length tensors at the start offset of a tensor in the middle. The data bytes are unchanged.
void make_unusual(const std::filesystem::path& file) {
  const std::vector<char> b = slurp(file);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[static_cast<std::size_t>(i)])) << (8 * i);
  const auto header = nlohmann::ordered_json::parse(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  std::vector<std::pair<std::uint64_t, std::string>> by_offset;
  for (const auto& [k, v] : header.items())
    if (k != "__metadata__") by_offset.emplace_back(v["data_offsets"][0].get<std::uint64_t>(), k);
  std::sort(by_offset.begin(), by_offset.end());
  ASSERT_GE(by_offset.size(), 3u);
  const std::uint64_t mid = by_offset[by_offset.size() / 2].first;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (auto it = by_offset.rbegin(); it != by_offset.rend(); ++it) out[it->second] = header[it->second];
  out["model.unusual.empty_u8"] = {{"dtype", "U8"}, {"shape", {0}}, {"data_offsets", {mid, mid}}};
  out["model.unusual.empty_bf16"] = {{"dtype", "BF16"}, {"shape", {3, 0}}, {"data_offsets", {mid, mid}}};
  const std::string h = out.dump();
  std::ofstream os(file, std::ios::binary | std::ios::trunc);
  const std::uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) os.put(static_cast<char>((len >> (8 * i)) & 0xFF));
  os << h;
  os.write(b.data() + 8 + n, static_cast<std::streamsize>(b.size() - 8 - n));
}

class UnusualFiles : public ::testing::TestWithParam<Backend> {};

TEST_P(UnusualFiles, ProcessExactlyLikeThePlainFile) {
  const Backend backend = GetParam();
  WriterOptions o = small_model();
  o.experts = 2;
  o.layers = 2;
  o.unequal_scales = true;
  TempDir plain, unusual;
  const GeneratedCheckpoint g = generate_checkpoint(o);
  write_checkpoint(plain.path(), g, 1);
  write_checkpoint(unusual.path(), g, 1);
  make_unusual(unusual.path() / "model.safetensors");
  ASSERT_NE(slurp(plain.path() / "model.safetensors"), slurp(unusual.path() / "model.safetensors"));

  const Checkpoint ck = Checkpoint::open(unusual.path());
  const ModelSpec spec = map_modules(ck);
  EXPECT_EQ(ck.tensor("model.unusual.empty_bf16").numel(), 0);
  EXPECT_NE(std::find(spec.passthrough.begin(), spec.passthrough.end(), "model.unusual.empty_u8"), spec.passthrough.end());
  for (const auto& name : pipeline_names()) {
    SCOPED_TRACE(name + " " + backend_name(backend));
    auto a = make_pipeline(name, backend), b = make_pipeline(name, backend);
    a->load_weights(Checkpoint::open(plain.path()));
    a->process_weights_after_loading(backend);
    b->load_weights(ck);
    b->process_weights_after_loading(backend);
    EXPECT_EQ(first_difference(capture(*a), capture(*b), Same::Bytes, "plain file", "unusual file"), "");
    // And as a reload target: warm plain -> unusual equals cold unusual.
    a->update_weights_from_disk(ck);
    EXPECT_EQ(first_difference(capture(*a), capture(*b), Same::Bytes, "reloaded from the unusual file", "loaded from it"), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, UnusualFiles, ::testing::Values(Backend::Cutlass, Backend::Trtllm),
                         [](const auto& i) { return backend_name(i.param); });

}  // namespace
}  // namespace nvfp4

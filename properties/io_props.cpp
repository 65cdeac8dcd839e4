// Properties of the file layer: safetensors write -> read is the identity on random tensors,
// dtypes, shapes, names and metadata; a checkpoint written by make-checkpoint reads back to
// exactly the tensors generated, whatever its format, layout and number of files, and the
// fused layout's tensors are the unfused shards concatenated.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "properties/generators.h"

namespace nvfp4 {
namespace {

RC_GTEST_PROP(SafetensorsIo, WriteThenReadIsIdentity, ()) {
  auto names = *rc::gen::unique<std::vector<std::string>>(gen::tensor_name());
  if (names.size() > 8) names.resize(8);
  std::vector<TensorToWrite> ts;
  for (const auto& n : names) ts.push_back({n, *gen::tensor()});
  auto metadata = *rc::gen::container<std::map<std::string, std::string>>(gen::tensor_name(), gen::tensor_name());
  auto bytes = serialize_safetensors(ts, metadata);
  SafetensorsFile f = SafetensorsFile::parse(bytes, "generated");
  RC_ASSERT(f.metadata() == metadata);
  RC_ASSERT(f.tensors().size() == ts.size());
  for (const auto& t : ts) {
    const TensorInfo* info = f.find(t.name);
    RC_ASSERT(info != nullptr);
    Tensor back = f.tensor(t.name);
    if (!back.bitwise_equal(t.tensor)) RC_FAIL("tensor \"" + t.name + "\" " + describe(t.tensor) + " read back as " + describe(back));
  }
  // Data starts 8-aligned, as the Python writer guarantees.
  RC_ASSERT(f.header_size() % 8 == 0);
}

RC_GTEST_PROP(SafetensorsIo, AnyTruncationIsRejectedNotCrashed, ()) {
  std::vector<TensorToWrite> ts{{"a", *gen::tensor()}, {"b", *gen::tensor()}};
  auto bytes = serialize_safetensors(ts);
  std::size_t cut = *rc::gen::inRange<std::size_t>(0, bytes.size());
  std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(cut));
  RC_ASSERT_THROWS_AS(SafetensorsFile::parse(prefix, "cut"), Error);
}

RC_GTEST_PROP(CheckpointIo, WrittenCheckpointReadsBackExactly, ()) {
  WriterOptions o = *gen::writer_options();
  RC_TAG(format_name(o.format), o.fused ? "fused" : "unfused", o.files > 1 ? "sharded" : "one file");
  GeneratedCheckpoint g = generate_checkpoint(o);
  TempDir d;
  write_checkpoint(d.path(), g, o.files);
  Checkpoint c = Checkpoint::open(d.path());
  RC_ASSERT(c.file_count() == static_cast<std::size_t>(o.files));
  RC_ASSERT(c.tensor_names().size() == g.tensors.size());
  for (const auto& [name, t] : g.tensors) {
    RC_ASSERT(c.has(name));
    if (!c.tensor(name).bitwise_equal(t)) RC_FAIL(name + " differs after the round trip (" + c.file_of(name) + ")");
  }
  ModelSpec s = map_modules(c);
  RC_ASSERT(s.format == o.format);
  std::size_t expect_linears = static_cast<std::size_t>(o.layers) * (o.experts ? 2 : 4);
  RC_ASSERT(s.linears.size() == expect_linears);
  RC_ASSERT(s.experts.size() == (o.experts ? static_cast<std::size_t>(o.layers) : 0u));
  for (const auto& l : s.linears) {
    bool fusable = l.name.ends_with("qkv_proj") || l.name.ends_with("gate_up_proj");
    RC_ASSERT(l.fused_on_disk == (o.fused && fusable));
    RC_ASSERT(l.shard_ids.size() == (l.name.ends_with("qkv_proj") ? 3u : l.name.ends_with("gate_up_proj") ? 2u : 1u));
    RC_ASSERT(l.has_input_scale == o.input_scales);
  }
  for (const auto& x : s.experts) RC_ASSERT(x.E == o.experts && x.H == o.hidden && x.I == o.intermediate);
}

RC_GTEST_PROP(CheckpointIo, FusedLayoutIsTheUnfusedShardsConcatenated, ()) {
  WriterOptions o = *gen::writer_options();
  o.unequal_scales = false;
  o.fused = false;
  GeneratedCheckpoint u = generate_checkpoint(o);
  o.fused = true;
  GeneratedCheckpoint f = generate_checkpoint(o);
  const FormatNames& fn = format_names(o.format);
  for (int l = 0; l < o.layers; ++l) {
    std::string a = "model.layers." + std::to_string(l) + ".self_attn.";
    std::vector<std::pair<std::string, std::vector<std::string>>> groups{{a + "qkv_proj", {a + "q_proj", a + "k_proj", a + "v_proj"}}};
    std::string m = "model.layers." + std::to_string(l) + ".mlp.";
    if (!o.experts) groups.push_back({m + "gate_up_proj", {m + "gate_proj", m + "up_proj"}});
    for (const auto& [fused, shards] : groups) {
      for (const auto* suffix : {&fn.weight, &fn.weight_scale}) {
        const Tensor& whole = f.tensors.at(fused + "." + *suffix);
        std::int64_t row = 0;
        for (const auto& s : shards) {
          const Tensor& part = u.tensors.at(s + "." + *suffix);
          RC_ASSERT(whole.narrow0(row, part.shape()[0]).bitwise_equal(part));
          row += part.shape()[0];
        }
        RC_ASSERT(row == whole.shape()[0]);
      }
      // One fusion group, one scale: every unfused shard carries the fused scalar's bytes.
      for (const auto& s : shards)
        RC_ASSERT(u.tensors.at(s + "." + fn.weight_scale_2).bitwise_equal(f.tensors.at(fused + "." + fn.weight_scale_2)));
    }
  }
}

}  // namespace
}  // namespace nvfp4

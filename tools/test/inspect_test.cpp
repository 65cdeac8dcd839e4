// `nvfp4 inspect` on good and deliberately broken checkpoints: every broken one must give exit 1
// (a failed check) or 2 (bad input) and one line naming the file, the tensor and the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "core/checkpoint.h"
#include "core/codecs.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/test/small_model.h"
#include "tools/cli/cli.h"

namespace nvfp4 {
namespace {
namespace fs = std::filesystem;

WriterOptions small() { return small_model(); }


struct CliResult { int code; std::string out, err; };
CliResult inspect(const fs::path& dir) {
  std::ostringstream out, err;
  int code = cli::run({"inspect", dir.string()}, out, err);
  return {code, out.str(), err.str()};
}

TEST(Inspect, GoodCheckpointsPass) {
  for (bool fused : {false, true})
    for (auto f : {CkptFormat::ModelOpt, CkptFormat::CompressedTensors}) {
      TempDir d;
      WriterOptions o = small();
      o.fused = fused;
      o.format = f;
      write_checkpoint(d.path(), generate_checkpoint(o), fused ? 1 : 2);
      CliResult r = inspect(d.path());
      EXPECT_EQ(r.code, 0) << r.out << r.err;
      EXPECT_NE(r.out.find("all checks passed"), std::string::npos);
    }
}

// One broken checkpoint: how to break it, the exit code, and what the message must contain.
struct Broken {
  std::string name;
  std::function<void(GeneratedCheckpoint&)> edit_tensors;      // before writing
  std::function<void(const fs::path&)> edit_files;             // after writing
  int code;
  std::vector<std::string> message;  // substrings of stderr (code 2) or stdout (code 1)
};

void set_f32(GeneratedCheckpoint& g, const std::string& name, float v) {
  Tensor& t = g.tensors.at(name);
  t = t.clone();
  std::memcpy(t.data(), &v, 4);
}

void rewrite(const fs::path& p, const std::function<void(std::string&)>& f) {
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  in.close();
  f(s);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

const std::string kQ = "model.layers.0.self_attn.q_proj";
// The first of the two shards every broken checkpoint is written in.
const fs::path kShard0 = "model-00001-of-00002.safetensors";

// The file's framing: its length, the header's length prefix and the header's first byte.
void add_framing(std::vector<Broken>& v) {
  v.push_back({"truncated_file", nullptr, [](const fs::path& d) { fs::resize_file(d / kShard0, fs::file_size(d / kShard0) - 100); },
               2, {kShard0.string(), "(truncated)"}});
  v.push_back({"trailing_bytes", nullptr, [](const fs::path& d) { rewrite(d / kShard0, [](std::string& s) { s += "polyglot"; }); },
               2, {kShard0.string(), "(trailing bytes)"}});
  v.push_back({"header_past_eof", nullptr, [](const fs::path& d) { rewrite(d / kShard0, [](std::string& s) { s[3] = 1; }); },
               2, {kShard0.string(), "runs past the end of the file"}});
  v.push_back({"bad_json", nullptr, [](const fs::path& d) { rewrite(d / kShard0, [](std::string& s) { s[8] = '['; }); },
               2, {kShard0.string(), "must start with '{'"}});
  v.push_back({"huge_header_length", nullptr, [](const fs::path& d) { rewrite(d / kShard0, [](std::string& s) { s[4] = 1; }); },
               2, {kShard0.string(), "exceeds the 100000000-byte limit"}});
}

// The JSON header: syntax, offsets, shapes, names, numbers, dtypes and keys.
void add_header_fields(std::vector<Broken>& v) {
  v.push_back({"json_syntax_error", nullptr, [](const fs::path& d) {
                 rewrite(d / kShard0, [](std::string& s) { s[s.find("\"dtype\"") + 7] = ';'; });
               }, 2, {kShard0.string(), "invalid JSON header at byte"}});
  v.push_back({"overlapping_offsets", nullptr, [](const fs::path& d) {
                 // The second tensor's begin moved back into the first one ("[0,N]" stays; "[N," becomes "[1,").
                 rewrite(d / kShard0, [](std::string& s) {
                   auto p = s.find("\"data_offsets\":[", s.find("\"data_offsets\":[0,") + 1) + 16;
                   auto comma = s.find(',', p);
                   s.replace(p, comma - p, std::string(comma - p - 1, ' ') + "1");
                 });
               }, 2, {kShard0.string(), "(overlap)"}});
  v.push_back({"inverted_offsets", nullptr, [](const fs::path& d) {
                 rewrite(d / kShard0, [](std::string& s) {  // [0,N] -> [N,0] for the first tensor
                   auto p = s.find("\"data_offsets\":[0,") + 16;
                   auto end = s.find(']', p);
                   std::string n = s.substr(p + 2, end - p - 2);
                   s.replace(p, end - p, n + ",0");
                 });
               }, 2, {kShard0.string(), "are inverted"}});
  v.push_back({"shape_byte_mismatch", nullptr, [](const fs::path& d) {
                 rewrite(d / kShard0, [](std::string& s) {  // the first non-scalar shape's leading digit + 1
                   auto p = s.find("\"shape\":[") + 9;
                   while (s[p] < '1' || s[p] > '8') p = s.find("\"shape\":[", p) + 9;
                   s[p] = static_cast<char>(s[p] + 1);
                 });
               }, 2, {kShard0.string(), "needs", "bytes but data_offsets span"}});
  v.push_back({"bad_utf8_in_name", nullptr, [](const fs::path& d) {
                 rewrite(d / kShard0, [](std::string& s) { s[s.find("model.")] = '\xff'; });
               }, 2, {kShard0.string(), "invalid JSON header"}});
  v.push_back({"float_offsets", nullptr, [](const fs::path& d) {
                 rewrite(d / kShard0, [](std::string& s) {
                   // Two more header bytes: the length prefix grows with them, the data follows unchanged.
                   auto p = s.find("\"data_offsets\":[0,");
                   s.replace(p + 16, 1, "0.0");
                   std::uint64_t n = 0;
                   for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[static_cast<std::size_t>(i)])) << (8 * i);
                   n += 2;
                   for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
                 });
               }, 2, {kShard0.string(), "non-integer number 0.0"}});
  v.push_back({"unknown_dtype", nullptr, [](const fs::path& d) {
                 rewrite(d / kShard0, [](std::string& s) { auto p = s.find("\"BF16\""); s.replace(p, 6, "\"BF17\""); });
               }, 2, {kShard0.string(), "unknown dtype \"BF17\""}});
  v.push_back({"duplicate_key", nullptr, [](const fs::path& d) {
                 rewrite(d / kShard0, [](std::string& s) { auto p = s.find("\"shape\""); s.replace(p, 7, "\"dtype\""); });
               }, 2, {kShard0.string(), "duplicate key \"dtype\""}});
}

// Block and global scales that are not positive finite numbers.
void add_scale_values(std::vector<Broken>& v) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  v.push_back({"nan_block_scale", [](GeneratedCheckpoint& g) {
                 Tensor& t = g.tensors.at(kQ + ".weight_scale"); t = t.clone(); t.data()[5] = 0x7F;
               }, nullptr, 1, {kQ + ".weight_scale", "1 NaN block scale(s), first at [1, 1]"}});
  v.push_back({"negative_block_scale", [](GeneratedCheckpoint& g) {
                 Tensor& t = g.tensors.at(kQ + ".weight_scale"); t = t.clone(); t.data()[0] = 0xB8;
               }, nullptr, 1, {kQ + ".weight_scale", "negative block scale"}});
  v.push_back({"nan_global_scale", [=](GeneratedCheckpoint& g) { set_f32(g, kQ + ".weight_scale_2", nan); }, nullptr, 1,
               {kQ + ".weight_scale_2", "NaN global scale"}});
  v.push_back({"zero_global_scale", [](GeneratedCheckpoint& g) { set_f32(g, kQ + ".weight_scale_2", 0.0f); }, nullptr, 1,
               {kQ + ".weight_scale_2", "zero global scale"}});
  v.push_back({"negative_global_scale", [](GeneratedCheckpoint& g) { set_f32(g, kQ + ".input_scale", -0.5f); }, nullptr, 1,
               {kQ + ".input_scale", "negative global scale -0.5"}});
  v.push_back({"inf_global_scale", [=](GeneratedCheckpoint& g) { set_f32(g, kQ + ".weight_scale_2", inf); }, nullptr, 1,
               {kQ + ".weight_scale_2", "infinite global scale"}});
}

// Tensors missing, or of the wrong shape or dtype for their module.
void add_tensor_structure(std::vector<Broken>& v) {
  v.push_back({"missing_tensor", [](GeneratedCheckpoint& g) { g.tensors.erase(kQ + ".weight_scale_2"); }, nullptr, 2,
               {kQ + ".weight_scale_2", "missing tensor"}});
  v.push_back({"missing_shard", [](GeneratedCheckpoint& g) {
                 for (auto s : {".weight", ".weight_scale", ".weight_scale_2", ".input_scale"})
                   g.tensors.erase("model.layers.0.self_attn.k_proj" + std::string(s));
               }, nullptr, 2, {"model.layers.0.self_attn.k_proj.weight", "missing shard of model.layers.0.self_attn.qkv_proj"}});
  v.push_back({"scale_shape_mismatch", [](GeneratedCheckpoint& g) {
                 Tensor& t = g.tensors.at(kQ + ".weight_scale"); t = t.clone().view(DType::F8_E4M3, {t.shape()[0] / 2, t.shape()[1] * 2});
               }, nullptr, 2, {kQ + ".weight_scale", "does not match the weight"}});
  v.push_back({"k_not_multiple_of_16", [](GeneratedCheckpoint& g) {
                 Tensor& t = g.tensors.at(kQ + ".weight"); t = Tensor::zeros(DType::U8, {t.shape()[0], 4});
               }, nullptr, 2, {kQ + ".weight", "K = 8 is not a multiple of 16"}});
  v.push_back({"wrong_weight_dtype", [](GeneratedCheckpoint& g) {
                 Tensor& t = g.tensors.at(kQ + ".weight_scale"); t = t.clone().view(DType::I8, t.shape());
               }, nullptr, 2, {kQ + ".weight_scale", "expected F8_E4M3"}});
}

// Dead data: a weight whose scales are all zero outputs exactly 0 and used to pass
// every other check; one block zeroed under nonzero codes loses its data the same way.
void add_dead_data(std::vector<Broken>& v) {
  v.push_back({"dead_module", [](GeneratedCheckpoint& g) {
                 Tensor& t = g.tensors.at(kQ + ".weight_scale");
                 t = Tensor::zeros(DType::F8_E4M3, t.shape());
               }, nullptr, 1, {kQ + ".weight_scale", "every block scale is zero: the weight dequantizes to exactly 0"}});
  v.push_back({"dead_block", [](GeneratedCheckpoint& g) {
                 const Tensor& w = g.tensors.at(kQ + ".weight");
                 Tensor& t = g.tensors.at(kQ + ".weight_scale");
                 t = t.clone();
                 const std::int64_t kb = t.shape()[1];
                 for (std::int64_t i = 0; i < t.numel(); ++i) {  // the first block with a nonzero code
                   const std::uint8_t* p = w.data() + (i / kb) * w.shape()[1] + 8 * (i % kb);
                   bool nonzero = false;
                   for (int j = 0; j < 8; ++j) nonzero |= (p[j] & 0x77) != 0;
                   if (nonzero) {
                     t.data()[i] = 0x80;  // -0: a zero scale too
                     break;
                   }
                 }
               }, nullptr, 1, {kQ + ".weight_scale", "1 block(s) with a zero scale but nonzero codes"}});
}

// A KV-cache scale that is not a positive finite value, then the files beside the shards: the
// index, config.json and hf_quant_config.json.
void add_kv_scale_and_side_files(std::vector<Broken>& v) {
  v.push_back({"nan_kv_scale", [](GeneratedCheckpoint& g) {
                 Tensor k = Tensor::empty(DType::F32, {});
                 k.data_as<float>()[0] = std::numeric_limits<float>::quiet_NaN();
                 g.tensors["model.layers.0.self_attn.k_scale"] = k;
               }, nullptr, 1, {"model.layers.0.self_attn.k_scale", "KV-cache scale nan is not a positive finite value"}});
  v.push_back({"index_points_at_missing_file", nullptr, [](const fs::path& d) { fs::remove(d / kShard0); }, 2,
               {"model.safetensors.index.json", "points at missing file " + kShard0.string()}});
  v.push_back({"config_bad_json", nullptr, [](const fs::path& d) { std::ofstream(d / "config.json") << "{\"a\":"; }, 2,
               {"config.json", "invalid JSON"}});
  v.push_back({"group_size_32", nullptr, [](const fs::path& d) {
                 rewrite(d / "hf_quant_config.json", [](std::string& s) { auto p = s.find("\"group_size\": 16"); s.replace(p, 16, "\"group_size\": 32"); });
               }, 2, {"hf_quant_config.json", "group_size 32 is not NVFP4"}});
}

// Every broken checkpoint, in the order the test reports them.
std::vector<Broken> broken_cases() {
  std::vector<Broken> v;
  add_framing(v);
  add_header_fields(v);
  add_scale_values(v);
  add_tensor_structure(v);
  add_dead_data(v);
  add_kv_scale_and_side_files(v);
  return v;
}

TEST(Inspect, BrokenCheckpointsFailCleanlyWithNamedCauses) {
  for (const auto& b : broken_cases()) {
    SCOPED_TRACE(b.name);
    TempDir d;
    GeneratedCheckpoint g = generate_checkpoint(small());
    if (b.edit_tensors) b.edit_tensors(g);
    write_checkpoint(d.path(), g, 2);
    if (b.edit_files) b.edit_files(d.path());
    CliResult r = inspect(d.path());
    EXPECT_EQ(r.code, b.code) << r.out << r.err;
    const std::string& text = b.code == 2 ? r.err : r.out;
    for (const auto& m : b.message) EXPECT_NE(text.find(m), std::string::npos) << "missing \"" << m << "\" in:\n" << text;
    if (b.code == 2) {
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    }
  }
}

TEST(Inspect, KvCacheScalesAreRecognisedAndBlockScalesSummarised) {
  TempDir d;
  GeneratedCheckpoint g = generate_checkpoint(small());
  for (const auto& [name, v] : {std::pair<const char*, float>{"model.layers.0.self_attn.k_scale", 0.5f}, {"model.layers.0.self_attn.v_scale", 2.0f}}) {
    Tensor t = Tensor::empty(DType::F32, {});
    t.data_as<float>()[0] = v;
    g.tensors[name] = t;
  }
  write_checkpoint(d.path(), g, 1);
  CliResult r = inspect(d.path());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("KV-cache scales: 1 k_scale, 1 v_scale, from 0.5 to 2 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" unquantized, 2 KV-cache scales)"), std::string::npos) << r.out;
  // small(): H = 64, I = 96, 4 heads of 16 over 2 KV heads; N x K / 16 blocks per weight:
  // q 64x64 + k, v 32x64 + o 64x64 + gate, up 96x64 + down 64x96 = 30720 / 16 = 1920. The blocks
  // near each fusion group's amax round to 448 (ModelOpt's s2 = amax / (6 * 448)), so some must.
  EXPECT_NE(r.out.find("note block scales: 1920, "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("block scales: 1920, 0 at the E4M3 maximum"), std::string::npos) << r.out;
}

TEST(Inspect, UnequalShardScalesAreNotedNotFailed) {
  TempDir d;
  WriterOptions o = small();
  o.unequal_scales = true;
  write_checkpoint(d.path(), generate_checkpoint(o), 1);
  CliResult r = inspect(d.path());
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("shards' weight_scale_2 differ: q="), std::string::npos) << r.out;
}

}  // namespace
}  // namespace nvfp4

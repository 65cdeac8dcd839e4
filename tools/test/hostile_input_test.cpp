// Hostile input against the nvfp4 command and the pipelines, one test per defect class:
// strings from files reaching the terminal raw, recursive regex matching, unchecked integers,
// files that are not regular files, shards truncated while mapped, interrupted writes, errors that
// escaped as "internal error", and NaN/Inf activations. Each input is crafted by hand; each
// expectation is the specific one-line refusal (or acceptance) a user should see.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/interrupt_cleanup.h"
#include "checks/state.h"
#include "core/safetensors.h"
#include "core/test/malformed_safetensors.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "generator/encoders.h"
#include "generator/test/small_model.h"
#include "registry/registry.h"
#include "tools/cli/cli.h"
#include "tools/test/cli_run.h"

namespace nvfp4 {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;


// Exactly one line, ending in '\n', with no control character before it.
::testing::AssertionResult one_printable_line(const std::string& s) {
  if (s.empty() || s.back() != '\n') return ::testing::AssertionFailure() << "not newline-terminated: " << s;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      return ::testing::AssertionFailure() << "control byte 0x" << std::hex << int(c) << " at " << std::dec << i << " in: " << s;
  }
  return ::testing::AssertionSuccess();
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

class Hostile : public ::testing::Test {
 protected:
  fs::path dir(const std::string& name) const { return tmp_.path() / name; }
  // A valid small checkpoint (fused qkv when fused), returned by path.
  fs::path good(const std::string& name, bool fused = false, int experts = 0) const {
    WriterOptions o = small_model();
    o.fused = fused;
    o.experts = experts;
    write_checkpoint(dir(name), generate_checkpoint(o), 1);
    return dir(name);
  }
  TempDir tmp_;
};

// --- Strings from files reach the terminal raw -----------------------------------------------

TEST_F(Hostile, NamesWithControlSequencesStayOneEscapedLine) {
  // Tensor names are JSON strings, so a file can hold any code point through \u escapes.
  const std::vector<std::pair<std::string, std::string>> names = {
      {R"(evil\nname)", R"(evil\nname)"},                       // newline: a second, forged error line
      {R"(t\u001b]0;pwned\u0007)", R"(t\x1b]0;pwned\x07)"},     // OSC title set
      {R"(t\u001b[2J\u0000x)", R"(t\x1b[2J\x00x)"},             // clear screen, NUL
      {R"(t\u202ex\u2028y)", R"(t\u202ex\u2028y)"},             // bidi override, line separator
  };
  for (const auto& [json_name, shown] : names) {
    fs::create_directories(dir("n"));
    // A size mismatch: the error names the tensor.
    write_bytes(dir("n") / "model.safetensors",
                testdata::st_image(R"({")" + json_name + R"(":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4));
    CliRun r = nvfp4({"inspect", dir("n").string()});
    EXPECT_EQ(r.code, 2);
    EXPECT_TRUE(one_printable_line(r.err)) << json_name;
    EXPECT_NE(r.err.find(shown), std::string::npos) << r.err;
  }
  // An unknown field whose key holds a raw newline (a fuzz finding).
  write_bytes(dir("n") / "model.safetensors",
              testdata::st_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets\n40],[":[0,4]}})", 4));
  CliRun r = nvfp4({"inspect", dir("n").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(one_printable_line(r.err));
  EXPECT_NE(r.err.find(R"(unknown field "data_offsets\n40],[")"), std::string::npos) << r.err;
}

TEST_F(Hostile, VerifysReportEscapesModuleNamesOnce) {
  // A valid checkpoint whose o_proj module name holds a backslash and an ESC: verify's report
  // (checked module by module, then gathered) shows it escaped exactly once, o\\\x1b_proj, not
  // o\\\\\\x1b_proj as when both the module's checks and the report escaped it.
  GeneratedCheckpoint g = generate_checkpoint(small_model());
  GeneratedCheckpoint h = g;
  h.tensors.clear();
  h.slots.clear();
  const std::string from = "model.layers.0.self_attn.o_proj", to = "model.layers.0.self_attn.o\\\x1b_proj";
  for (auto& [name, t] : g.tensors) h.tensors[name.rfind(from, 0) == 0 ? to + name.substr(from.size()) : name] = t;
  write_checkpoint(dir("esc"), h, 1);
  CliRun r = nvfp4({"verify", dir("esc").string(), "--sample", "1", "--reloads", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(R"(PASS model.layers.0.self_attn.o\\\x1b_proj: reference == optimized)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(R"(o\\\\)"), std::string::npos) << "escaped twice:\n" << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST_F(Hostile, ConfigStringsAndFileNamesAreEscaped) {
  fs::path c = good("cfg");
  write_text(c / "hf_quant_config.json", R"({"quantization":{"quant_algo":"NVFP4\u001b[31mX"}})");
  CliRun r = nvfp4({"inspect", c.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(one_printable_line(r.err));
  EXPECT_NE(r.err.find(R"(quant_algo "NVFP4\x1b[31mX" is not supported)"), std::string::npos) << r.err;

  // A shard whose file name holds a newline and an ESC, listed in the index.
  fs::path d = good("fname");
  const std::string evil = "model\n\x1b[1m.safetensors";
  fs::rename(d / "model.safetensors", d / evil);
  write_bytes(d / evil, testdata::st_image("{", 0));
  r = nvfp4({"inspect", d.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(one_printable_line(r.err));
  EXPECT_NE(r.err.find("model\\n\\x1b[1m.safetensors"), std::string::npos) << r.err;
}

TEST_F(Hostile, LongNamesAreElidedInTheMiddleOfTheirRow) {
  // A valid checkpoint whose module names are 5,000 characters long: inspect's table keeps one row
  // per module and shows both ends of the name.
  WriterOptions o = small_model();
  GeneratedCheckpoint g = generate_checkpoint(o);
  GeneratedCheckpoint h = g;
  h.tensors.clear();
  const std::string pad(5000, 'p');
  for (auto& [n, t] : g.tensors) h.tensors[n.rfind("model.", 0) == 0 ? "model." + pad + n.substr(5) : n] = t;
  write_checkpoint(dir("long"), h, 1);
  CliRun r = nvfp4({"inspect", dir("long").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  int rows = 0;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LT(line.size(), 300u) << line.substr(0, 300);
    if (line.find("bytes elided") != std::string::npos) {
      ++rows;
      EXPECT_NE(line.find("model.ppp"), std::string::npos);
      EXPECT_TRUE(line.find("_proj ") != std::string::npos) << line;  // the distinguishing tail is kept
    }
  }
  EXPECT_EQ(rows, 8);  // qkv_proj, o_proj, gate_up_proj, down_proj: in the module table and the scales table
}

// --- Recursive regex matching ------------------------------------------------------------------

TEST_F(Hostile, MegabyteNamesAndPathologicalPatternsRunInLinearTime) {
  // std::regex recursed per character of a name: a 1 MB name overflowed the stack. Mapping is plain
  // string code now; this name maps like any other q_proj.
  WriterOptions o = small_model();
  GeneratedCheckpoint g = generate_checkpoint(o), h = g;
  h.tensors.clear();
  const std::string pad(1 << 20, 'x');
  for (auto& [n, t] : g.tensors) h.tensors[n.rfind("model.", 0) == 0 ? "model." + pad + n.substr(5) : n] = t;
  write_checkpoint(dir("huge"), h, 1);
  CliRun r = nvfp4({"inspect", dir("huge").string()});
  EXPECT_EQ(r.code, 0) << r.err.substr(0, 500);

  // Exponential backtracking patterns and deep nesting in an "re:" exclusion entry, matched against
  // a module named 40 'a's (where a backtracking engine explodes): RE2 answers in linear time or
  // refuses the pattern by name; never a hang or a stack overflow.
  GeneratedCheckpoint a = g;
  a.tensors.clear();
  const std::string o_proj = "model.layers.0.self_attn.o_proj";
  for (auto& [n, t] : g.tensors) a.tensors[n.rfind(o_proj, 0) == 0 ? std::string(40, 'a') + n.substr(o_proj.size()) : n] = t;
  write_checkpoint(dir("re"), a, 1);
  const std::string deep = std::string(20000, '(') + "a" + std::string(20000, ')');
  for (const std::string& pat : {std::string("re:(a|aa)*(b|a*)*c"), std::string("re:(a+a+)+b"), "re:" + deep}) {
    json q = json::parse(std::ifstream(dir("re") / "hf_quant_config.json"));
    q["quantization"]["exclude_modules"] = {pat};
    write_text(dir("re") / "hf_quant_config.json", q.dump());
    // A backtracking engine takes hours on these (the ctest timeout would end it), RE2 microseconds.
    r = nvfp4({"inspect", dir("re").string()});
    EXPECT_EQ(r.code, 0) << pat.substr(0, 40) << ": " << r.err.substr(0, 300);  // matches nothing: every module stays quantized
    EXPECT_NE(r.out.find(std::string(40, 'a') + " "), std::string::npos) << r.out;
  }
  // A pattern RE2 cannot parse is refused by name.
  json q = json::parse(std::ifstream(dir("re") / "hf_quant_config.json"));
  q["quantization"]["exclude_modules"] = {"re:(unclosed"};
  write_text(dir("re") / "hf_quant_config.json", q.dump());
  r = nvfp4({"inspect", dir("re").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(one_printable_line(r.err));
  EXPECT_NE(r.err.find("hf_quant_config.json: invalid regex in ignore list: re:(unclosed (missing ): (unclosed)"), std::string::npos) << r.err;
  // A pattern that does match a quantized module is the specific refusal.
  q = json::parse(std::ifstream(dir("re") / "hf_quant_config.json"));
  q["quantization"]["exclude_modules"] = {"re:a{40}"};
  write_text(dir("re") / "hf_quant_config.json", q.dump());
  r = nvfp4({"inspect", dir("re").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is excluded from quantization by"), std::string::npos) << r.err;
}

// --- Integer arithmetic on untrusted numbers ----------------------------------------------------

TEST_F(Hostile, ConfigIntegersAreRangeCheckedByName) {
  fs::path c = good("ints", /*fused=*/true);
  const json base = json::parse(std::ifstream(c / "config.json"));
  struct Case { std::string key; json value; std::string message; };
  const std::vector<Case> cases = {
      {"num_attention_heads", -4, "num_attention_heads: must be an integer from 1 to 16777216, not -4"},
      {"num_attention_heads", 4294967300ull, "not 4294967300"},  // 2^32 + 4 used to wrap to 4
      {"num_attention_heads", "4", R"(not "4")"},
      {"head_dim", 16.5, "head_dim: must be an integer from 1 to 16777216, not 16.5"},
      {"num_key_value_heads", 0, "num_key_value_heads: must be an integer from 1 to 16777216, not 0"},
      {"hidden_size", 18446744073709551615ull, "hidden_size: must be an integer from 1 to 16777216, not 18446744073709551615"},
  };
  for (const auto& k : cases) {
    json cfg = base;
    cfg[k.key] = k.value;
    if (k.key == "hidden_size") cfg.erase("head_dim");
    write_text(c / "config.json", cfg.dump());
    CliRun r = nvfp4({"inspect", c.string()});
    EXPECT_EQ(r.code, 2) << k.key;
    EXPECT_TRUE(one_printable_line(r.err));
    EXPECT_NE(r.err.find(k.message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  }
  // group_size compared at full width: 2^32 + 16 is not 16.
  write_text(c / "config.json", base.dump());
  json q = json::parse(std::ifstream(c / "hf_quant_config.json"));
  q["quantization"]["group_size"] = 4294967312ull;
  write_text(c / "hf_quant_config.json", q.dump());
  CliRun r = nvfp4({"inspect", c.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("group_size 4294967312 is not NVFP4"), std::string::npos) << r.err;
}

TEST_F(Hostile, CommandLineIntegersAreRangeChecked) {
  struct Case { std::vector<std::string> args; std::string message; };
  const std::string m = dir("m").string();
  const std::vector<Case> cases = {
      {{"make-checkpoint", m, "--layers", "-1"}, "--layers: -1 is out of range (from 1 to 4096)"},
      {{"make-checkpoint", m, "--layers", "4294967297"}, "--layers: 4294967297 is out of range"},  // wrapped to 1 as int
      {{"make-checkpoint", m, "--experts", "99999999999999999999"}, "--experts: 99999999999999999999 is out of range"},
      {{"make-checkpoint", m, "--hidden", "1e3"}, "--hidden: expects an integer (from 16 to 1048576), not \"1e3\""},
      {{"make-checkpoint", m, "--seed", "-5"}, "--seed: -5 is out of range"},
      {{"verify", m, "--reloads", "-3"}, "--reloads: -3 is out of range (from 0 to 1000)"},
      {{"gemm", m, "--module", "x", "--expert", "-2", "--input", "x", "--out", dir("y").string(), "--mode", "w4a4"},
       "--expert: -2 is out of range"},
  };
  for (const auto& k : cases) {
    CliRun r = nvfp4(k.args);
    EXPECT_EQ(r.code, 2) << k.message;
    EXPECT_NE(r.err.find(k.message), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(m)) << "nothing written on a usage error";
  }
}

// --- Files that are not regular files ----------------------------------------------------------

TEST_F(Hostile, FifosDevicesAndHugeJsonAreRefusedWithoutBlocking) {
  // A FIFO config.json used to block forever in open(); the ctest timeout would catch a regression.
  fs::path c = good("fifo");
  fs::remove(c / "config.json");
  ASSERT_EQ(mkfifo((c / "config.json").c_str(), 0600), 0);
  CliRun r = nvfp4({"inspect", c.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config.json: is a FIFO, not a regular file"), std::string::npos) << r.err;

  // A shard that is /dev/zero (through a symlink, as the HF cache links its blobs) is refused;
  // a symlink to a regular file is fine.
  fs::path d = good("dev");
  fs::rename(d / "model.safetensors", dir("blob.safetensors"));
  fs::create_symlink(dir("blob.safetensors"), d / "model.safetensors");
  EXPECT_EQ(nvfp4({"inspect", d.string()}).code, 0);
  fs::create_symlink("/dev/zero", d / "zero.safetensors");
  fs::remove(d / "model.safetensors.index.json");
  r = nvfp4({"inspect", d.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("zero.safetensors: is a character device, not a regular file"), std::string::npos) << r.err;

  // A 65 MiB config.json (sparse: no disk used) is refused by size before it is read.
  fs::path h = good("huge_json");
  fs::resize_file(h / "config.json", 65ull << 20);
  r = nvfp4({"inspect", h.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config.json: is 68157440 bytes; files of this kind are capped at 67108864"), std::string::npos) << r.err;
}

// --- A shard truncated while mapped -------------------------------------------------------------

// Changes `file` when the view hook has been called `at` times: truncates it to 64 bytes (reads
// past the new end fault), or rewrites its whole data section in place with 0x77 bytes, which are
// valid E2M1 pairs, a valid E4M3 scale and a finite positive F32 global scale, so that no check of
// the values can notice and only the file's own state (size, mtime) tells.
struct ChangeAt {
  fs::path file;
  int at;
  bool rewrite = false;
  int seen = 0;
  void arm() {
    SafetensorsFile::set_view_hook_for_testing([this](const std::string& label, const std::string&) {
      if (++seen != at || label != file.string()) return;
      if (!rewrite) return fs::resize_file(file, 64);
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      std::uint64_t n = 0;
      f.read(reinterpret_cast<char*>(&n), 8);
      const std::string fill(fs::file_size(file) - 8 - n, '\x77');
      f.seekp(static_cast<std::streamoff>(8 + n));
      f.write(fill.data(), static_cast<std::streamsize>(fill.size()));
    });
  }
  ~ChangeAt() { SafetensorsFile::set_view_hook_for_testing({}); }
};

// The tensor views a reload of ckpt takes, in order.
std::vector<std::string> views_of_a_reload(Pipeline& p, const fs::path& ckpt) {
  std::vector<std::string> names;
  SafetensorsFile::set_view_hook_for_testing([&](const std::string&, const std::string& n) { names.push_back(n); });
  p.update_weights_from_disk(Checkpoint::open(ckpt));
  SafetensorsFile::set_view_hook_for_testing({});
  return names;
}

// How many views the checks take before anything is written. The reference builds everything
// aside, so all of its views are checks. The optimized pipeline validates first, viewing only the
// scales (optimized/source_loader.cpp reads weight shapes from the header), then copies, viewing
// every tensor: its checks end at the first view of a packed weight.
int check_views(const std::string& pipeline, const std::vector<std::string>& names) {
  if (pipeline == "reference") return static_cast<int>(names.size());
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i].ends_with(".weight") || names[i].ends_with(".weight_packed")) return static_cast<int>(i);
  return static_cast<int>(names.size());
}

TEST_F(Hostile, ShardChangedDuringTheChecksLeavesEveryPipelineAsItWas) {
  // Reload B over A while B's only shard is truncated under its mapping after the first tensor
  // view: no SIGBUS, an error naming the file, and every byte, identity and address as after A.
  WriterOptions o = small_model();
  o.experts = 2;
  write_checkpoint(dir("A"), generate_checkpoint(o), 1);
  o.seed = 7;
  write_checkpoint(dir("B"), generate_checkpoint(o), 1);
  // Truncated after the first view and after the last view of the checks (so that the last tensor
  // checked reads as zeros, which may pass its own checks: only the file's state can tell).
  for (const auto& name : pipeline_names()) {
    for (Backend b : {Backend::Cutlass, Backend::Trtllm}) {
      auto p = make_pipeline(name, b);
      p->load_weights(Checkpoint::open(dir("A")));
      p->process_weights_after_loading(b);
      const int last = check_views(name, views_of_a_reload(*p, dir("A")));
      ASSERT_GT(last, 1) << name;
      const State before = capture(*p);
      const auto recs = p->reconciliations().size();
      fs::copy_file(dir("B") / "model.safetensors", dir("B.safetensors"), fs::copy_options::overwrite_existing);
      for (int at : {1, last})
        for (bool rewrite : {false, true}) {
        {
          ChangeAt t{dir("B") / "model.safetensors", at, rewrite};
          t.arm();
          try {
            p->update_weights_from_disk(Checkpoint::open(dir("B")));
            ADD_FAILURE() << name << ": a shard " << (rewrite ? "rewritten" : "truncated") << " at view " << at << " was accepted";
          } catch (const Error& e) {
            EXPECT_EQ(e.file(), (dir("B") / "model.safetensors").string());
            EXPECT_NE(std::string(e.what()).find("changed while being read (truncated or rewritten under its memory map)"),
                      std::string::npos)
                << e.what();
          }
        }
        EXPECT_EQ(first_difference(before, capture(*p), Same::Addresses, "before", "after the failed reload"), "")
            << name << (rewrite ? " rewritten" : " truncated") << " at view " << at;
        EXPECT_EQ(p->reconciliations().size(), recs);
        fs::copy_file(dir("B.safetensors"), dir("B") / "model.safetensors", fs::copy_options::overwrite_existing);
      }
      p->update_weights_from_disk(Checkpoint::open(dir("B")));  // and a good reload still works
    }
  }
}

TEST_F(Hostile, ShardTruncatedDuringTheOptimizedCopyIsRefusedUntilAGoodReload) {
  // The one window the optimized pipeline (no copy aside) cannot close: truncation after the
  // checks passed, during the copy. The reload fails naming the file, every later use is refused,
  // and a good reload restores exactly the state a cold load gives.
  WriterOptions o = small_model();
  write_checkpoint(dir("A"), generate_checkpoint(o), 1);
  o.seed = 9;
  write_checkpoint(dir("B"), generate_checkpoint(o), 1);
  fs::copy_file(dir("B") / "model.safetensors", dir("B.safetensors"));
  auto p = make_pipeline("optimized", Backend::Cutlass);
  p->load_weights(Checkpoint::open(dir("A")));
  p->process_weights_after_loading(Backend::Cutlass);
  const int views = static_cast<int>(views_of_a_reload(*p, dir("A")).size());
  {
    ChangeAt t{dir("B") / "model.safetensors", views};  // truncated at the last view, in the copy pass
    t.arm();
    EXPECT_THROW(p->update_weights_from_disk(Checkpoint::open(dir("B"))), Error);
  }
  Tensor x = Tensor::empty(DType::F32, {1, 64});
  for (int i = 0; i < 64; ++i) x.data_as<float>()[i] = 0.5f;
  try {
    p->gemm({"model.layers.0.self_attn.o_proj", -1, ""}, x, GemmMode::W4A16);
    ADD_FAILURE() << "GEMM on torn weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated during the last reload's copy; reload before using the weights"), std::string::npos)
        << e.what();
  }
  fs::copy_file(dir("B.safetensors"), dir("B") / "model.safetensors", fs::copy_options::overwrite_existing);
  p->update_weights_from_disk(Checkpoint::open(dir("B")));
  auto cold = make_pipeline("optimized", Backend::Cutlass);
  cold->load_weights(Checkpoint::open(dir("B")));
  cold->process_weights_after_loading(Backend::Cutlass);
  EXPECT_EQ(first_difference(capture(*cold), capture(*p), Same::Bytes, "cold B", "B after a torn reload"), "");
  EXPECT_NO_THROW(p->gemm({"model.layers.0.self_attn.o_proj", -1, ""}, x, GemmMode::W4A16));
}

// --- Interrupted writes and where output goes ---------------------------------------------------

TEST_F(Hostile, InterruptRemovesTheTemporaryAndReRaises) {
  const fs::path tmp = dir("out.safetensors.tmp.1");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the child: an output being written when SIGTERM arrives
    install_interrupt_cleanup();
    TempFileGuard guard(tmp);
    write_text(tmp, "partial");
    raise(SIGTERM);
    _exit(0);  // not reached: the handler re-raises with the default action
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "the exit status still says SIGTERM";
  EXPECT_FALSE(fs::exists(tmp)) << "temporary left behind";
}

TEST_F(Hostile, OutputsInsideTheCheckpointOrUnnamedAreRefused) {
  fs::path c = good("ck");
  for (const std::string cmd : {"process", "gemm"}) {
    std::vector<std::string> args{cmd, c.string(), "--out", (c / "y.safetensors").string()};
    if (cmd == "gemm") args.insert(args.end(), {"--module", "m", "--input", "x", "--mode", "w4a16"});
    CliRun r = nvfp4(args);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.err.find("is inside the checkpoint directory"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(c / "y.safetensors"));
    args[3] = "";
    r = nvfp4(args);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.err.find("--out must name a file, not \"\""), std::string::npos) << r.err;
  }
  // Through another spelling of the same directory.
  CliRun r = nvfp4({"process", c.string(), "--out", (c / ".." / "ck" / "y.safetensors").string()});
  EXPECT_NE(r.err.find("is inside the checkpoint directory"), std::string::npos) << r.err;
}

// --- Errors that escaped as "internal error" ------------------------------------------------------

TEST_F(Hostile, EveryFailureIsATypedOneLineError) {
  // An expert index of 30 digits: std::stoll threw out_of_range, reported as an internal error.
  WriterOptions o = small_model();
  o.experts = 1;
  GeneratedCheckpoint g = generate_checkpoint(o), h = g;
  h.tensors.clear();
  for (auto& [n, t] : g.tensors) {
    std::string k = n;
    if (auto at = k.find(".experts.0."); at != std::string::npos) k.replace(at, 11, ".experts.999999999999999999999999999999.");
    h.tensors[k] = t;
  }
  write_checkpoint(dir("bigexp"), h, 1);
  CliRun r = nvfp4({"inspect", dir("bigexp").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(one_printable_line(r.err)) << r.err;
  EXPECT_NE(r.err.find("expert index out of range"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos);

  // An error raised where no file is known (trtllm's H % 64 rule, inside a pipeline) names the
  // checkpoint the command was working on.
  o = small_model();
  o.hidden = 48;
  o.experts = 2;
  write_checkpoint(dir("h48"), generate_checkpoint(o), 1);
  for (const std::string pipeline : {"reference", "optimized"}) {
    r = nvfp4({"process", dir("h48").string(), "--backend", "trtllm", "--pipeline", pipeline, "--out", dir("p.safetensors").string()});
    EXPECT_EQ(r.code, 2) << pipeline;
    EXPECT_TRUE(one_printable_line(r.err)) << r.err;
    EXPECT_EQ(r.err.rfind("nvfp4 process: " + dir("h48").string() + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("multiple of 64"), std::string::npos) << r.err;
  }

  // Nothing quantized at all: a clear bad-input error for the commands that need modules.
  fs::create_directories(dir("plain"));
  Tensor t = Tensor::empty(DType::F32, {2});
  t.data_as<float>()[0] = t.data_as<float>()[1] = 1.0f;
  write_safetensors(dir("plain") / "model.safetensors", {{"lm_head.weight", t}});
  for (const std::string cmd : {"verify", "process"}) {
    std::vector<std::string> args{cmd, dir("plain").string()};
    if (cmd == "process") args.insert(args.end(), {"--out", dir("p.safetensors").string()});
    r = nvfp4(args);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_TRUE(one_printable_line(r.err)) << r.err;
    EXPECT_NE(r.err.find("no quantized modules"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("usage:"), std::string::npos) << r.err;
  }
}

// --- NaN/Inf activations ------------------------------------------------------------------------

TEST_F(Hostile, NonFiniteActivationsAreRefusedInBothModesByBothPipelines) {
  fs::path c = good("nan");
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    Tensor x = Tensor::empty(DType::BF16, {2, 64});
    for (int i = 0; i < 128; ++i) x.data_as<std::uint16_t>()[i] = f32_to_bf16(0.25f);
    x.data_as<std::uint16_t>()[64 + 5] = f32_to_bf16(bad);
    write_safetensors(dir("x.safetensors"), {{"x", x}});
    for (const std::string pipeline : {"reference", "optimized"})
      for (const std::string mode : {"w4a4", "w4a16"}) {
        CliRun r = nvfp4({"gemm", c.string(), "--module", "model.layers.0.self_attn.o_proj", "--input", dir("x.safetensors").string(),
                          "--out", dir("y.safetensors").string(), "--mode", mode, "--pipeline", pipeline});
        EXPECT_EQ(r.code, 2) << pipeline << " " << mode;
        EXPECT_NE(r.err.find("x.safetensors: x: holds a non-finite value at [1, 5] (NaN and Inf activations are refused in both modes)"),
                  std::string::npos)
            << r.err;
        EXPECT_FALSE(fs::exists(dir("y.safetensors")));
      }
  }
}

TEST_F(Hostile, W4a16RefusesActivationsPastItsF32Domain) {
  // Found by fuzz/gemm_differential: |x| near FLT_MAX made the f32 accumulation of x * e2m1 * S
  // overflow to inf where the exact result (after the small global scale) is finite. w4a16 is
  // defined for |x| < FLT_MAX / (5376 K); here K = 64: 3.40282e38 / 344064 = 9.89009e32.
  fs::path c = good("big");
  Tensor x = Tensor::empty(DType::F32, {2, 64});
  for (int i = 0; i < 128; ++i) x.data_as<float>()[i] = 1.0f;
  x.data_as<float>()[64 + 9] = 1e33f;
  x.data_as<float>()[64 + 20] = NAN;  // later in row-major order: the first offending element is named
  write_safetensors(dir("x.safetensors"), {{"x", x}});
  for (const std::string pipeline : {"reference", "optimized"}) {
    CliRun r = nvfp4({"gemm", c.string(), "--module", "model.layers.0.self_attn.o_proj", "--input", dir("x.safetensors").string(),
                      "--out", dir("y.safetensors").string(), "--mode", "w4a16", "--pipeline", pipeline});
    EXPECT_EQ(r.code, 2) << pipeline;
    EXPECT_NE(r.err.find("x: holds |x| = 1e+33 at [1, 9], past the w4a16 limit FLT_MAX / (5376 K) = 9.89009e+32"), std::string::npos)
        << r.err;
    // w4a4 quantizes per block first, so 1e33 is in its domain; the NaN is not.
    r = nvfp4({"gemm", c.string(), "--module", "model.layers.0.self_attn.o_proj", "--input", dir("x.safetensors").string(), "--out",
               dir("y.safetensors").string(), "--mode", "w4a4", "--pipeline", pipeline});
    EXPECT_EQ(r.code, 2) << pipeline;
    EXPECT_NE(r.err.find("x: holds a non-finite value at [1, 20]"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace nvfp4

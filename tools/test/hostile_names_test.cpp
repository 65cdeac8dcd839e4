// Hostile names and arguments against the nvfp4 command, one test per defect class: strings from
// files reaching the terminal raw, recursive regex matching, and unchecked integers in configs and
// on the command line. Each input is crafted by hand; each expectation is the specific one-line
// refusal (or acceptance) a user should see.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/test/malformed_safetensors.h"
#include "tools/test/cli_run.h"
#include "tools/test/hostile_util.h"

namespace nvfp4::hostile_test {
namespace {
using json = nlohmann::json;

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
  CliRun r = nvfp4({"verify", dir("esc").string(), "--activation-rows", "1", "--reloads", "1"});
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

}  // namespace
}  // namespace nvfp4::hostile_test

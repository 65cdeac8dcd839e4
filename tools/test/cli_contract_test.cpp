// The command line as git, cargo or ripgrep users expect it: help in three spellings,
// --version, typos answered with the nearest command or option, extra arguments and repeated
// options refused, and usage errors that show the failing command's usage only. Exit 0 for help
// and version, 2 for every usage error.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "core/test/temp_dir.h"
#include "tools/cli/options.h"
#include "tools/test/cli_run.h"

namespace nvfp4 {
namespace {
namespace fs = std::filesystem;

const std::vector<std::string> kCommands = {"make-checkpoint", "inspect", "process", "gemm", "verify"};

TEST(CliContract, TopLevelHelpListsEveryCommandAndTheExitCodes) {
  for (const char* h : {"--help", "-h", "help"}) {
    CliRun r = nvfp4({h});
    EXPECT_EQ(r.code, 0) << h;
    for (const auto& c : kCommands) EXPECT_NE(r.out.find("  " + c + " "), std::string::npos) << h << ": " << c;
    EXPECT_NE(r.out.find("Exit codes: 0 all checks hold; 1 a check failed"), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
  CliRun none = nvfp4({});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("Usage: nvfp4"), std::string::npos);
}

TEST(CliContract, Version) {
  CliRun r = nvfp4({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("nvfp4 [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << r.out;
}

TEST(CliContract, EveryCommandHasHelpInThreeSpellingsWithAnExample) {
  for (const auto& c : kCommands) {
    const CliRun a = nvfp4({"help", c}), b = nvfp4({c, "--help"}), h = nvfp4({c, "-h"});
    EXPECT_EQ(a.code, 0) << c;
    EXPECT_EQ(b.code, 0) << c;
    EXPECT_EQ(h.code, 0) << c;
    EXPECT_EQ(a.out, b.out) << c;
    EXPECT_EQ(a.out, h.out) << c;
    EXPECT_NE(a.out.find("Usage: nvfp4 " + c + " [OPTIONS]"), std::string::npos) << a.out;
    EXPECT_NE(a.out.find("Example"), std::string::npos) << a.out;
    EXPECT_NE(a.out.find("  nvfp4 " + c + " "), std::string::npos) << "an example invocation: " << a.out;
  }
  CliRun v = nvfp4({"help", "verify"});
  for (const char* o : {"--backend", "--reloads", "--activation-rows", "--sample", "--jobs", "--experts-chunk-mib", "--json"})
    EXPECT_NE(v.out.find(o), std::string::npos) << o;
  EXPECT_NE(v.out.find("--reloads INT:0..1000=2"), std::string::npos) << "range and default shown: " << v.out;
}

TEST(CliContract, HelpIsNeverTakenForAPath) {
  // Once, `make-checkpoint -h` wrote a checkpoint into a directory named -h.
  TempDir d;
  const fs::path cwd = fs::current_path();
  fs::current_path(d.path());
  CliRun r = nvfp4({"make-checkpoint", "-h"});
  CliRun i = nvfp4({"inspect", "-h"});
  fs::current_path(cwd);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(i.code, 0);
  EXPECT_FALSE(fs::exists(d.path() / "-h"));
}

TEST(CliContract, TyposGetTheNearestCommandOrOption) {
  struct Case { std::vector<std::string> args; std::string message; };
  const std::vector<Case> cases = {
      {{"verfiy", "x"}, "nvfp4: unknown command \"verfiy\" (did you mean verify?)"},
      {{"inpsect"}, "(did you mean inspect?)"},
      {{"make-chekpoint", "x"}, "(did you mean make-checkpoint?)"},
      {{"verify", "x", "--backnd", "trtllm"}, "nvfp4 verify: unknown option --backnd (did you mean --backend?)"},
      {{"verify", "x", "--realods=3"}, "unknown option --realods (did you mean --reloads?)"},
      {{"make-checkpoint", "x", "--layout", "fusd"}, "--layout: must be one of fused|unfused, not \"fusd\" (did you mean fused?)"},
      {{"help", "verfy"}, "nvfp4 help: unknown command \"verfy\" (did you mean verify?)"},
      {{"frobnicate"}, "nvfp4: unknown command \"frobnicate\"\n"},  // nothing near: no suggestion
      {{"verify", "x", "--colour"}, "unknown option --colour\n"},
  };
  for (const auto& c : cases) {
    CliRun r = nvfp4(c.args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST(CliContract, ExtraArgumentsAndRepeatedOptionsAreRefused) {
  struct Case { std::vector<std::string> args; std::string message; };
  const std::vector<Case> cases = {
      {{"verify", "a", "b"}, "nvfp4 verify: unexpected argument \"b\" (this command takes no more)"},
      {{"inspect", "a", "b", "c"}, "unexpected argument \"b\""},
      {{"verify", "a", "--jobs", "1", "--jobs", "2"}, "nvfp4 verify: --jobs given more than once; give it once"},
      {{"make-checkpoint", "a", "--seed", "1", "--seed=2"}, "--seed given more than once"},
      {{"help", "verify", "inspect"}, "nvfp4 help: takes one command"},
  };
  for (const auto& c : cases) {
    CliRun r = nvfp4(c.args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST(CliContract, UsageErrorsShowOnlyTheFailingCommandsUsage) {
  CliRun r = nvfp4({"gemm", "ckpt", "--module", "m"});  // --input, --out and --mode missing
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nvfp4 gemm: --input is required"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: nvfp4 gemm [OPTIONS] CKPT\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run 'nvfp4 gemm --help' for every option"), std::string::npos) << r.err;
  for (const char* other : {"make-checkpoint", "verify", "inspect", "process"}) EXPECT_EQ(r.err.find(other), std::string::npos) << other;
  EXPECT_TRUE(r.out.empty());
}

// Every integer option at its documented limits: the limit itself passes the range check (a later
// check of the combination may still refuse it, without naming a range), one past it is refused
// naming the range. The limits are the contract, written here as the help states them; the values
// at the top are chosen so that another check refuses them before anything is generated.
TEST(CliContract, IntegerOptionsAtTheirExactLimits) {
  // named: the option's one name, which the error uses whatever spelling was given ("": option).
  struct Limit { std::vector<std::string> cmd; std::string option; std::int64_t lo, hi; bool try_hi; std::string named = ""; };
  TempDir d;
  const std::string ck = (d.path() / "ck").string();
  const std::vector<Limit> limits = {
      {{"make-checkpoint", ck}, "--head-dim", 16, 65536, true},   // 65536 does not divide the default hidden size
      {{"make-checkpoint", ck}, "--kv-heads", 0, 65536, true},    // nor do 65536 KV heads divide its heads
      {{"make-checkpoint", ck}, "--hidden", 16, 1 << 20, false},
      {{"make-checkpoint", ck}, "--intermediate", 16, 1 << 20, false},
      {{"make-checkpoint", ck}, "--layers", 1, 4096, false},
      {{"make-checkpoint", ck}, "--experts", 0, 4096, false},
      {{"make-checkpoint", ck}, "--shards", 1, 1000, false},
      {{"verify", ck}, "--reloads", 0, 1000, false},
      {{"verify", ck}, "--activation-rows", 0, 4096, false},
      {{"verify", ck}, "--sample", 0, 4096, false, "--activation-rows"},  // its former name, still accepted
      {{"verify", ck}, "--experts-chunk-mib", 1, 1 << 20, false},
      {{"process", ck, "--out", ck + ".safetensors"}, "--experts-chunk-mib", 0, 1 << 20, false},
  };
  for (const Limit& l : limits) {
    SCOPED_TRACE(l.option);
    const std::string range = "(from " + std::to_string(l.lo) + " to " + std::to_string(l.hi) + ")";
    for (std::int64_t v : {l.lo - 1, l.hi + 1}) {
      std::vector<std::string> a = l.cmd;
      a.insert(a.end(), {l.option, std::to_string(v)});
      CliRun r = nvfp4(a);
      EXPECT_EQ(r.code, 2);
      EXPECT_NE(r.err.find((l.named.empty() ? l.option : l.named) + ": " + std::to_string(v) + " is out of range " + range), std::string::npos) << r.err;
    }
    if (!l.try_hi) continue;
    std::vector<std::string> a = l.cmd;
    a.insert(a.end(), {l.option, std::to_string(l.hi)});
    CliRun r = nvfp4(a);
    EXPECT_EQ(r.code, 2) << "refused by a later check";
    EXPECT_EQ(r.err.find("out of range"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(ck));
  }
}

TEST(CliContract, HostileArgumentsAreEscapedInErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"verify", "x", "--\x1b[31mred"}, {"\x1b]0;title\x07"}, {"verify", "x", "y\r\x1b[2K"}, {"verify", "x", "--jobs", "1\x1b[A"}}) {
    CliRun r = nvfp4(args);
    EXPECT_EQ(r.code, 2);
    for (char ch : r.err) EXPECT_TRUE(ch == '\n' || static_cast<unsigned char>(ch) >= 0x20) << r.err;
  }
}

TEST(CliContract, NearestNeedsACloseSpelling) {
  using cli::nearest;
  EXPECT_EQ(nearest("verfiy", kCommands), "verify");  // a transposition is one edit
  EXPECT_EQ(nearest("proces", kCommands), "process");
  EXPECT_EQ(nearest("gem", kCommands), "gemm");
  EXPECT_EQ(nearest("xyz", kCommands), "");
  EXPECT_EQ(nearest("v", kCommands), "");  // one letter is no spelling of anything
  EXPECT_EQ(nearest(std::string(100, 'v'), kCommands), "");
}

}  // namespace
}  // namespace nvfp4

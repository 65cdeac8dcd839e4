// nvfp4 diff per engine release (tools/diff/releases.h): the release comes from --engine's
// ==VERSION, the dump's metadata or the newest known; a backend the release itself refuses is
// refused with its reason and line; a release whose conventions are not decoded stops with a
// pointer to what differs. The expectations were read off the released wheels (pip download
// --no-deps sglang==V, srt/layers/quantization/modelopt_quant.py and moe_runner/runner.py).
#include "tools/diff/releases.h"

#include <fstream>
#include <iterator>

#include "tools/test/diff_test_util.h"

namespace nvfp4::diff_test {
namespace {
using diff::Engine;
using diff::MoeBackend;
using diff::Support;

TEST(Releases, EveryKnownReleaseAndBackendHasOneRow) {
  for (Engine e : {Engine::Sglang, Engine::Vllm})
    for (const auto& v : diff::known_releases(e))
      for (std::optional<MoeBackend> b : {std::optional<MoeBackend>{}, std::optional(MoeBackend::Cutlass),
                                          std::optional(MoeBackend::FlashinferCutlass), std::optional(MoeBackend::Trtllm)}) {
        const auto& r = diff::release_rule(e, v, b);
        if (r.support != Support::Decoded) {
          EXPECT_FALSE(r.why.empty()) << v;
        }
        if (r.support == Support::Refused) {
          EXPECT_FALSE(r.cite.empty()) << v;
        }
      }
  EXPECT_EQ(diff::newest_release(Engine::Sglang), "0.5.23");
  EXPECT_EQ(diff::newest_release(Engine::Vllm), "0.33.0");
  EXPECT_EQ(diff::known_releases(Engine::Sglang).size(), 17u);
  EXPECT_EQ(diff::known_releases(Engine::Vllm).size(), 20u);
}

// sglang's plain cutlass MoE runner, release by release, as the wheels have it: served by
// cutlass_moe_fp4 in 0.5.10.post1 (create_moe_runner builds a runner only for trtllm) and 0.5.15
// ("The plain CUTLASS backend uses the direct cutlass_moe_fp4 fused path"), and decoded there;
// refused by MoeRunner in 0.5.11-0.5.14 and by create_moe_runner from 0.5.16. A compressed-tensors
// checkpoint takes the scheme's non-trtllm path on cutlass in every release.
TEST(Releases, SglangPlainCutlassRunnerPerRelease) {
  const std::map<std::string, Support> want = {
      {"0.5.10.post1", Support::Decoded}, {"0.5.11", Support::Refused},       {"0.5.12", Support::Refused},
      {"0.5.12.post1", Support::Refused}, {"0.5.13", Support::Refused},       {"0.5.13.post1", Support::Refused},
      {"0.5.14", Support::Refused},       {"0.5.15", Support::Decoded},       {"0.5.15.post1", Support::Decoded},
      {"0.5.16", Support::Refused},       {"0.5.17", Support::Refused},       {"0.5.18", Support::Refused},
      {"0.5.19", Support::Refused},       {"0.5.20", Support::Refused},       {"0.5.21", Support::Refused},
      {"0.5.22", Support::Refused},       {"0.5.23", Support::Refused}};
  ASSERT_EQ(want.size(), diff::known_releases(Engine::Sglang).size());
  for (const auto& [v, s] : want) {
    EXPECT_EQ(diff::release_rule(Engine::Sglang, v, MoeBackend::Cutlass).support, s) << v;
    EXPECT_EQ(diff::release_rule(Engine::Sglang, v, MoeBackend::Cutlass, CkptFormat::CompressedTensors).support, Support::Decoded) << v;
  }
  for (const auto& v : diff::known_releases(Engine::Vllm))
    EXPECT_NE(diff::release_rule(Engine::Vllm, v, MoeBackend::Cutlass).support, Support::Refused) << "vLLM " << v << " runs cutlass";
}

TEST(Releases, CutlassRefusedWithTheReleasesOwnReason) {
  const std::string ck = kData + "/moe", dump = kData + "/moe.sglang.flashinfer_cutlass.safetensors";
  CliRun r = nvfp4({"diff", ck, dump, "--backend", "cutlass"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("sglang 0.5.23 refuses moe_runner_backend=cutlass for NVFP4 experts: NotImplementedError(\"moe_runner_backend=cutlass "
                       "is not supported for NVFP4 MoE."),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(":3144-3148@0.5.23"), std::string::npos) << r.err;
  r = nvfp4({"diff", ck, dump, "--backend", "cutlass", "--engine", "sglang==0.5.11"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("sglang 0.5.11 refuses moe_runner_backend=cutlass for NVFP4 experts: create_moe_runner"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Unsupported runner backend"), std::string::npos) << r.err;
  // A usage error: the reason on the first line, then the command's usage.
  EXPECT_NE(r.err.substr(0, r.err.find('\n')).find("Unsupported runner backend"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: nvfp4 diff"), std::string::npos) << r.err;
  // 0.5.15 serves it: decoded, and this flashinfer_cutlass dump ([w3; w1]) is not its [w1; w3].
  r = nvfp4({"diff", ck, dump, "--backend", "cutlass", "--engine", "sglang==0.5.15"});
  EXPECT_EQ(r.code, 1) << r.err;
}

// Compressed-tensors on cutlass is never refused: the scheme's non-trtllm path, the FlashInfer
// CUTLASS runner's [w3; w1] from 0.5.17, so 0.5.23's flashinfer_cutlass dump holds read as
// 0.5.20's cutlass and fails read as 0.5.12's ([w1; w3] there).
TEST(Releases, CompressedTensorsOnCutlassDecodes) {
  const std::string ck = kData + "/ct_moe", dump = kData + "/ct_moe.sglang.flashinfer_cutlass.safetensors";
  CliRun r = nvfp4({"diff", ck, dump, "--backend", "cutlass", "--engine", "sglang==0.5.20"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  r = nvfp4({"diff", ck, dump, "--backend", "cutlass", "--engine", "sglang==0.5.12"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
}

// Every sglang release decodes linear modules and experts on both FlashInfer backends, both formats.
TEST(Releases, EverySglangReleaseDecoded) {
  for (const auto& v : diff::known_releases(Engine::Sglang))
    for (CkptFormat f : {CkptFormat::ModelOpt, CkptFormat::CompressedTensors})
      for (std::optional<MoeBackend> b : {std::optional<MoeBackend>{}, std::optional(MoeBackend::FlashinferCutlass), std::optional(MoeBackend::Trtllm)})
        EXPECT_EQ(diff::release_rule(Engine::Sglang, v, b, f).support, Support::Decoded) << v << " " << format_name(f);
}

TEST(Releases, TheReleaseFromTheFlagTheMetadataOrTheNewest) {
  const std::string ck = kData + "/dense", dump = kData + "/dense.sglang.safetensors";
  nlohmann::json j = diff_json(ck, dump, 0);
  EXPECT_EQ(j.at("engine_version"), "0.5.23");
  EXPECT_EQ(j.at("engine_version_from"), "the newest known; neither --engine nor the dump's metadata names one");
  CliRun r = nvfp4({"diff", ck, dump, "--engine", "sglang==0.5.23", "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("engine_version_from"), "--engine");
  r = nvfp4({"diff", ck, dump});
  EXPECT_NE(r.out.find("engine sglang 0.5.23 (engine from the dump's metadata; release from the newest known"), std::string::npos) << r.out;

  TempDir dir;
  auto with_version = [&](const std::string& v) {
    auto meta = SafetensorsFile::open(dump).metadata();
    meta["engine_version"] = v;
    return planted(dir, "dense.sglang.safetensors", [](auto&) {}, meta);
  };
  r = nvfp4({"diff", ck, with_version("0.5.23"), "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("engine_version_from"), "the dump's metadata");
  // 0.5.11 keeps the raw loaded weight_scale where 0.5.23's dump holds the swizzle: the metadata's
  // release decodes (and fails it), the flag's wins over it.
  r = nvfp4({"diff", ck, with_version("0.5.11"), "--json"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("engine_version"), "0.5.11");
  r = nvfp4({"diff", ck, with_version("0.5.11"), "--engine", "sglang==0.5.23"});
  EXPECT_EQ(r.code, 0) << "the flag's release over the metadata's: " << r.err;
  r = nvfp4({"diff", ck, with_version("0.5.23+cu129"), "--json"});
  EXPECT_EQ(r.code, 0) << "a local build label is the same release: " << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("engine_version"), "0.5.23");
  r = nvfp4({"diff", ck, with_version("0.5.23rc1")});
  EXPECT_EQ(r.code, 2) << "a pre-release is not the release";
  r = nvfp4({"diff", ck, with_version("9.9.9")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("the dump's metadata says sglang 9.9.9, a release diff does not know"), std::string::npos) << r.err;
}

TEST(Releases, UnknownOrUndecodedReleasesStop) {
  const std::string ck = kData + "/dense";
  // Every vLLM release is decoded: 0.19.1's linear rows read 0.33.0's dump of an unfused checkpoint alike.
  CliRun r = nvfp4({"diff", ck, kData + "/dense.vllm.safetensors", "--engine", "vllm==0.19.1"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = nvfp4({"diff", ck, kData + "/dense.sglang.safetensors", "--engine", "sglang==0.6.0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("sglang \"0.6.0\" is not a release diff knows (0.5.10.post1, 0.5.11,"), std::string::npos) << r.err;
  r = nvfp4({"diff", ck, kData + "/dense.sglang.safetensors", "--engine", "trt==1.0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("expected sglang or vllm, optionally ==VERSION"), std::string::npos) << r.err;
  r = nvfp4({"diff", ck, kData + "/dense.sglang.safetensors", "--engine", "vllm==0.33.0"});
  EXPECT_EQ(r.code, 2) << "the flag's engine against the metadata's";
}

// README.md's list of what diff decodes is the tables' own (diff::support_table_markdown), between
// its two markers: a row added to a table without the README fails here, with the text to paste.
TEST(Releases, ReadmeListsWhatTheTablesDecode) {
  std::ifstream in(kData + "/../../../README.md");
  ASSERT_TRUE(in) << "README.md";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- diff-releases: generated by diff::support_table_markdown -->\n", end = "<!-- diff-releases end -->";
  const auto b = text.find(begin), e = text.find(end);
  ASSERT_TRUE(b != std::string::npos && e != std::string::npos && b < e) << "README.md has no diff-releases markers";
  EXPECT_EQ(text.substr(b + begin.size(), e - b - begin.size()), diff::support_table_markdown())
      << "README.md's diff-releases table is stale; between the markers it should read:\n"
      << diff::support_table_markdown();
}

}  // namespace
}  // namespace nvfp4::diff_test

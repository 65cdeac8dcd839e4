// vLLM's conventions table (tools/diff/conventions_vllm.cpp) release by release: every release
// 0.19.1..0.33.0 resolves, for both checkpoint formats and every MoE backend, to a linear row and
// an experts row, and each row holds the facts docs/engine-releases.md (section "vLLM") read off
// that release's wheel. The expectations are written out here from that table, not from the rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

#include "tools/diff/releases.h"

namespace nvfp4::diff {
namespace {

std::ptrdiff_t pos(const std::string& v) {
  const auto& k = known_releases(Engine::Vllm);
  return std::find(k.begin(), k.end(), v) - k.begin();
}
bool from(const std::string& v, const std::string& first) { return pos(v) >= pos(first); }

// flashinfer_trtllm's padding per release: H multiple, I multiple, I padded per half or at the tail.
struct TrtllmPad {
  std::int64_t h, i;
  IntermediatePad pad;
};
TrtllmPad trtllm_pad(const std::string& v) {
  if (v == "0.19.1") return {1, 16, IntermediatePad::Tail};           // FFM:251@0.19.1: no H pad
  if (!from(v, "0.26.0")) return {256, 16, IntermediatePad::Tail};    // 0.20.0-0.25.1
  if (!from(v, "0.29.0")) return {256, 64, IntermediatePad::Tail};    // 0.26.0-0.28.0
  return {256, 64, IntermediatePad::PerHalf};                         // 0.29.0-0.33.0
}

bool has_scalar(const ExpertsConvention& r, const std::string& name) {
  return std::any_of(r.scalars.begin(), r.scalars.end(), [&](const ExpertsScalar& s) { return s.name == name; });
}

TEST(VllmReleases, EveryReleaseFormatAndBackendIsDecoded) {
  ASSERT_EQ(known_releases(Engine::Vllm).size(), 20u);
  for (const auto& v : known_releases(Engine::Vllm))
    for (CkptFormat f : {CkptFormat::ModelOpt, CkptFormat::CompressedTensors})
      for (std::optional<MoeBackend> b : {std::optional<MoeBackend>{}, std::optional(MoeBackend::Cutlass),
                                          std::optional(MoeBackend::FlashinferCutlass), std::optional(MoeBackend::Trtllm)}) {
        SCOPED_TRACE(v + " " + format_name(f) + " " + (b ? moe_backend_name(*b) : "no experts"));
        const Resolution r = resolve(Engine::Vllm, v, f, b);
        EXPECT_EQ(r.support(), Support::Decoded);
        ASSERT_NE(r.linear, nullptr);
        EXPECT_EQ(r.linear->format, f);
        // Fused-on-disk per-tensor scales: slot 0 only in 0.19.1 (linear.py:912-915,1124-1129@0.19.1).
        EXPECT_EQ(r.linear->fused_scales, v == "0.19.1" ? FusedScales::SlotZeroOnly : FusedScales::EverySlot);
        EXPECT_EQ(r.linear->weight, "weight");
        EXPECT_EQ(r.linear->weight_align, 32);
        if (!b) continue;
        ASSERT_NE(r.experts, nullptr);
        const ExpertsConvention& x = *r.experts;
        EXPECT_EQ(x.backend, *b);
        EXPECT_EQ(x.format, f);
        EXPECT_EQ(x.prefix, from(v, "0.24.0") ? "routed_experts." : "");
        EXPECT_EQ(x.order, b == MoeBackend::Cutlass ? W13Order::GateFirst : W13Order::UpFirst);
        EXPECT_EQ(x.activation, b == MoeBackend::Cutlass ? ActivationScale::PerExpert : ActivationScale::OverEveryExpert);
        const TrtllmPad p = b == MoeBackend::Trtllm ? trtllm_pad(v) : TrtllmPad{1, 1, IntermediatePad::PerHalf};
        EXPECT_EQ(x.hidden_align, p.h);
        EXPECT_EQ(x.intermediate_align, p.i);
        EXPECT_EQ(x.intermediate_pad, p.pad);
        EXPECT_EQ(x.shuffle, b == MoeBackend::Trtllm ? ExpertsLayout::FlashinferTrtllm : ExpertsLayout::Swizzle128x4);
        // Compressed-tensors' fused alphas: plain attributes (in no dump) up to 0.27.1, Parameters from 0.28.0.
        const bool alphas = f == CkptFormat::ModelOpt || from(v, "0.28.0");
        EXPECT_EQ(has_scalar(x, "w13_weight_scale_2"), alphas);
        EXPECT_EQ(has_scalar(x, "w2_weight_scale_2"), alphas);
        EXPECT_EQ(has_scalar(x, "g1_scale_c"), b == MoeBackend::Trtllm);
        EXPECT_TRUE(x.placeholders.empty());
      }
}

// The rows merge the releases that share them: one linear row per format before and after the
// fused-scales fix, and per format and backend as many experts rows as the facts above change.
TEST(VllmReleases, RowsSpanTheRangesTheFactsHold) {
  const EngineConventions& t = conventions(Engine::Vllm);
  EXPECT_TRUE(t.answers.empty());
  std::map<std::pair<CkptFormat, MoeBackend>, std::vector<std::string>> firsts;
  for (const auto& r : t.experts) firsts[{r.format, r.backend}].push_back(r.releases.first + "-" + r.releases.last);
  using V = std::vector<std::string>;
  const V by_prefix = {"0.19.1-0.23.0", "0.24.0-0.33.0"};
  const V trtllm = {"0.19.1-0.19.1", "0.20.0-0.23.0", "0.24.0-0.25.1", "0.26.0-0.28.0", "0.29.0-0.33.0"};
  EXPECT_EQ((firsts[{CkptFormat::ModelOpt, MoeBackend::Cutlass}]), by_prefix);
  EXPECT_EQ((firsts[{CkptFormat::ModelOpt, MoeBackend::FlashinferCutlass}]), by_prefix);
  EXPECT_EQ((firsts[{CkptFormat::ModelOpt, MoeBackend::Trtllm}]), trtllm);
  const V ct = {"0.19.1-0.23.0", "0.24.0-0.27.1", "0.28.0-0.33.0"};
  EXPECT_EQ((firsts[{CkptFormat::CompressedTensors, MoeBackend::Cutlass}]), ct);
  EXPECT_EQ((firsts[{CkptFormat::CompressedTensors, MoeBackend::FlashinferCutlass}]), ct);
  EXPECT_EQ((firsts[{CkptFormat::CompressedTensors, MoeBackend::Trtllm}]),
            (V{"0.19.1-0.19.1", "0.20.0-0.23.0", "0.24.0-0.25.1", "0.26.0-0.27.1", "0.28.0-0.28.0", "0.29.0-0.33.0"}));
  for (const auto& r : t.experts) EXPECT_NE(r.cite.find("@0."), std::string::npos) << r.releases.first;
}

}  // namespace
}  // namespace nvfp4::diff

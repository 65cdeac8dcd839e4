// The conventions tables (tools/diff/conventions_*.cpp) as data: every (release, checkpoint format,
// experts backend) the CLI accepts resolves to exactly one row per module kind or to one answer,
// the answers are the ones the releases' code gives (diff_releases_test.cpp holds their text), and
// every row is reachable. The expected answers are written out here, release by release.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>

#include "tools/diff/releases.h"

namespace nvfp4::diff {
namespace {

const std::vector<std::optional<MoeBackend>> kBackends = {std::nullopt, MoeBackend::Cutlass, MoeBackend::FlashinferCutlass, MoeBackend::Trtllm};
const std::vector<CkptFormat> kFormats = {CkptFormat::ModelOpt, CkptFormat::CompressedTensors};

std::ptrdiff_t pos(Engine e, const std::string& v) {
  const auto& k = known_releases(e);
  return std::find(k.begin(), k.end(), v) - k.begin();
}
bool covers(Engine e, const std::string& first, const std::string& last, const std::string& v) { return pos(e, first) <= pos(e, v) && pos(e, v) <= pos(e, last); }

// What diff does, per release: every sglang release decoded, but the plain cutlass experts runner
// on a ModelOpt checkpoint where the release refuses it (modelopt_quant.py, moe_runner/runner.py:
// served in 0.5.10.post1 and 0.5.15-0.5.15.post1; compressed-tensors takes its non-trtllm path on
// cutlass in every release); every vLLM release decoded.
Support expected(Engine e, const std::string& v, CkptFormat f, std::optional<MoeBackend> b) {
  if (e == Engine::Sglang) {
    const bool served = v == "0.5.10.post1" || v == "0.5.15" || v == "0.5.15.post1";
    return b == MoeBackend::Cutlass && f == CkptFormat::ModelOpt && !served ? Support::Refused : Support::Decoded;
  }
  return Support::Decoded;  // every known vLLM release (diff_vllm_releases_test.cpp)
}

bool serves(const ExpertsConvention& r, MoeBackend b) { return r.backend == b || std::find(r.also.begin(), r.also.end(), b) != r.also.end(); }
bool answers_for(const ReleaseRule& a, CkptFormat f) { return !a.format || *a.format == f; }

TEST(Conventions, EveryReleaseFormatAndBackendResolvesOnce) {
  for (Engine e : {Engine::Sglang, Engine::Vllm}) {
    const EngineConventions& t = conventions(e);
    for (const auto& v : known_releases(e))
      for (CkptFormat f : kFormats)
        for (auto b : kBackends) {
          SCOPED_TRACE(engine_name(e) + " " + v + " " + format_name(f) + " " + (b ? moe_backend_name(*b) : "no experts"));
          const auto linear = std::count_if(t.linear.begin(), t.linear.end(),
                                            [&](const auto& r) { return r.format == f && covers(e, r.releases.first, r.releases.last, v); });
          const auto experts = std::count_if(t.experts.begin(), t.experts.end(), [&](const auto& r) {
            return b && r.format == f && serves(r, *b) && covers(e, r.releases.first, r.releases.last, v);
          });
          const auto by_backend = std::count_if(t.answers.begin(), t.answers.end(),
                                                [&](const auto& a) { return a.backend && a.backend == b && answers_for(a, f) && covers(e, a.first, a.last, v); });
          const auto release_wide =
              std::count_if(t.answers.begin(), t.answers.end(), [&](const auto& a) { return !a.backend && answers_for(a, f) && covers(e, a.first, a.last, v); });
          EXPECT_LE(linear, 1);
          EXPECT_LE(experts, 1);
          EXPECT_LE(by_backend, 1);
          EXPECT_LE(release_wide, 1);
          EXPECT_FALSE(by_backend && experts) << "an experts row the backend's answer hides";
          const Resolution r = resolve(e, v, f, b);
          EXPECT_EQ(r.support(), expected(e, v, f, b));
          EXPECT_EQ(!r.answer, r.linear && (r.experts != nullptr) == b.has_value()) << "one answer, or a row per module kind";
          EXPECT_EQ(release_rule(e, v, b, f).support, r.support());
        }
  }
}

TEST(Conventions, EveryRowAndAnswerIsReachable) {
  for (Engine e : {Engine::Sglang, Engine::Vllm}) {
    std::set<const void*> reached;
    for (const auto& v : known_releases(e))
      for (CkptFormat f : kFormats)
        for (auto b : kBackends) {
          const Resolution r = resolve(e, v, f, b);
          reached.insert({r.answer, r.linear, r.experts});
        }
    const EngineConventions& t = conventions(e);
    for (const auto& r : t.linear) EXPECT_TRUE(reached.count(&r)) << engine_name(e) << " linear " << r.releases.first << " " << format_name(r.format);
    for (const auto& r : t.experts)
      EXPECT_TRUE(reached.count(&r)) << engine_name(e) << " experts " << r.releases.first << " " << format_name(r.format) << " " << moe_backend_name(r.backend);
    for (const auto& a : t.answers) EXPECT_TRUE(reached.count(&a)) << engine_name(e) << " answer " << a.first << "-" << a.last;
  }
}

bool encode(LinearQuantity q) { return q >= LinearQuantity::MaxWeightEnc; }
bool encode(ExpertsQuantity q) { return q >= ExpertsQuantity::InvGateEnc; }

// Each row names its engine and a known release range, cites its source, reads the scales of its
// own format, and checks the bytes of every tensor its semantic checks read.
TEST(Conventions, RowsAreWellFormed) {
  for (Engine e : {Engine::Sglang, Engine::Vllm}) {
    const EngineConventions& t = conventions(e);
    auto known = [&](const ReleaseRange& r) { return pos(e, r.first) <= pos(e, r.last) && pos(e, r.last) < static_cast<std::ptrdiff_t>(known_releases(e).size()); };
    for (const auto& r : t.linear) {
      SCOPED_TRACE(engine_name(e) + " linear " + r.releases.first + " " + format_name(r.format));
      EXPECT_EQ(r.engine, e);
      EXPECT_TRUE(known(r.releases));
      EXPECT_FALSE(r.cite.empty());
      EXPECT_EQ(r.loaded == LoadedScales::None, r.loaded_scales.empty());
      for (const auto& s : r.scalars) EXPECT_EQ(encode(s.quantity), r.format == CkptFormat::CompressedTensors) << s.name;
    }
    for (const auto& r : t.experts) {
      SCOPED_TRACE(engine_name(e) + " experts " + r.releases.first + " " + format_name(r.format) + " " + moe_backend_name(r.backend));
      EXPECT_EQ(r.engine, e);
      EXPECT_TRUE(known(r.releases));
      EXPECT_FALSE(r.cite.empty());
      for (const std::string& n : {r.w13, r.w2, r.swz13, r.swz2})
        EXPECT_TRUE(std::any_of(r.layout.begin(), r.layout.end(), [&](const LayoutName& l) { return l.dump == n; })) << n;
      for (const auto& s : r.scalars) EXPECT_EQ(encode(s.quantity), r.format == CkptFormat::CompressedTensors) << s.name;
    }
    for (const auto& a : t.answers) {
      EXPECT_TRUE(known({a.first, a.last})) << a.first;
      EXPECT_NE(a.support, Support::Decoded) << "decoded releases are the rows'";
      EXPECT_FALSE(a.why.empty());
      if (a.support == Support::Refused) {
        EXPECT_TRUE(a.backend && !a.cite.empty());
      }
    }
  }
}

}  // namespace
}  // namespace nvfp4::diff

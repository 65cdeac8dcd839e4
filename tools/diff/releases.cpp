#include "tools/diff/releases.h"

#include <algorithm>
#include <stdexcept>

#include "core/error.h"
#include "core/printable.h"

namespace nvfp4::diff {

namespace {

// Every release on PyPI in the range (docs/engine-releases.md, "Every release on PyPI in the
// ranges was read").
const std::vector<std::string> kSglang = {"0.5.10.post1", "0.5.11", "0.5.12", "0.5.12.post1", "0.5.13", "0.5.13.post1",
                                          "0.5.14",       "0.5.15", "0.5.15.post1", "0.5.16", "0.5.17", "0.5.18",
                                          "0.5.19",       "0.5.20", "0.5.21", "0.5.22", "0.5.23"};
const std::vector<std::string> kVllm = {"0.19.1", "0.20.0", "0.20.1", "0.20.2", "0.21.0", "0.22.0", "0.22.1",
                                        "0.23.0", "0.24.0", "0.25.0", "0.25.1", "0.26.0", "0.27.0", "0.27.1",
                                        "0.28.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0", "0.33.0"};

std::string list(const std::vector<std::string>& v) {
  std::string r;
  for (const auto& s : v) r += (r.empty() ? "" : ", ") + s;
  return r;
}

std::ptrdiff_t position(Engine e, const std::string& v) {
  const auto& k = known_releases(e);
  return std::find(k.begin(), k.end(), v) - k.begin();
}

const std::string kCutlassPlain =
    "serves NVFP4 experts with its plain CUTLASS runner (cutlass_moe_fp4, CutlassMoEType.BlockscaledFP4: w13 rows [w1; w3], "
    "per-expert activation scales), whose layout diff does not decode yet";

// The rows, most specific first within an engine: a backend's rows, then the release-wide ones.
const std::vector<ReleaseRule> kRules = {
    // sglang's plain cutlass MoE runner: served, refused, served again, refused for good.
    {Engine::Sglang, "0.5.10.post1", "0.5.10.post1", MoeBackend::Cutlass, Support::NotDecoded, kCutlassPlain,
     "srt/layers/quantization/modelopt_quant.py:1880-1906,2017@0.5.10.post1"},
    {Engine::Sglang, "0.5.11", "0.5.14", MoeBackend::Cutlass, Support::Refused,
     "create_moe_runner hands every backend but flashinfer_cutlass to MoeRunner, which raises "
     "NotImplementedError(\"Unsupported runner backend: cutlass\")",
     "srt/layers/moe/moe_runner/runner.py:66@0.5.11 · :67@0.5.14"},
    {Engine::Sglang, "0.5.15", "0.5.15.post1", MoeBackend::Cutlass, Support::NotDecoded, kCutlassPlain,
     "srt/layers/quantization/modelopt_quant.py:2462-2466@0.5.15; srt/layers/moe/moe_runner/runner.py:68@0.5.15"},
    {Engine::Sglang, "0.5.16", "0.5.23", MoeBackend::Cutlass, Support::Refused,
     "NotImplementedError(\"moe_runner_backend=cutlass is not supported for NVFP4 MoE. Use --moe-runner-backend "
     "flashinfer_cutlass instead.\")",
     "srt/layers/quantization/modelopt_quant.py:2452-2456@0.5.16 · :3144-3148@0.5.23"},
    // The conventions diff decodes: read off these releases' code and confirmed on dumps their own
    // code wrote (tools/engine_dumps/).
    {Engine::Sglang, "0.5.23", "0.5.23", std::nullopt, Support::Decoded, "", ""},
    {Engine::Sglang, "0.5.10.post1", "0.5.22", std::nullopt, Support::NotDecoded,
     "holds names, aliases, padding or scalars that differ from 0.5.23's in ways diff does not decode yet "
     "(docs/engine-releases.md, the sglang tables)",
     ""},
    {Engine::Vllm, "0.33.0", "0.33.0", std::nullopt, Support::Decoded, "", ""},
    {Engine::Vllm, "0.19.1", "0.32.0", std::nullopt, Support::NotDecoded,
     "holds names, prefixes, padding or scalars that differ from 0.33.0's in ways diff does not decode yet "
     "(docs/engine-releases.md, the vLLM tables)",
     ""},
};

}  // namespace

const std::vector<std::string>& known_releases(Engine e) { return e == Engine::Sglang ? kSglang : kVllm; }

const std::string& newest_release(Engine e) { return known_releases(e).back(); }

std::pair<Engine, std::string> parse_engine_spec(const std::string& spec) {
  const auto eq = spec.find("==");
  const std::string name = spec.substr(0, eq), version = eq == std::string::npos ? "" : spec.substr(eq + 2);
  if (name != "sglang" && name != "vllm")
    throw Error(ErrorKind::Usage, "", "", "\"" + printable_short(spec, 60) + "\" is not an engine: expected sglang or vllm, optionally ==VERSION");
  const Engine e = name == "sglang" ? Engine::Sglang : Engine::Vllm;
  if (eq != std::string::npos && position(e, version) == static_cast<std::ptrdiff_t>(known_releases(e).size()))
    throw Error(ErrorKind::Usage, "", "",
                name + " \"" + printable_short(version, 40) + "\" is not a release diff knows (" + list(known_releases(e)) + ")");
  return {e, version};
}

const ReleaseRule& release_rule(Engine e, const std::string& version, std::optional<MoeBackend> backend) {
  const std::ptrdiff_t at = position(e, version);
  for (const auto& r : kRules)
    if (r.engine == e && position(e, r.first) <= at && at <= position(e, r.last) && (!r.backend || r.backend == backend)) return r;
  throw std::logic_error("no release row for " + engine_name(e) + " " + version);
}

const std::vector<ReleaseRule>& release_rules() { return kRules; }

}  // namespace nvfp4::diff

#include "tools/diff/releases.h"

#include <algorithm>
#include <stdexcept>

#include "core/error.h"
#include "core/printable.h"

namespace nvfp4::diff {

namespace {

std::string list(const std::vector<std::string>& v) {
  std::string r;
  for (const auto& s : v) r += (r.empty() ? "" : ", ") + s;
  return r;
}

std::ptrdiff_t position(Engine e, const std::string& v) {
  const auto& k = known_releases(e);
  return std::find(k.begin(), k.end(), v) - k.begin();
}

bool covers(Engine e, const std::string& first, const std::string& last, const std::string& version) {
  const std::ptrdiff_t at = position(e, version);
  return position(e, first) <= at && at <= position(e, last);
}

template <class Row, class Pred>
const Row* first_of(const std::vector<Row>& rows, Pred pred) {
  auto it = std::find_if(rows.begin(), rows.end(), pred);
  return it == rows.end() ? nullptr : &*it;
}

}  // namespace

std::string moe_backend_name(MoeBackend b) {
  return b == MoeBackend::Trtllm ? "flashinfer_trtllm" : b == MoeBackend::FlashinferCutlass ? "flashinfer_cutlass" : "cutlass";
}

const EngineConventions& conventions(Engine e) { return e == Engine::Sglang ? sglang_conventions() : vllm_conventions(); }

const std::vector<std::string>& known_releases(Engine e) { return conventions(e).releases; }

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

Resolution resolve(Engine e, const std::string& version, CkptFormat f, std::optional<MoeBackend> backend) {
  const EngineConventions& t = conventions(e);
  auto in = [&](const std::string& first, const std::string& last) { return covers(e, first, last, version); };
  Resolution r;
  r.answer = first_of(t.answers, [&](const ReleaseRule& a) {
    return a.backend && a.backend == backend && (!a.format || *a.format == f) && in(a.first, a.last);
  });
  if (r.answer) return r;
  r.linear = first_of(t.linear, [&](const LinearConvention& l) { return l.format == f && in(l.releases.first, l.releases.last); });
  auto serves = [&](const ExpertsConvention& x) {
    return x.backend == *backend || std::find(x.also.begin(), x.also.end(), *backend) != x.also.end();
  };
  if (backend)
    r.experts = first_of(t.experts, [&](const ExpertsConvention& x) { return x.format == f && serves(x) && in(x.releases.first, x.releases.last); });
  if (r.linear && (r.experts || !backend)) return r;
  r = {};
  r.answer = first_of(t.answers, [&](const ReleaseRule& a) { return !a.backend && (!a.format || *a.format == f) && in(a.first, a.last); });
  if (r.answer) return r;
  throw std::logic_error("no conventions row or answer for " + engine_name(e) + " " + version + " " + format_name(f) +
                         (backend ? " " + moe_backend_name(*backend) : ""));
}

ReleaseRule release_rule(Engine e, const std::string& version, std::optional<MoeBackend> backend, CkptFormat f) {
  const Resolution r = resolve(e, version, f, backend);
  if (r.answer) return *r.answer;
  const auto& k = known_releases(e);
  std::ptrdiff_t first = position(e, r.linear->releases.first), last = position(e, r.linear->releases.last);
  if (r.experts) {
    first = std::max(first, position(e, r.experts->releases.first));
    last = std::min(last, position(e, r.experts->releases.last));
  }
  return {e, k[static_cast<std::size_t>(first)], k[static_cast<std::size_t>(last)], backend, Support::Decoded, "",
          r.experts ? r.linear->cite + "; " + r.experts->cite : r.linear->cite};
}

namespace {

// "decoded", "refused: WHY" or "not decoded yet" for one release, format and module kind.
std::string answer_text(Engine e, const std::string& v, CkptFormat f, std::optional<MoeBackend> b) {
  const Resolution r = resolve(e, v, f, b);
  if (!r.answer) return "decoded";
  return r.answer->support == Support::Refused ? "refused: " + r.answer->why : "not decoded yet";
}

}  // namespace

std::string support_table_markdown() {
  std::string out = "| engine | releases | checkpoint | modules | diff |\n|---|---|---|---|---|\n";
  for (Engine e : {Engine::Sglang, Engine::Vllm}) {
    const auto& k = known_releases(e);
    for (CkptFormat f : {CkptFormat::ModelOpt, CkptFormat::CompressedTensors})
      for (std::optional<MoeBackend> b : {std::optional<MoeBackend>{}, std::optional(MoeBackend::Trtllm), std::optional(MoeBackend::FlashinferCutlass),
                                          std::optional(MoeBackend::Cutlass)})
        for (std::size_t i = 0; i < k.size();) {
          const std::string text = answer_text(e, k[i], f, b);
          std::size_t j = i;
          while (j + 1 < k.size() && answer_text(e, k[j + 1], f, b) == text) ++j;
          out += "| " + engine_name(e) + " | " + (i == j ? k[i] : k[i] + " to " + k[j]) + " | " + format_name(f) + " | " +
                 (b ? "experts on " + moe_backend_name(*b) : std::string("linear")) + " | " + text + " |\n";
          i = j + 1;
        }
  }
  return out;
}

}  // namespace nvfp4::diff

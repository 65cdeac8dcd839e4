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
  r.answer = first_of(t.answers, [&](const ReleaseRule& a) { return a.backend && a.backend == backend && in(a.first, a.last); });
  if (r.answer) return r;
  r.linear = first_of(t.linear, [&](const LinearConvention& l) { return l.format == f && in(l.releases.first, l.releases.last); });
  if (backend)
    r.experts = first_of(t.experts, [&](const ExpertsConvention& x) { return x.format == f && x.backend == *backend && in(x.releases.first, x.releases.last); });
  if (r.linear && (r.experts || !backend)) return r;
  r = {};
  r.answer = first_of(t.answers, [&](const ReleaseRule& a) { return !a.backend && in(a.first, a.last); });
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

}  // namespace nvfp4::diff

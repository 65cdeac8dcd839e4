#include "tools/diff/diff_run.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/module_map.h"
#include "core/printable.h"
#include "tools/diff/experts_diff.h"
#include "tools/diff/linear_diff.h"
#include "tools/diff/releases.h"

namespace nvfp4::diff {

namespace {
// The experts' backend: --backend, else the dump's metadata, else a name only trtllm's
// post-processing creates (g1_scale_c).
MoeBackend resolve_moe_backend(const EngineDump& d, const std::string& flag, std::string* how) {
  auto parse = [&](const std::string& v, const std::string& from) {
    if (v == "trtllm" || v == "flashinfer_trtllm") return MoeBackend::Trtllm;
    if (v == "flashinfer_cutlass") return MoeBackend::FlashinferCutlass;
    if (v == "cutlass") return MoeBackend::Cutlass;
    throw Error(ErrorKind::Usage, d.label(), "", from + " \"" + printable_short(v, 40) + "\" is not an experts backend (cutlass, flashinfer_cutlass, trtllm)");
  };
  if (!flag.empty()) return *how = "--backend", parse(flag, "--backend");
  if (auto it = d.metadata().find("backend"); it != d.metadata().end()) return *how = "the dump's metadata", parse(it->second, "metadata backend");
  for (const auto& n : d.names())
    if (n.size() > 11 && n.compare(n.size() - 11, 11, ".g1_scale_c") == 0) return *how = "its parameter names", MoeBackend::Trtllm;
  throw Error(ErrorKind::Usage, d.label(), "", "cannot tell the experts' backend; pass --backend cutlass, flashinfer_cutlass or trtllm");
}

// The release: --engine's ==VERSION, else the dump's metadata engine_version, else the newest.
std::string resolve_version(const EngineDump& d, Engine e, const std::string& flag_version, std::string* how) {
  if (!flag_version.empty()) return *how = "--engine", flag_version;
  if (auto it = d.metadata().find("engine_version"); it != d.metadata().end()) {
    const auto& k = known_releases(e);
    // A PEP 440 local label (0.33.0+cu129: the same release built for another CUDA) is not a release.
    const std::string public_version = it->second.substr(0, it->second.find('+'));
    if (std::find(k.begin(), k.end(), public_version) != k.end()) return *how = "the dump's metadata", public_version;
    throw Error(ErrorKind::Usage, d.label(), "",
                "the dump's metadata says " + engine_name(e) + " " + printable_short(it->second, 40) +
                    ", a release diff does not know; pass --engine " + engine_name(e) + "==VERSION to read it as a known one");
  }
  return *how = "the newest known; neither --engine nor the dump's metadata names one", newest_release(e);
}

// The conventions rows that decode the dump; stops where the release refuses the backend or its
// conventions are not decoded.
Resolution require_decoded(const EngineDump& d, const DiffRun& r, CkptFormat f) {
  const Resolution res = resolve(r.engine, r.version, f, r.has_experts ? std::optional<MoeBackend>(r.backend) : std::nullopt);
  const std::string release = engine_name(r.engine) + " " + r.version;
  const ReleaseRule* rule = res.answer;
  if (rule && rule->support == Support::Refused)
    throw Error(ErrorKind::Usage, d.label(), "",
                release + " refuses moe_runner_backend=" + moe_backend_name(*rule->backend) + " for NVFP4 experts: " + rule->why + " (" + rule->cite + ")");
  if (rule)
    throw Error(ErrorKind::Usage, d.label(), "",
                release + " " + rule->why + (rule->cite.empty() ? "" : " (" + rule->cite + ")") + "; diff decodes " + engine_name(r.engine) + " " +
                    newest_release(r.engine));
  return res;
}

// Every module through its row, streamed: each module's tensors released once it is done.
void diff_modules(const Checkpoint& c, const EngineDump& d, const std::vector<ModuleUnit>& units, const Resolution& rows, const DiffOptions& o, DiffRun& r) {
  for (const ModuleUnit& u : units) {
    Checkpoint sub = c.subset(u.tensors);
    ModelSpec s = map_modules(sub);
    r.modules.push_back(u.experts ? diff_experts(s.experts.at(0), sub, d, *rows.experts) : diff_linear(s.linears.at(0), sub, d, *rows.linear));
    c.release(u.tensors);
    if (r.modules.back().module == u.name) {
      std::vector<std::string> held;
      for (const auto& p : r.modules.back().params) held.push_back(u.name + "." + p);
      d.release(held);
    }
    if (o.on_module) o.on_module(u.name);
  }
}

// The dump's `aliases` (dump_engine_state.py: a name over the same bytes as an earlier name, which
// it maps to); none where the dump is in memory or the metadata is not a JSON object of strings.
std::map<std::string, std::string> dump_aliases(const EngineDump& d) {
  auto it = d.metadata().find("aliases");
  if (it == d.metadata().end()) return {};
  const nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  std::map<std::string, std::string> r;
  if (j.is_object())
    for (const auto& [k, v] : j.items())
      if (v.is_string()) r.emplace(k, v.get<std::string>());
  return r;
}

// The module a dump name lies under (its longest prefix that is a module), or none.
const std::string* module_of(const std::string& n, const std::map<std::string, std::size_t>& index) {
  for (std::size_t dot = n.rfind('.'); dot != std::string::npos && dot > 0; dot = n.rfind('.', dot - 1))
    if (auto it = index.find(n.substr(0, dot)); it != index.end()) return &it->first;
  return nullptr;
}

// The module a dump tensor no check read counts against, or none (it is reported unread). A second
// name of a tensor that lies under no module is that tensor (same bytes), not data of the module:
// vLLM 0.33.0's MoE runner holds the router it is given (Qwen3MoeSparseMoeBlock passes
// gate=self.gate to FusedMoEFactory, model_executor/models/qwen3_moe.py:203-205@0.33.0), so
// mlp.gate.weight is also mlp.experts.gate.weight.
const std::string* counted_under(const std::string& n, const std::map<std::string, std::size_t>& index,
                                 const std::map<std::string, std::string>& aliases, const EngineDump& d) {
  const std::string* m = module_of(n, index);
  auto a = aliases.find(n);
  if (m && a != aliases.end() && d.has(a->second) && !module_of(a->second, index)) return nullptr;
  return m;
}

// Each tensor no check read (and no placeholder of the row) goes to the module whose name is its
// longest prefix: a module whose tensors sit under names no rule of this engine knows (an older
// release's, another backend's) holds data nothing compared, which is never a pass.
void account(const EngineDump& d, DiffRun& r) {
  std::set<std::string> read;
  std::map<std::string, std::size_t> index;  // module name -> its result
  for (std::size_t i = 0; i < r.modules.size(); ++i) {
    index.emplace(r.modules[i].module, i);
    for (const auto& p : r.modules[i].params) read.insert(r.modules[i].module + "." + p);
    for (const auto& p : r.modules[i].placeholders) read.insert(r.modules[i].module + "." + p);
  }
  const std::map<std::string, std::string> aliases = dump_aliases(d);
  for (const auto& n : d.names()) {
    if (read.count(n)) continue;
    if (const std::string* m = counted_under(n, index, aliases, d)) r.modules[index.at(*m)].unexplained.push_back(n);
    else r.unread.push_back(n);
  }
  for (auto& m : r.modules) {
    if (!m.unexplained.empty()) m.absent = false;
    if (m.absent) continue;
    ++r.present;
    r.unexplained += m.unexplained.size();
    r.failed += !m.ok(Verdict::Semantic) || !m.ok(Verdict::Layout) || (!m.unexplained.empty() && !r.allow_unknown);
  }
}

}  // namespace

DiffRun run_diff(const Checkpoint& c, const EngineDump& d, const DiffOptions& o) {
  DiffRun r;
  r.allow_unknown = o.allow_unknown;
  const auto [flag_engine, flag_version] = o.engine.empty() ? std::pair<Engine, std::string>{} : parse_engine_spec(o.engine);
  r.engine = resolve_engine(d, o.engine.empty() ? "" : engine_name(flag_engine), &r.engine_from);
  r.version = resolve_version(d, r.engine, flag_version, &r.version_from);
  const ModelSpec spec = map_modules(c);
  const std::vector<ModuleUnit> units = module_units(c, spec);
  for (const ModuleUnit& u : units) r.has_experts |= u.experts;
  if (o.on_start) o.on_start(units.size());
  if (r.has_experts) r.backend = resolve_moe_backend(d, o.backend, &r.backend_from);
  const Resolution rows = require_decoded(d, r, c.quant().format);
  diff_modules(c, d, units, rows, o, r);
  account(d, r);
  if (r.present == 0)
    throw Error(ErrorKind::BadInput, d.label(), "",
                "holds none of the " + std::to_string(r.modules.size()) + " quantized modules of " + c.dir().string() + ": not a dump of this checkpoint");
  return r;
}

}  // namespace nvfp4::diff

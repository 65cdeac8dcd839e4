// nvfp4 diff CKPT DUMP: an engine's own post-processed weights against the checkpoint,
// module by module, with a semantic and a layout verdict each (tools/diff/).
#include <iomanip>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/module_map.h"
#include "core/printable.h"
#include "tools/cli/cli.h"
#include "tools/cli/diff_report.h"
#include "tools/cli/progress.h"
#include "tools/cli/report_json.h"
#include "tools/diff/diff_run.h"
#include "tools/diff/releases.h"

namespace nvfp4::cli {

namespace {
using namespace nvfp4::diff;

struct DiffArgs {
  std::string ckpt, dump, engine, backend;
  bool json = false, allow_unknown = false;
};

// A module with tensors in the dump but none under a name a check reads was not compared at all.
bool not_read(const ModuleDiff& m) { return !m.absent && m.params.empty(); }

std::string status(const ModuleDiff& m, Verdict v) {
  if (m.absent) return "-";
  if (not_read(m)) return "not read";
  return m.ok(v) ? "ok" : "FAIL";
}

nlohmann::json to_json(const ModuleDiff& m) {
  nlohmann::json j = {{"module", printable(m.module)}, {"kind", m.kind}, {"in_dump", !m.absent},
                      {"semantic", m.absent ? "absent" : not_read(m) ? "not read" : m.ok(Verdict::Semantic) ? "ok" : "fail"},
                      {"layout", m.absent ? "absent" : not_read(m) ? "not read" : m.ok(Verdict::Layout) ? "ok" : "fail"}};
  j["params"] = nlohmann::json::array();
  for (const auto& p : m.params) j["params"].push_back(printable(p));
  j["unexplained"] = nlohmann::json::array();
  for (const auto& n : m.unexplained) j["unexplained"].push_back(printable(n));
  for (const auto& n : m.placeholders) j["placeholders"].push_back(printable(n));  // only where the release has some
  j["mismatches"] = nlohmann::json::array();
  for (const auto& x : m.mismatches)
    j["mismatches"].push_back({{"param", printable(x.param)}, {"verdict", verdict_name(x.verdict)}, {"index", x.index},
                               {"source", printable(x.source)}, {"expected", x.expected}, {"found", x.found}, {"count", x.count}});
  j["unreconciled"] = nlohmann::json::array();
  for (const auto& u : m.unreconciled)
    j["unreconciled"].push_back({{"shard", printable(u.shard)}, {"source", printable(u.source)}, {"own_scale", u.own},
                                 {"applied_scale", u.applied}, {"factor", u.factor}, {"blocks", u.blocks}});
  return j;
}

}  // namespace

nlohmann::json diff_report_json(const DiffRun& r, const Checkpoint& c, const std::string& dump_label) {
  nlohmann::json j = report_header("diff");
  j["schema_version"] = 2;  // a module whose tensors no check read: "not read" and unexplained (was: absent)
  j["checkpoint"] = printable(c.dir().string());
  j["dump"] = printable(dump_label);
  j["engine"] = engine_name(r.engine);
  j["engine_from"] = r.engine_from;
  j["engine_version"] = r.version;
  j["engine_version_from"] = r.version_from;
  if (r.has_experts) j["experts_backend"] = moe_backend_name(r.backend);
  j["modules"] = nlohmann::json::array();
  for (const auto& m : r.modules) j["modules"].push_back(to_json(m));
  j["not_checked"] = nlohmann::json::array();
  for (const auto& n : r.not_checked) j["not_checked"].push_back(printable(n));
  j["unread"] = nlohmann::json::array();
  for (const auto& n : r.unread) j["unread"].push_back(printable(n));
  j["allow_unknown"] = r.allow_unknown;
  j["unexplained"] = r.unexplained;
  j["modules_failed"] = r.failed;
  j["passed"] = r.failed == 0;
  return j;
}

namespace {

// The header and one line per module.
void print_table(const DiffRun& r, const Checkpoint& c, const EngineDump& d, std::ostream& out) {
  out << "nvfp4 diff " << printable(c.dir().string()) << " " << printable(d.label()) << "\n";
  out << "engine " << engine_name(r.engine) << " " << r.version << " (engine from " << r.engine_from << "; release from " << r.version_from << ")";
  if (r.has_experts) out << ", experts on " << moe_backend_name(r.backend) << " (from " << r.backend_from << ")";
  out << ", " << format_name(c.quant().format) << " checkpoint\n\n";
  std::size_t w = 6;
  for (const auto& m : r.modules) w = std::max(w, printable_short(m.module, 80).size());
  out << std::left << std::setw(static_cast<int>(w) + 2) << "module" << std::setw(9) << "kind" << std::setw(8) << "params" << std::setw(10) << "semantic"
      << "layout\n";
  for (const auto& m : r.modules)
    out << std::setw(static_cast<int>(w) + 2) << printable_short(m.module, 80) << std::setw(9) << m.kind << std::setw(8)
        << (m.absent ? std::string("absent") : std::to_string(m.params.size())) << std::setw(10) << status(m, Verdict::Semantic) << status(m, Verdict::Layout)
        << "\n";
  out << std::right;
}

// What failed: unreconciled shards, the first mismatch of each parameter, unexplained tensors.
void print_findings(const DiffRun& r, std::ostream& out) {
  std::size_t unrec = 0;
  for (const auto& m : r.modules) unrec += m.unreconciled.size();
  if (unrec) {
    out << "\nunreconciled shards: the engine keeps a shard's block scales but applies another shard's global scale,\n"
           "so every weight of that shard dequantizes off by the factor shown (applied / own):\n";
    for (const auto& m : r.modules)
      for (const auto& u : m.unreconciled)
        out << "  " << printable(m.module) << " shard " << printable(u.shard) << " (" << printable(u.source) << "): global scale " << f32_text(u.own)
            << ", applied " << f32_text(u.applied) << ", off by x" << f32_text(u.factor) << " (" << u.blocks << " blocks)\n";
  }
  bool any = false;
  for (const auto& m : r.modules)
    for (const auto& x : m.mismatches) {
      if (!any) out << "\nmismatches (the first of each parameter):\n";
      any = true;
      out << "  " << printable(m.module) << "." << printable(x.param) << (x.index.empty() ? "" : " " + x.index) << " (" << verdict_name(x.verdict)
          << "): " << printable(x.source) << ": expected " << x.expected << ", found " << x.found;
      if (x.count > 1) out << " (" << x.count << " elements differ)";
      out << "\n";
    }
  if (!r.unexplained) return;
  out << "\ndump tensors under a module's name that no check reads ("
      << (r.allow_unknown ? "--allow-unknown: NOT FAILED, AND NOT CHECKED" : "the module fails: its data may be there, unread; --allow-unknown reports them only")
      << "):\n";
  for (const auto& m : r.modules)
    if (!m.unexplained.empty()) {
      out << "  " << printable(m.module) << ": " << m.unexplained.size() << " tensor(s)" << (not_read(m) ? ", and none this command reads" : "") << ":";
      for (std::size_t i = 0; i < m.unexplained.size() && i < 8; ++i) out << (i ? ", " : " ") << printable_short(m.unexplained[i].substr(m.module.size() + 1), 80);
      if (m.unexplained.size() > 8) out << ", ...";
      out << "\n";
    }
}

// What was not checked, and the verdict line.
void print_summary(const DiffRun& r, std::ostream& out) {
  bool placeholders = false;
  for (const auto& m : r.modules) placeholders |= !m.placeholders.empty();
  if (!r.not_checked.empty() || !r.unread.empty() || placeholders) {
    out << "\nnot checked:\n";
    for (const auto& n : r.not_checked) out << "  " << printable(n) << "\n";
    for (const auto& m : r.modules)
      for (const auto& p : m.placeholders) out << "  " << printable(m.module) << "." << printable(p) << ": unused placeholder, not checked\n";
    if (!r.unread.empty())
      out << "  " << r.unread.size() << " dump tensor(s) under no quantized module of the checkpoint, e.g. " << printable_short(r.unread.front(), 100) << "\n";
  }
  out << "\n" << r.present << " module(s) compared, " << (r.present - r.failed) << " hold, " << r.failed << " differ";
  if (r.modules.size() > r.present) out << ", " << (r.modules.size() - r.present) << " absent from the dump";
  out << "\n";
  if (r.allow_unknown && r.unexplained)
    out << "--allow-unknown: " << r.unexplained << " dump tensor(s) under checked modules were NOT read and did not fail their module\n";
}

int diff_cmd(const DiffArgs& a, std::ostream& out) {
  Checkpoint c = open_quantized(a.ckpt);
  EngineDump d = EngineDump::open(a.dump);
  std::optional<Progress> progress;  // created once run_diff knows how many modules there are
  DiffOptions o{a.engine, a.backend, a.allow_unknown, [&](std::size_t n) { progress.emplace(n, a.json); },
                [&](const std::string& m) { progress->step(m); }};
  const DiffRun r = run_diff(c, d, o);
  if (progress) progress->done();
  if (a.json) {
    out << diff_report_json(r, c, d.label()).dump(2) << "\n";
  } else {
    print_table(r, c, d, out);
    print_findings(r, out);
    print_summary(r, out);
  }
  return r.failed ? 1 : 0;
}
}  // namespace

Runner define_diff(CLI::App& sub) {
  auto a = std::make_shared<DiffArgs>();
  sub.add_option("CKPT", a->ckpt, "checkpoint directory the engine loaded")->required();
  sub.add_option("DUMP", a->dump, "the engine's parameters after post-processing: a safetensors file or a directory of them (tools/dump_engine_state.py)")
      ->required();
  sub.add_option("--engine", a->engine,
                 "engine and release whose conventions decode the dump, sglang[==VERSION] or vllm[==VERSION] (default: the dump's "
                 "metadata, else its names; the release: the metadata's engine_version, else the newest known)")
      ->type_name("ENGINE[==VERSION]")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            try {
              parse_engine_spec(v);
              return "";
            } catch (const Error& e) {
              return e.problem();
            }
          },
          "sglang|vllm[==VERSION]"));
  sub.add_option("--backend", a->backend, "experts backend the engine ran (default: the dump's metadata, else its names)")
      ->check(one_of({"cutlass", "flashinfer_cutlass", "trtllm"}));
  sub.add_flag("--allow-unknown", a->allow_unknown,
               "report dump tensors under a module's name that no check reads instead of failing the module (the report says so)");
  sub.add_flag("--json", a->json, "the report as JSON on stdout (no progress line)");
  sub.footer(
      "Per module, two verdicts. semantic: the engine's tensors, decoded through its layout, dequantize to the\n"
      "checkpoint's values and its scalars are the ones the checkpoint implies. layout: every byte equals the\n"
      "reference's post-processing under the engine's conventions, padding zero.\n"
      "Every dump tensor under a module's name must be read by a check: one no rule reads (a name this engine\n"
      "release does not use, another backend's) fails its module, which is never passed unread.\n"
      "Exit 0: all hold; 1: a mismatch or an unread tensor (full report); 2: bad input (a dump not of this\n"
      "checkpoint).\n"
      "Example:\n"
      "  nvfp4 diff /models/llama-nvfp4 /tmp/sglang_dump.safetensors");
  return [a](std::ostream& out) { return diff_cmd(*a, out); };
}

}  // namespace nvfp4::cli

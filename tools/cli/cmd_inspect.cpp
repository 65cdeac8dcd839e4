#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "core/printable.h"
#include "tools/cli/cli.h"
#include "tools/cli/report_json.h"
#include "tools/inspect/findings.h"
#include "tools/inspect/scale_summary.h"

namespace nvfp4::cli {

namespace {
constexpr std::size_t kNameWidth = 80;  // longer module names are elided in the middle

// inspect --json (docs/schema/inspect-report.schema.json): the same facts as the table, numbers as
// numbers.
int inspect_json(const Checkpoint& c, const ModelSpec& spec, std::size_t kv, std::ostream& out) {
  const std::vector<Finding> f = check_values(c, spec);
  int fails = 0;
  for (const auto& x : f) fails += x.level == Finding::Level::Fail;
  nlohmann::json j = report_header("inspect");
  j["checkpoint"] = printable(c.dir().string());
  j["format"] = format_name(spec.format);
  j["quantization_declared_in"] = c.quant().present ? nlohmann::json(printable(c.quant().source)) : nlohmann::json(nullptr);
  j["files"] = c.file_count();
  j["tensors"] = c.tensor_names().size();
  j["unquantized_tensors"] = spec.passthrough.size() - kv;
  j["kv_cache_scales"] = kv;
  j["modules"] = nlohmann::json::array();
  for (const auto& l : spec.linears) {
    nlohmann::json shards = nlohmann::json::array();
    for (std::size_t i = 0; i < l.shard_ids.size(); ++i) shards.push_back({{"id", printable(l.shard_ids[i])}, {"rows", l.shard_rows[i]}});
    j["modules"].push_back({{"name", printable(l.name)},
                            {"kind", "linear"},
                            {"layout", l.fused_on_disk ? "fused" : (l.prefixes.size() > 1 ? "unfused" : "single")},
                            {"shards", shards},
                            {"N", l.N()},
                            {"K", l.K},
                            {"w4a16", !l.has_input_scale}});
  }
  for (const auto& x : spec.experts)
    j["modules"].push_back({{"name", printable(x.name)}, {"kind", "experts"}, {"layout", "unfused"}, {"E", x.E}, {"H", x.H}, {"I", x.I},
                            {"w4a16", !x.has_input_scale}});
  j["scales"] = nlohmann::json::array();
  for (const auto& m : scale_summaries(c, spec))
    j["scales"].push_back({{"module", printable(m.module)}, {"amax", m.amax}, {"blocks", m.blocks}, {"exponent_histogram", m.exponents}});
  j["findings"] = findings_json(f);
  j["checks_failed"] = fails;
  j["passed"] = fails == 0;
  out << j.dump(2) << "\n";
  return fails ? 1 : 0;
}

int inspect(const std::string& dir, bool json, std::ostream& out) {
  Checkpoint c = Checkpoint::open(dir);
  ModelSpec spec = map_modules(c);
  std::size_t kv = 0;
  for (const auto& n : spec.passthrough) kv += is_kv_scale(n);
  if (json) return inspect_json(c, spec, kv, out);
  // Every string from the files or the command line goes through printable_short: one line per
  // row, no control sequences, long names elided in the middle (never cut, so rows cannot merge).
  out << "checkpoint  " << printable_short(c.dir().string(), 200) << "\n"
      << "format      " << format_name(spec.format)
      << (c.quant().present ? " (declared in " + printable_short(c.quant().source, 200) + ")" : " (from tensor names; no quantization config)")
      << "\n"
      << "files       " << c.file_count() << "\n"
      << "tensors     " << c.tensor_names().size() << " (" << spec.passthrough.size() - kv << " unquantized" << (kv ? ", " + std::to_string(kv) + " KV-cache scales" : "")
      << ")\n\n";

  char line[512];
  std::snprintf(line, sizeof line, "%-44s %-7s %-8s %-22s %s\n", "module", "kind", "layout", "shards (rows)", "shape");
  out << line;
  for (const auto& l : spec.linears) {
    std::string shards;
    for (std::size_t i = 0; i < l.shard_ids.size(); ++i)
      shards += (i ? " " : "") + l.shard_ids[i] + ":" + std::to_string(l.shard_rows[i]);
    std::snprintf(line, sizeof line, "%-44s %-7s %-8s %-22s N=%lld K=%lld%s\n", printable_short(l.name, kNameWidth).c_str(), "linear",
                  l.fused_on_disk ? "fused" : (l.prefixes.size() > 1 ? "unfused" : "single"), shards.c_str(),
                  static_cast<long long>(l.N()), static_cast<long long>(l.K), l.has_input_scale ? "" : " (w4a16)");
    out << line;
  }
  for (const auto& x : spec.experts) {
    std::snprintf(line, sizeof line, "%-44s %-7s %-8s %-22s E=%lld H=%lld I=%lld%s\n", printable_short(x.name, kNameWidth).c_str(), "experts",
                  "unfused", "w1 w3 w2", static_cast<long long>(x.E), static_cast<long long>(x.H),
                  static_cast<long long>(x.I), x.has_input_scale ? "" : " (w4a16)");
    out << line;
  }
  out << "\nweights U8 (packed E2M1), block scales F8_E4M3, global scales ";
  std::map<std::string, int> scalar_kinds;
  const FormatNames& fn = format_names(spec.format);
  for (const auto& n : c.tensor_names())
    if (n.ends_with("." + fn.weight_scale_2) || n.ends_with("." + fn.input_scale)) {
      const TensorInfo& t = c.info(n);
      ++scalar_kinds[std::string(dtype_name(t.dtype)) + shape_str(t.shape)];
    }
  for (const auto& [k, n] : scalar_kinds) out << k << " x" << n << " ";
  out << (fn.encode_scales ? "(encode scales)" : "(decode scales)") << "\n\n";

  // What the scales say per module: amax, and block scales by exponent, one glyph per binade.
  std::snprintf(line, sizeof line, "%-44s %-12s %s\n", "scales of", "amax", "block scales by binade: [below 2^-6, 2^-6, ..., 2^8]");
  out << line;
  for (const auto& m : scale_summaries(c, spec)) {
    std::snprintf(line, sizeof line, "%-44s %-12.6g [%s]\n", printable_short(m.module, kNameWidth).c_str(), m.amax, histogram_glyphs(m.exponents).c_str());
    out << line;
  }
  out << "\nfindings\n";

  std::vector<Finding> f = check_values(c, spec);
  int fails = 0;
  for (const auto& x : f) {
    out << "  " << x.line() << "\n";
    fails += x.level == Finding::Level::Fail;
  }
  if (f.empty()) out << "  none\n";
  out << "\n" << (fails ? std::to_string(fails) + " check(s) failed" : std::string("all checks passed")) << "\n";
  return fails ? 1 : 0;
}
}  // namespace

Runner define_inspect(CLI::App& sub) {
  struct Opts {
    std::string dir;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("CKPT", o->dir, "checkpoint directory (safetensors files and their configs)")->required();
  sub.add_flag("--json", o->json, "the same facts as JSON on stdout (docs/schema/inspect-report.schema.json)");
  sub.footer(
      "Exit 1 when a finding fails (a NaN or zero scale, say), 2 when the checkpoint cannot be read.\n"
      "Example:\n"
      "  nvfp4 inspect /tmp/tiny\n"
      "  nvfp4 inspect /tmp/tiny --json | jq '.modules[].name'");
  return [o](std::ostream& out) { return inspect(o->dir, o->json, out); };
}

}  // namespace nvfp4::cli

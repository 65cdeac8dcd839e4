// nvfp4 engine-check: an engine release's own create_weights -> weight_loader ->
// process_weights_after_loading -> hot reload, driven on the CPU over checkpoints this binary
// writes, with properties checked by Hypothesis (engines/, README there). This command makes or
// reuses the release's environment (scripts/engine_env.sh) and runs `python -m engines check` in
// it, which calls back into this binary for make-checkpoint and diff.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "tools/cli/cli.h"
#include "tools/cli/report_json.h"

namespace nvfp4::cli {
namespace {

struct Opts {
  std::string engine;
  std::vector<std::string> backends, expect, formats, properties;
  std::int64_t examples = 10, seed = 0;
  bool json = false;
};

// The source tree (scripts/, engines/): NVFP4_SOURCE_DIR in the environment, else where this
// binary was configured from.
std::filesystem::path source_dir() {
  const char* env = std::getenv("NVFP4_SOURCE_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(NVFP4_SOURCE_DIR);
}

// This nvfp4, for the harness's make-checkpoint and diff calls: NVFP4_BIN (tests run the CLI
// in-process, so /proc/self/exe is the test binary there), else the running executable.
std::string self_binary() {
  const char* env = std::getenv("NVFP4_BIN");
  return env && *env ? env : std::filesystem::read_symlink("/proc/self/exe").string();
}

// Every word handed to the shell is checked first: names and versions only, no quoting games.
void require_word(const std::string& s, const std::string& what) {
  static const std::regex ok("[A-Za-z0-9_.=+-]+");
  if (!std::regex_match(s, ok)) throw Error(ErrorKind::Usage, "", "", what + " \"" + s + "\": letters, digits and ._=+- only");
}

std::string shell_quoted(const std::string& s) { return "'" + s + "'"; }

// Runs `cmd` through the shell, its stdout appended to `text` (or streamed to `out`), and returns
// its exit code (2 when it did not exit normally).
int run_shell(const std::string& cmd, std::string* text, std::ostream* out) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) throw Error(ErrorKind::BadInput, "", "", "cannot run " + cmd);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p.get())) > 0) {
    if (text) text->append(buf.data(), n);
    if (out) out->write(buf.data(), static_cast<std::streamsize>(n)), out->flush();
  }
  const int status = pclose(p.release());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

// The venv's Python (scripts/engine_env.sh makes or reuses it; it says what went wrong on stderr
// in one line, and its progress goes there too).
std::string engine_python(const Opts& o, const std::filesystem::path& root) {
  require_word(o.engine, "--engine");
  if (o.engine.find("==") == std::string::npos)
    throw Error(ErrorKind::Usage, "", "", "--engine " + o.engine + ": expected ENGINE==VERSION (sglang==0.5.23, vllm==0.33.0)");
  for (const auto* list : {&o.backends, &o.expect})
    for (const auto& w : *list) require_word(w, list == &o.backends ? "--backend" : "--expect");
  std::string python;
  if (run_shell("bash " + shell_quoted((root / "scripts" / "engine_env.sh").string()) + " " + shell_quoted(o.engine), &python, nullptr) != 0)
    throw Error(ErrorKind::BadInput, "", "", "no environment for " + o.engine + " (scripts/engine_env.sh said why above)");
  while (!python.empty() && (python.back() == '\n' || python.back() == '\r')) python.pop_back();
  return python;
}

std::string harness_command(const Opts& o, const std::filesystem::path& root, const std::string& python) {
  std::string cmd = "cd " + shell_quoted(root.string()) + " && " + shell_quoted(python) + " -m engines check --engine " +
                    shell_quoted(o.engine) + " --examples " + std::to_string(o.examples) + " --seed " + std::to_string(o.seed) +
                    " --nvfp4 " + shell_quoted(self_binary());
  for (const auto& b : o.backends) cmd += " --backend " + shell_quoted(b);
  for (const auto& c : o.expect) cmd += " --expect " + shell_quoted(c);
  for (const auto& f : o.formats) cmd += " --format " + shell_quoted(f);
  for (const auto& p : o.properties) cmd += " --property " + shell_quoted(p);
  return cmd;
}

int engine_check(const Opts& o, std::ostream& out) {
  const std::filesystem::path root = source_dir();
  const std::string python = engine_python(o, root);
  const std::string cmd = harness_command(o, root, python);
  if (!o.json) {
    const int rc = run_shell(cmd, nullptr, &out);
    return rc == 0 || rc == 1 ? rc : 2;
  }
  // JSON: the harness's report under the header every nvfp4 report has (report_json.h).
  std::string text;
  const int rc = run_shell(cmd + " --json", &text, nullptr);
  nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if ((rc != 0 && rc != 1) || body.is_discarded() || !body.is_object())
    throw Error(ErrorKind::BadInput, "", "", "the harness in " + python + " gave no report (exit " + std::to_string(rc) + ")");
  nlohmann::json j = report_header("engine-check");
  j.update(body);
  j["passed"] = rc == 0;
  out << j.dump(2) << "\n";
  return rc;
}

}  // namespace

Runner define_engine_check(CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  sub.add_option("--engine", o->engine, "the release: sglang==0.5.10.post1|0.5.11|0.5.23, vllm==0.19.1|0.20.0|0.33.0")->required();
  sub.add_option("--backend", o->backends, "an MoE backend by the engine's own name (repeatable; default: every one it post-processes on a CPU)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub.add_option("--examples", o->examples, "checkpoint specs Hypothesis draws per backend")->check(int_range(1, 100000))->capture_default_str();
  sub.add_option("--seed", o->seed, "Hypothesis seed (same seed, same specs)")->check(int_range(0, INT64_MAX))->capture_default_str();
  sub.add_option("--expect", o->expect, "a finding class the release is known to show (repeatable): unreconciled-shard-scales, "
                                        "up-half-uses-gate-scale, gate-half-uses-up-scale, w4a16-input-scale-unwritten, ct-reload-unreachable, "
                                        "expert-input-scale-last-wins, moe-model-drops-fused-qkv (engines/findings.py)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub.add_option("--format", o->formats, "checkpoint formats drawn (repeatable; default both)")
      ->check(one_of({"modelopt", "compressed-tensors"}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub.add_option("--property", o->properties, "the properties that count (repeatable; default all; the others still run)")
      ->check(one_of({"loaded-slots", "cold-diff", "reload-same", "reload-other", "identity"}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub.add_flag("--json", o->json, "the report as JSON on stdout (docs/schema/engine-check-report.schema.json)");
  sub.footer(
      "Creates (once) the release's venv under ${NVFP4_ENGINE_ENVS:-~/.cache/nvfp4/engines} with scripts/engine_env.sh, then runs the\n"
      "engine's own load, post-processing and hot reload on checkpoints from make-checkpoint (engines/README.md).\n"
      "Exit 0: every property holds (finding classes only where --expect names them); 1: a property failed;\n"
      "2: bad arguments or an environment that cannot be made.\n"
      "Examples:\n"
      "  nvfp4 engine-check --engine vllm==0.19.1 --backend cutlass --examples 20\n"
      "  nvfp4 engine-check --engine sglang==0.5.23 --expect unreconciled-shard-scales --expect up-half-uses-gate-scale --json");
  return [o](std::ostream& out) { return engine_check(*o, out); };
}

}  // namespace nvfp4::cli

#include "tools/cli/cli.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>

#include "core/allocator.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/printable.h"
#include "tools/cli/report_json.h"

namespace nvfp4::cli {
namespace {

struct Command {
  const char* name;
  const char* summary;
  Runner (*define)(CLI::App&);
};
constexpr Command kCommands[] = {
    {"demo", "the main job on built-in synthetic models: both pipelines side by side, reloads, GEMMs, one table", define_demo},
    {"make-checkpoint", "write a synthetic NVFP4 checkpoint (dense or MoE, ModelOpt or compressed-tensors)", define_make_checkpoint},
    {"inspect", "modules, shards, shapes, dtypes, layout and findings of a checkpoint", define_inspect},
    {"process", "post-process every module with one pipeline and write every parameter to a file", define_process},
    {"gemm", "multiply activations by one module (or one expert's projection) of a checkpoint", define_gemm},
    {"verify", "both pipelines side by side on a checkpoint, module by module; exit 0 iff every check holds", define_verify},
    {"diff", "an engine's own post-processed weights (a dump) against the checkpoint: semantic and layout verdicts per module", define_diff},
    {"engine-check", "an engine release's own load, post-processing and hot reload on generated checkpoints: properties per backend",
     define_engine_check},
};

const char* kFooter =
    "Run 'nvfp4 help COMMAND' or 'nvfp4 COMMAND --help' for a command's options and an example.\n"
    "Exit codes: 0 all checks hold; 1 a check failed (the full report is still printed); 2 bad input\n"
    "that cannot be checked, or bad arguments; 3 out of memory.";

// "usage: nvfp4 verify [OPTIONS] CKPT": the usage line of the command's own help.
std::string usage_line(const CLI::App& sub, const std::string& path) {
  CLI::Formatter f;
  std::string u = f.make_usage(&sub, path);
  u.erase(std::remove(u.begin(), u.end(), '\n'), u.end());
  if (u.rfind("Usage: ", 0) == 0) u = "usage: " + u.substr(7);
  return u;
}

// The names a typo of `word` could have meant on `sub`: its long options.
std::vector<std::string> option_names(const CLI::App& sub) {
  std::vector<std::string> r;
  for (const CLI::Option* o : sub.get_options())
    for (const auto& l : o->get_lnames()) r.push_back("--" + l);
  return r;
}

// The first argument that is not an option: what the command works on (its checkpoint).
std::string subject_arg(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) == 0) {
      if (args[i].find('=') == std::string::npos) ++i;  // skip the option's value
      continue;
    }
    return args[i];
  }
  return "";
}

std::string subject(const std::vector<std::string>& args) {
  const std::string s = subject_arg(args);
  return s.empty() ? "" : printable_short(s, 240) + ": ";
}

}  // namespace

Checkpoint open_quantized(const std::string& dir) {
  Checkpoint c = Checkpoint::open(dir);
  const ModelSpec spec = map_modules(c);
  if (spec.linears.empty() && spec.experts.empty())
    throw Error(ErrorKind::BadInput, dir, "", "no quantized modules (no tensor ends in a block-scale name); nothing to do");
  return c;
}

namespace {

// The command line: the app, each command's subcommand with its runner, and every command name.
struct Parser {
  CLI::App app{"nvfp4: checks NVFP4 weight pipelines (loading, post-processing, hot reload, GEMM) on a reference and an\n"
               "optimized pipeline side by side, bit for bit, on synthetic or real checkpoints.",
               "nvfp4"};
  std::vector<std::pair<CLI::App*, Runner>> commands;
  std::vector<std::string> names;

  Parser() {
    app.set_version_flag("--version", std::string("nvfp4 ") + NVFP4_VERSION);
    app.set_help_flag("-h,--help", "this help");
    // An option given twice is refused, not silently decided by its last value.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::Throw);
    app.footer(kFooter);
    for (const Command& c : kCommands) {
      CLI::App* sub = app.add_subcommand(c.name, c.summary);
      sub->set_help_flag("-h,--help", "this help");
      commands.emplace_back(sub, c.define(*sub));
      names.push_back(c.name);
    }
    app.add_subcommand("help", "a command's options and an example: nvfp4 help verify");
    names.push_back("help");
  }
};

// `nvfp4 help [COMMAND]`, by hand: CLI11 would take "help verify" for two commands.
int help_command(const Parser& p, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 1) {
    out << p.app.help();
    return 0;
  }
  for (const auto& [s, r] : p.commands)
    if (args.size() == 2 && s->get_name() == args[1]) {
      out << s->help("nvfp4");
      return 0;
    }
  const std::string near = args.size() == 2 ? nearest(args[1], p.names) : "";
  err << "nvfp4 help: " << (args.size() > 2 ? "takes one command" : "unknown command \"" + printable_short(args[1], 80) + "\"")
      << (near.empty() ? "" : " (did you mean " + near + "?)") << "\nusage: nvfp4 help [COMMAND]\n";
  return 2;
}

// A usage error: what is wrong, the nearest spelling for a typo, and this command's usage only.
void usage_error(CLI::App& app, const CLI::ParseError& e, std::ostream& err) {
  CLI::App* where = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
  const std::string path = where == &app ? "nvfp4" : "nvfp4 " + where->get_name();
  std::string what = e.what();
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) && what.find("At Most 1 required") != std::string::npos)
    what = what.substr(0, what.find(':')) + " given more than once; give it once";
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    std::vector<std::string> extra = where->remaining();
    if (extra.empty()) extra = app.remaining();
    what = "";
    for (const auto& x : extra) {
      if (x.rfind("--", 0) == 0) {
        const std::string flag = x.substr(0, x.find('='));
        const std::string near = nearest(flag, option_names(*where));
        what = "unknown option " + printable_short(flag, 80) + (near.empty() ? "" : " (did you mean " + near + "?)");
        break;
      }
      if (what.empty()) what = "unexpected argument \"" + printable_short(x, 80) + "\" (this command takes no more)";
    }
  }
  err << path << ": " << printable_short(what, 400) << "\n" << usage_line(*where, path) << "\nrun '" << path << " --help' for every option\n";
}

// Runs the parsed command; its errors become one line and an exit code, or with `rethrow` propagate
// (the same message: an unnamed error gets the command's subject as its file).
int run_command(const Runner& runner, const CLI::App& sub, const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                bool rethrow) {
  try {
    return runner(out);
  } catch (const Error& e) {
    // An error raised where no file is known (a pipeline's shape refusal, say) is about what the
    // command was working on: name it.
    const bool unnamed = e.file().empty() && e.kind() != ErrorKind::Usage;
    if (rethrow && unnamed) throw Error(e.kind(), subject_arg(args), e.tensor(), e.problem());
    if (rethrow) throw;
    err << "nvfp4 " << args[0] << ": " << (unnamed ? subject(args) : "") << e.what() << "\n";
    if (e.kind() == ErrorKind::Usage) err << usage_line(sub, "nvfp4 " + args[0]) << "\n";
    return e.kind() == ErrorKind::CheckFailed ? 1 : 2;
  } catch (const OutOfMemory& e) {
    // Its own exit code (3), apart from bad input: the same command may succeed with more memory
    // or, where it has them, fewer --jobs or smaller expert chunks. Name what was being worked on
    // and how much was needed.
    if (rethrow) throw;
    err << "nvfp4 " << args[0] << ": " << subject(args) << out_of_memory_message(e, memory_hint(sub)) << "\n";
    return 3;
  } catch (const std::bad_alloc&) {
    if (rethrow) throw;
    err << "nvfp4 " << args[0] << ": " << subject(args) << "out of memory (" << memory_hint(sub) << ")\n";
    return 3;
  } catch (const std::exception& e) {
    if (rethrow) throw;
    err << "nvfp4 " << args[0] << ": " << subject(args) << "internal error: " << printable_short(e.what(), 400) << "\n";
    return 2;
  }
}

}  // namespace

std::string out_of_memory_message(const OutOfMemory& e, const std::string& hint) {
  char b[300];
  std::snprintf(b, sizeof b, "out of memory: an allocation of %.1f MiB failed with %.1f MiB already held (%s)",
                static_cast<double>(e.requested()) / (1 << 20), static_cast<double>(e.live()) / (1 << 20), hint.c_str());
  return b;
}

std::string memory_hint(const CLI::App& sub) {
  std::string h = "try ";
  if (sub.get_option_no_throw("--jobs")) h += "--jobs 1, ";
  if (sub.get_option_no_throw("--experts-chunk-mib")) h += "a smaller --experts-chunk-mib, ";
  return h == "try " ? "more memory is needed" : h + "or more memory";
}

namespace {
int run_impl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool rethrow) {
  Parser p;
  if (args.empty()) {
    err << p.app.help();
    return 2;
  }
  if (args[0].rfind("-", 0) != 0 && std::find(p.names.begin(), p.names.end(), args[0]) == p.names.end()) {
    const std::string near = nearest(args[0], p.names);
    err << "nvfp4: unknown command \"" << printable_short(args[0], 80) << "\"" << (near.empty() ? "" : " (did you mean " + near + "?)")
        << "\nrun 'nvfp4 --help' for the list of commands\n";
    return 2;
  }
  if (args[0] == "help") return help_command(p, args, out, err);
  CLI::App* sub = nullptr;
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    p.app.parse(reversed);
    if (!p.app.get_subcommands().empty()) sub = p.app.get_subcommands().front();
  } catch (const CLI::CallForHelp&) {
    out << (p.app.get_subcommands().empty() ? p.app.help() : p.app.get_subcommands().front()->help("nvfp4"));
    return 0;
  } catch (const CLI::CallForVersion&) {
    out << "nvfp4 " << NVFP4_VERSION << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    usage_error(p.app, e, err);
    return 2;
  }
  if (!sub) {  // only options, none of which ran anything
    err << p.app.help();
    return 2;
  }
  set_command_line(args);
  for (const auto& [s, r] : p.commands)
    if (s == sub) return run_command(r, *sub, args, out, err, rethrow);
  return 2;
}
}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) { return run_impl(args, out, err, false); }

int run_or_throw(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) { return run_impl(args, out, err, true); }

}  // namespace nvfp4::cli

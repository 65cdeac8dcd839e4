#include "tools/cli/args.h"

#include "core/error.h"

namespace nvfp4::cli {
namespace {
[[noreturn]] void usage(const std::string& what) { throw Error(ErrorKind::Usage, "", "", what); }
}  // namespace

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
           const std::set<std::string>& flags) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") { pos_.push_back(a); continue; }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (flags.count(name)) {
      if (inline_value) usage("--" + name + " takes no value");
      flags_.insert(name);
    } else if (options.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) usage("--" + name + " needs a value");
        value = argv[++i];
      }
      opts_[name] = value;
    } else {
      usage("unknown option --" + name);
    }
  }
}

std::string Args::positional_at(std::size_t i, const std::string& what) const {
  if (i >= pos_.size()) usage("missing " + what);
  return pos_[i];
}

std::string Args::get(const std::string& name, const std::string& dflt) const {
  auto it = opts_.find(name);
  return it == opts_.end() ? dflt : it->second;
}

std::string Args::require(const std::string& name) const {
  auto it = opts_.find(name);
  if (it == opts_.end()) usage("--" + name + " is required");
  return it->second;
}

std::int64_t Args::get_int(const std::string& name, std::int64_t dflt) const {
  auto it = opts_.find(name);
  if (it == opts_.end()) return dflt;
  try {
    std::size_t used = 0;
    long long v = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    usage("--" + name + " expects an integer, not \"" + it->second + "\"");
  }
}

std::string Args::choice(const std::string& name, const std::string& dflt, const std::set<std::string>& allowed) const {
  std::string v = get(name, dflt);
  if (!allowed.count(v)) {
    std::string s;
    for (const auto& a : allowed) s += (s.empty() ? "" : "|") + a;
    usage("--" + name + " must be one of " + s + ", not \"" + v + "\"");
  }
  return v;
}

}  // namespace nvfp4::cli

#include "tools/cli/args.h"

#include <charconv>

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

std::int64_t Args::get_int(const std::string& name, std::int64_t dflt, std::int64_t lo, std::int64_t hi) const {
  auto it = opts_.find(name);
  if (it == opts_.end()) return dflt;
  const std::string& s = it->second;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  const std::string range = " (from " + std::to_string(lo) + " to " + std::to_string(hi) + ")";
  if (ec == std::errc::result_out_of_range || (ec == std::errc{} && end == s.data() + s.size() && (v < lo || v > hi)))
    usage("--" + name + " " + s + " is out of range" + range);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty())
    usage("--" + name + " expects an integer" + range + ", not \"" + s + "\"");
  return v;
}

std::string Args::output(const std::string& name, const std::filesystem::path& ckpt) const {
  namespace fs = std::filesystem;
  const std::string file = require(name);
  if (file.empty()) usage("--" + name + " must name a file, not \"\"");
  std::error_code ec;
  if (fs::is_directory(file, ec)) usage("--" + name + " " + file + " is a directory; name a file");
  const fs::path parent = fs::weakly_canonical(fs::absolute(file, ec).parent_path(), ec);
  const fs::path dir = fs::weakly_canonical(fs::absolute(ckpt, ec), ec);
  if (!ec && parent == dir)
    usage("--" + name + " " + file + " is inside the checkpoint directory " + ckpt.string() +
          "; it would be read as part of the checkpoint next time. Write it elsewhere");
  return file;
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

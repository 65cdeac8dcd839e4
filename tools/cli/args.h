// Minimal argument parsing for the nvfp4 subcommands: positionals, "--key value" options and
// "--flag" switches, each checked against what the command declares so a typo is an error.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace nvfp4::cli {

class Args {
 public:
  // options: names taking a value; flags: names taking none.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& options, const std::set<std::string>& flags);
  const std::vector<std::string>& positional() const { return pos_; }
  std::string positional_at(std::size_t i, const std::string& what) const;
  bool has(const std::string& name) const { return opts_.count(name) != 0; }
  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& dflt) const;
  std::string require(const std::string& name) const;
  // An integer option within [lo, hi] (both inclusive), or dflt when absent. Anything else (not an
  // integer, trailing text, out of range, past 64 bits) is a usage error naming the option, the
  // value and the range: never a silent wrap or a negative taken as 0.
  std::int64_t get_int(const std::string& name, std::int64_t dflt, std::int64_t lo, std::int64_t hi) const;
  // The required output file option `name`: refused when empty, a directory, or inside the
  // checkpoint directory `ckpt` (a *.safetensors there would become a shard of the checkpoint).
  std::string output(const std::string& name, const std::filesystem::path& ckpt) const;
  std::string choice(const std::string& name, const std::string& dflt, const std::set<std::string>& allowed) const;

 private:
  std::vector<std::string> pos_;
  std::map<std::string, std::string> opts_;
  std::set<std::string> flags_;
};

}  // namespace nvfp4::cli

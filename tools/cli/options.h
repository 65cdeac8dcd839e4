// What every nvfp4 command's options share, on top of CLI11 (Debian's libcli11-dev): integer and
// choice validators with messages that name the range or the choices, the output-file rule, and
// the nearest spelling for "did you mean".
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace nvfp4::cli {

// A parsed command, ready to run: its options live in the closure.
using Runner = std::function<int(std::ostream& out)>;

// An integer within [lo, hi], checked on the text as given: anything else (not an integer, trailing
// text, "1e3", past 64 bits, out of range) is refused with the range, never wrapped or clamped.
CLI::Validator int_range(std::int64_t lo, std::int64_t hi);
// Comma-separated integers, each within [lo, hi] and checked as int_range checks one; at least one.
CLI::Validator int_list(std::int64_t lo, std::int64_t hi);
// The integers of a list int_list accepted, in order.
std::vector<std::int64_t> parse_int_list(const std::string& s);
// One of `allowed`, spelled exactly.
CLI::Validator one_of(const std::vector<std::string>& allowed);

// The output file of `option`: refused (a usage error) when empty, a directory, or inside the
// checkpoint directory `ckpt` (a *.safetensors there would become a shard of the checkpoint).
void check_output(const std::string& file, const std::string& option, const std::filesystem::path& ckpt);

// The candidate closest to `word` by edit distance, if close enough to be a typo of it (at most
// one edit per three characters, at least one); "" otherwise.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace nvfp4::cli

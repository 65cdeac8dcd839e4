#include "tools/cli/options.h"

#include <algorithm>
#include <charconv>

#include "core/error.h"
#include "core/printable.h"

namespace nvfp4::cli {

CLI::Validator int_range(std::int64_t lo, std::int64_t hi) {
  const std::string range = "from " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        std::int64_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        const bool whole = end == s.data() + s.size() && !s.empty();
        if (ec == std::errc::result_out_of_range || (ec == std::errc{} && whole && (v < lo || v > hi)))
          return printable_short(s, 40) + " is out of range (" + range + ")";
        if (ec != std::errc{} || !whole) return "expects an integer (" + range + "), not \"" + printable_short(s, 40) + "\"";
        return "";
      },
      std::to_string(lo) + ".." + std::to_string(hi));
}

CLI::Validator int_list(std::int64_t lo, std::int64_t hi) {
  const CLI::Validator one = int_range(lo, hi);
  return CLI::Validator(
      [one](std::string& s) -> std::string {
        if (s.empty()) return "expects one or more integers separated by commas, not \"\"";
        for (std::size_t b = 0;;) {
          const std::size_t e = std::min(s.find(',', b), s.size());
          std::string item = s.substr(b, e - b);
          const std::string why = one(item);
          if (!why.empty()) return why;
          if (e == s.size()) return "";
          b = e + 1;
        }
      },
      "each " + std::to_string(lo) + ".." + std::to_string(hi));
}

std::vector<std::int64_t> parse_int_list(const std::string& s) {
  std::vector<std::int64_t> r;
  for (std::size_t b = 0; b <= s.size();) {
    const std::size_t e = std::min(s.find(',', b), s.size());
    std::int64_t v = 0;
    std::from_chars(s.data() + b, s.data() + e, v);
    r.push_back(v);
    b = e + 1;
  }
  return r;
}

CLI::Validator one_of(const std::vector<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : "|") + a;
  return CLI::Validator(
      [allowed, list](std::string& s) -> std::string {
        if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return "";
        const std::string near = nearest(s, allowed);
        return "must be one of " + list + ", not \"" + printable_short(s, 40) + "\"" + (near.empty() ? "" : " (did you mean " + near + "?)");
      },
      list);
}

void check_output(const std::string& file, const std::string& option, const std::filesystem::path& ckpt) {
  namespace fs = std::filesystem;
  auto usage = [](const std::string& what) { throw Error(ErrorKind::Usage, "", "", what); };
  if (file.empty()) usage(option + " must name a file, not \"\"");
  std::error_code ec;
  if (fs::is_directory(file, ec)) usage(option + " " + file + " is a directory; name a file");
  const fs::path parent = fs::weakly_canonical(fs::absolute(file, ec).parent_path(), ec);
  const fs::path dir = fs::weakly_canonical(fs::absolute(ckpt, ec), ec);
  if (!ec && parent == dir)
    usage(option + " " + file + " is inside the checkpoint directory " + ckpt.string() +
          "; it would be read as part of the checkpoint next time. Write it elsewhere");
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  // Optimal string alignment distance: a transposition ("verfiy") counts as one edit.
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
      for (std::size_t j = 1; j <= b.size(); ++j) {
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  if (word.size() > 64) return "";  // no one mistypes 64 characters; and the table stays small
  std::string best;
  std::size_t best_d = std::max<std::size_t>(1, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = distance(word, c);
    if (d < best_d) best = c, best_d = d;
  }
  return best;
}

}  // namespace nvfp4::cli

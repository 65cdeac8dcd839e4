#include "core/printable.h"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace nvfp4 {
namespace {

bool hostile_code_point(std::uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||        // C1 controls (CSI, OSC, ... as single code points)
         (cp >= 0x200B && cp <= 0x200F) ||    // zero width, LRM/RLM
         (cp >= 0x2028 && cp <= 0x202E) ||    // line/paragraph separators, bidi embeddings/overrides
         (cp >= 0x2060 && cp <= 0x206F) ||    // invisible operators, bidi isolates
         cp == 0xFEFF;                        // zero width no-break space / BOM
}

// Length of the valid UTF-8 sequence at s[i] and its code point, or 0 if it is not valid
// (overlong forms, surrogates and values past U+10FFFF are invalid, as in RFC 3629).
std::size_t utf8_at(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n;
  std::uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The escaped text of s, one piece per input character (so that it can be shortened on
// character boundaries), with the number of input bytes each piece stands for.
struct Piece {
  std::string text;
  std::size_t bytes;
};
std::vector<Piece> pieces(std::string_view s) {
  std::vector<Piece> out;
  out.reserve(s.size());
  char buf[16];
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0;
    const std::size_t n = c >= 0x80 ? utf8_at(s, i, cp) : 1;
    if (c >= 0x80 && n > 0 && !hostile_code_point(cp)) {
      out.push_back({std::string(s.substr(i, n)), n});
    } else if (c >= 0x80 && n > 0) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out.push_back({buf, n});
    } else if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
      out.push_back({c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t", 1});
    } else if (c < 0x20 || c >= 0x7F) {  // C0 controls, DEL, and a byte of invalid UTF-8
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out.push_back({buf, 1});
    } else {
      out.push_back({std::string(1, static_cast<char>(c)), 1});
    }
    i += n > 0 ? n : 1;
  }
  return out;
}

std::size_t chars(const std::string& piece) {  // display characters (code points) in a piece
  std::size_t n = 0;
  for (unsigned char c : piece) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string printable(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (const auto& p : pieces(s)) r += p.text;
  return r;
}

std::string printable_short(std::string_view s, std::size_t max_chars) {
  const auto ps = pieces(s);
  std::size_t total = 0;
  for (const auto& p : ps) total += chars(p.text);
  std::string r;
  if (total <= max_chars) {
    for (const auto& p : ps) r += p.text;
    return r;
  }
  // Keep a head and a tail of about equal length around the marker; the tail is where names
  // differ most (".weight_scale" vs ".weight_scale_2").
  const std::size_t budget = max_chars > 40 ? max_chars - 30 : 10;
  std::size_t head = 0, head_chars = 0;
  while (head < ps.size() && head_chars + chars(ps[head].text) <= budget / 2) head_chars += chars(ps[head++].text);
  std::size_t tail = ps.size(), tail_chars = 0;
  while (tail > head && tail_chars + chars(ps[tail - 1].text) <= budget - budget / 2) tail_chars += chars(ps[--tail].text);
  std::size_t elided_bytes = 0;
  for (std::size_t k = head; k < tail; ++k) elided_bytes += ps[k].bytes;
  for (std::size_t k = 0; k < head; ++k) r += ps[k].text;
  r += "...[" + std::to_string(elided_bytes) + " bytes elided]...";
  for (std::size_t k = tail; k < ps.size(); ++k) r += ps[k].text;
  return r;
}

std::string f32_text(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

}  // namespace nvfp4

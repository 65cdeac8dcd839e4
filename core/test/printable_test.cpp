// printable(): what a hostile name becomes on the terminal. Each expected string is worked out by
// hand from the escaping rules in core/printable.h (not from the implementation).
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/printable.h"

namespace nvfp4 {
namespace {

TEST(Printable, HandWorkedVectors) {
  struct V { std::string in, out; };
  const V cases[] = {
      {"model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.gate_proj.weight"},  // plain ASCII passes
      {"a\nb", "a\\nb"},                                  // a newline would split an error line
      {"a\r\tb", "a\\r\\tb"},                             // CR rewinds the line, TAB shifts columns
      {std::string("a\0b", 3), "a\\x00b"},                // NUL truncates C strings
      {"\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"},         // OSC title set: ESC and BEL escaped
      {"\x1b[2J", "\\x1b[2J"},                            // CSI clear screen
      {"\x7f", "\\x7f"},                                  // DEL
      {"back\\slash", "back\\\\slash"},                   // so that "\\n" typed literally differs from a newline
      {"caf\xc3\xa9", "caf\xc3\xa9"},                     // valid UTF-8 (U+00E9) passes
      {"\xe6\x97\xa5", "\xe6\x97\xa5"},                   // U+65E5, a 3-byte CJK character, passes
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},           // U+1F600, 4 bytes, passes
      {"\xc2\x9b", "\\u009b"},                            // U+009B is the C1 CSI: as dangerous as ESC [
      {"\xe2\x80\xa8", "\\u2028"},                        // LINE SEPARATOR breaks lines in some terminals/editors
      {"\xe2\x80\xae" "abc", "\\u202eabc"},               // RIGHT-TO-LEFT OVERRIDE ("trojan source")
      {"\xef\xbb\xbf", "\\ufeff"},                        // BOM / zero width no-break space
      {"\xff", "\\xff"},                                  // never valid in UTF-8
      {"\xc3", "\\xc3"},                                  // truncated 2-byte sequence
      {"\xc0\xaf", "\\xc0\\xaf"},                         // overlong '/', a classic filter bypass
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},                // UTF-16 surrogate D800 encoded in UTF-8: invalid
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},       // U+110000, past the last code point
  };
  for (const auto& c : cases) EXPECT_EQ(printable(c.in), c.out) << "input bytes: " << c.in.size();
}

TEST(Printable, ShortenedInTheMiddleNeverAtTheEnd) {
  EXPECT_EQ(printable_short("short", 10), "short");
  // 300 'a' then ".weight_scale" (13): 313 characters, over 100. The budget is 100 - 30 = 70,
  // 35 kept at each end; the 313 - 70 = 243 bytes between are elided.
  const std::string name = std::string(300, 'a') + ".weight_scale";
  const std::string s = printable_short(name, 100);
  EXPECT_EQ(s, std::string(35, 'a') + "...[243 bytes elided]..." + std::string(22, 'a') + ".weight_scale");
  // Escapes are never split: 50 newlines escape to 100 characters; with max 40 the budget is 10,
  // so 2 whole escapes (4 characters) at each end, 46 newlines elided.
  const std::string nl = printable_short(std::string(50, '\n'), 40);
  EXPECT_EQ(nl, "\\n\\n...[46 bytes elided]...\\n\\n");
}

TEST(Printable, ErrorsAreOnePrintableLineWhateverTheFileHeld) {
  const Error e(ErrorKind::BadInput, "dir/evil\nfile.safetensors", "name\x1b]0;x\x07" + std::string(5000, 'n'), "bad\r\nthing");
  const std::string w = e.what();
  for (unsigned char ch : w) EXPECT_GE(ch, 0x20) << w;
  EXPECT_NE(w.find("dir/evil\\nfile.safetensors: name\\x1b]0;x\\x07"), std::string::npos) << w;
  EXPECT_NE(w.find("bytes elided"), std::string::npos);
  EXPECT_LT(w.size(), 1000u);
  EXPECT_EQ(e.tensor().size(), 10u + 5000u);  // "name" ESC "]0;x" BEL, then the padding: kept raw for programs
}

}  // namespace
}  // namespace nvfp4

// Strings from files (tensor names, JSON keys, dtype strings, file names) made safe for a terminal
// and for a one-line error. A checkpoint from a hub is hostile input: a name holding "\n", an ESC
// sequence, an OSC title set, NUL, a bidi override or invalid UTF-8 must not reach the terminal as
// such, and an error must stay exactly one line.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace nvfp4 {

// Escapes, JSON-style, every byte or code point that is not plainly printable:
//   \\ for the backslash (so that escaped and literal text cannot be confused),
//   \n \r \t, \xHH for other C0 controls, DEL and every byte of invalid UTF-8,
//   \uHHHH for C1 controls, U+2028/U+2029 and the bidi/format code points (U+200B-U+200F,
//   U+202A-U+202E, U+2060-U+206F, U+FEFF) that can make a line read as something it is not.
// Valid printable UTF-8 passes unchanged.
std::string printable(std::string_view s);

// printable(s), shortened to at most max_chars characters by eliding its middle visibly:
// "model.layers.0...[1234 bytes elided]...weight_scale". Never cut at the end, so that a
// row in a table cannot merge with the next.
std::string printable_short(std::string_view s, std::size_t max_chars = 160);

// v with nine significant digits ("%.9g"): enough to tell any two f32 values apart, so two
// numbers a report shows as equal are equal. The one formatter of every report's numbers.
std::string f32_text(double v);

}  // namespace nvfp4

// What `nvfp4 diff` finds in one module: the two verdicts and, for each parameter that
// fails one, its first differing element with both values and where it comes from in the
// checkpoint. Collected per module so the command can stream.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/printable.h"  // f32_text: every number in a report

namespace nvfp4::diff {

enum class Verdict { Semantic, Layout };
std::string verdict_name(Verdict v);

struct Mismatch {
  std::string module, param;  // param: the dump's name under the module ("weight_scale_interleaved")
  Verdict verdict = Verdict::Semantic;
  std::string index;          // where in the engine's tensor: "[r, c]", "" for a whole tensor
  std::string source;         // what it is in the checkpoint: tensor, expert, shard, row, k-block
  std::string expected, found;
  std::int64_t count = 1;     // differing elements of this parameter under this verdict
};

// A shard whose block scales the engine kept as they were while applying another shard's global
// scale: every weight of it dequantizes `factor` = applied / own times its checkpoint value.
struct Unreconciled {
  std::string module, shard, source;
  float own = 0, applied = 0;
  double factor = 1;  // applied / own
  std::int64_t blocks = 0;
};

struct ModuleDiff {
  std::string module, kind;  // kind: "linear" or "experts"
  std::vector<std::string> params;  // dump names read, under the module
  std::vector<Mismatch> mismatches;
  std::vector<Unreconciled> unreconciled;
  bool absent = false;  // the dump has nothing under this module
  // Dump tensors under this module's name that no check here read and no rule explains: the module
  // fails naming them (its data may sit there unread), unless the run allows unknown names.
  std::vector<std::string> unexplained;
  // Dump tensors under this module that the release registers and never writes (its conventions
  // row names them): reported as unused placeholders, neither checked nor failed.
  std::vector<std::string> placeholders;
  bool ok(Verdict v) const;
};

// Records only the first mismatch of each (parameter, verdict) and counts the rest. A loop over
// elements asks counted() first, so that the strings of a mismatch are built once per parameter,
// not once per differing element (a dump of another checkpoint differs everywhere).
class MismatchLog {
 public:
  explicit MismatchLog(ModuleDiff& d) : d_(d) {}
  // True, and one more counted, when this (parameter, verdict) already has its first mismatch.
  bool counted(const std::string& param, Verdict v);
  void add(const std::string& param, Verdict v, std::string index, std::string source, std::string expected, std::string found);

 private:
  ModuleDiff& d_;
};

// "[a, b, c]": an index into an engine tensor.
std::string at(std::initializer_list<std::int64_t> idx);

}  // namespace nvfp4::diff

// The engine releases `nvfp4 diff` knows, and what it does for each: decode the dump, refuse a
// backend the release itself refuses (with the release's own reason and line), or stop because the
// release's conventions are not decoded yet. One row per release range; what each release holds
// after post-processing, read off its wheel, is in docs/engine-releases.md.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tools/diff/engine_dump.h"
#include "tools/diff/experts_diff.h"

namespace nvfp4::diff {

// Every release of the engine from the oldest known to the newest, ascending.
const std::vector<std::string>& known_releases(Engine e);
// The release whose conventions diff decodes, and what no version means.
const std::string& newest_release(Engine e);

// "sglang", "vllm==0.33.0": the engine and the version ("" when none is given). Usage error for
// another engine, a malformed spec or a release not in known_releases (the message lists them).
std::pair<Engine, std::string> parse_engine_spec(const std::string& spec);

enum class Support { Decoded, Refused, NotDecoded };
struct ReleaseRule {
  Engine engine;
  std::string first, last;             // the release range the row holds for, inclusive
  std::optional<MoeBackend> backend;   // the experts' backend; none: every module and backend
  Support support;
  std::string why;                     // for Refused and NotDecoded: what the release does
  std::string cite;                    // upstream FILE:LINE@VERSION (package-relative), first · last
};

// The row for experts on `backend` (none: the dump has no experts) in `version` of `e`: the
// backend's own row first, then the release's.
const ReleaseRule& release_rule(Engine e, const std::string& version, std::optional<MoeBackend> backend);
// Every row, in table order (for the tests and the report).
const std::vector<ReleaseRule>& release_rules();

}  // namespace nvfp4::diff

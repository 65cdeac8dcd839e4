// The engine releases `nvfp4 diff` knows, and what it does for each, looked up in the engine's
// conventions table (tools/diff/conventions.h): decode the dump through the rows for its release,
// checkpoint format and experts' backend, refuse a backend the release itself refuses (with the
// release's own reason and line), or stop because the release's conventions are not decoded yet.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tools/diff/conventions.h"

namespace nvfp4::diff {

// Every release of the engine from the oldest known to the newest, ascending.
const std::vector<std::string>& known_releases(Engine e);
// The release whose conventions diff decodes, and what no version means.
const std::string& newest_release(Engine e);

// "sglang", "vllm==0.33.0": the engine and the version ("" when none is given). Usage error for
// another engine, a malformed spec or a release not in known_releases (the message lists them).
std::pair<Engine, std::string> parse_engine_spec(const std::string& spec);

// What diff does with a dump of `version` of `e` from a checkpoint in format `f`, with experts on
// `backend` (none: the checkpoint has no experts): the rows that decode its linear modules and its
// experts, or the answer that stops it. In this order: the backend's own answer; the conventions
// rows, when there is a linear row and (with a backend) an experts row; the release's answer.
struct Resolution {
  const ReleaseRule* answer = nullptr;          // Refused or NotDecoded
  const LinearConvention* linear = nullptr;     // both set, or the experts one unset without a backend,
  const ExpertsConvention* experts = nullptr;   // when nothing stops the diff
  Support support() const { return answer ? answer->support : Support::Decoded; }
};
Resolution resolve(Engine e, const std::string& version, CkptFormat f, std::optional<MoeBackend> backend);

// The answer for experts on `backend` (none: the dump has no experts) in `version` of `e`, for a
// checkpoint in format `f`; where the rows decode it, a Decoded row spanning the releases they share.
ReleaseRule release_rule(Engine e, const std::string& version, std::optional<MoeBackend> backend, CkptFormat f = CkptFormat::ModelOpt);

// What diff does, as a Markdown table (README.md's list of supported releases, checked against it
// by a test): one line per engine, checkpoint format, module kind (linear; experts on each backend)
// and run of consecutive releases with the same answer: decoded, refused (the release's reason) or
// not decoded yet.
std::string support_table_markdown();

}  // namespace nvfp4::diff

// The whole of `nvfp4 diff` short of printing: every module of the checkpoint against the dump,
// streamed module by module. Shared by the command and the engine_dump fuzz target.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "tools/diff/conventions.h"
#include "tools/diff/engine_dump.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

struct DiffOptions {
  // "sglang", "vllm==0.33.0" or "" to detect (the version: the flag's, else the dump's metadata
  // `engine_version`, else the newest known).
  std::string engine;
  std::string backend;         // the experts' backend, "" to detect
  bool allow_unknown = false;  // modules with unexplained tensors are reported, not failed
  std::function<void(std::size_t)> on_start;                // once, with the number of modules
  std::function<void(const std::string&)> on_module;        // after each module (progress)
};

struct DiffRun {
  Engine engine;
  std::string engine_from;
  std::string version, version_from;  // the release whose conventions decode the dump, and who said so
  bool has_experts = false;
  MoeBackend backend = MoeBackend::FlashinferCutlass;
  std::string backend_from;
  std::vector<ModuleDiff> modules;
  std::vector<std::string> not_checked;  // modules no convention here decodes, with why
  std::vector<std::string> unread;       // dump tensors under no module of the checkpoint
  bool allow_unknown = false;            // modules with unexplained tensors are reported, not failed
  std::size_t present = 0, failed = 0, unexplained = 0;
};

// A release that refuses the experts' backend, or whose conventions for this checkpoint's format
// are not decoded (tools/diff/releases.h), is a Usage error saying so. Every dump tensor is read by
// a check, or falls under a module's name unexplained (that module fails, unless allow_unknown), or
// under no module (unread). A module is absent only when the dump holds nothing under its name.
// Throws BadInput when the dump holds none of the checkpoint's modules or a tensor cannot come
// from it, Usage when the engine or the experts' backend cannot be told.
DiffRun run_diff(const Checkpoint& c, const EngineDump& d, const DiffOptions& o = {});

}  // namespace nvfp4::diff

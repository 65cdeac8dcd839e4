// Every registered pipeline loads and processes one checkpoint for backend b: those that accept
// it, and the one-line errors of those that refuse it. The differential targets then require all
// or none to accept, and the accepted ones to agree.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/error.h"
#include "fuzz/fuzz_check.h"
#include "registry/registry.h"

namespace nvfp4::fuzz {

struct Loaded {
  std::vector<std::unique_ptr<Pipeline>> accepted;
  std::vector<std::string> refused;  // "pipeline: error"
};

inline Loaded load_every_pipeline(const std::filesystem::path& dir, Backend b) {
  Loaded r;
  for (const auto& name : pipeline_names()) {
    auto p = make_pipeline(name, b);
    try {
      p->load_weights(Checkpoint::open(dir));
      p->process_weights_after_loading(b);
      r.accepted.push_back(std::move(p));
    } catch (const Error& e) {
      check_error_line(e.what());
      r.refused.push_back(name + ": " + e.what());
    }
  }
  FUZZ_CHECK(r.accepted.empty() || r.refused.empty(), "pipelines disagree on whether to accept: %s", r.refused.front().c_str());
  return r;
}

}  // namespace nvfp4::fuzz

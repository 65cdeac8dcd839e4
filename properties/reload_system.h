// The system under test of the reload-order test (properties/reload_sequence_props.cpp): both
// pipelines, made through registry/ for the case's backend and starting empty, the pool of
// checkpoints they load, and the checks of each call against the model (properties/reload_model.h).
//
// After every command each pipeline must hold what a cold pipeline holds, built independently:
// fresh from the registry, loaded from the committed checkpoint and, when the model says
// processed, processed for the model's backend (names, aliases, bytes, reconciliation reports).
// The optimized pipeline must also keep each parameter's Parameter object and storage from the
// first time its name appeared, and allocate nothing once loaded (a GEMM's output aside). A refused
// call changes nothing: every name, alias, identity and address as before it. A failure names the
// step and its command, the pipeline, the parameter and its first differing byte.
#pragma once
#include <rapidcheck/state.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "checks/state.h"
#include "core/module_map.h"
#include "core/pipeline.h"
#include "core/test/temp_dir.h"
#include "generator/checkpoint_writer.h"
#include "properties/generators.h"
#include "properties/reload_model.h"

namespace nvfp4::reload_props {

struct Cold {
  State state;
  std::vector<Reconciliation> rec;
};

struct Pool {
  PipelineCase c;
  std::array<WriterOptions, kPool> opts;
  std::array<GeneratedCheckpoint, kPool> gen;
  std::array<TempDir, kPool> dirs;
  std::array<ModelSpec, 2> spec;  // by shapes_of(k)
  // (pipeline, checkpoint, backend or -1 unprocessed), built on first use
  std::map<std::tuple<std::string, int, int>, Cold> colds;

  void write(const PipelineCase& pc, const WriterOptions& r1, const WriterOptions& r2, const WriterOptions& other);
  Model model() const;
  // A pipeline of the registry, loaded from checkpoint k and processed for b, nothing else.
  const Cold& cold(const std::string& pipeline, int k, std::optional<Backend> b);
};

struct Sut {
  std::shared_ptr<Pool> pool;
  std::unique_ptr<Pipeline> ref, opt;
  // The optimized pipeline's Parameter and storage address of each name, since it first appeared.
  std::map<std::string, std::pair<const Parameter*, const void*>> opt_first;
  int step = 0;
};
Sut make_sut(std::shared_ptr<Pool> pool);

using Command = rc::state::Command<Model, Sut>;

// "step N (the command as shown)", for failure messages.
std::string step_name(const Sut& s, const Command& c);

// Each pipeline against its cold twin of the model's state, then the optimized pipeline's
// identities and addresses against those of each name's first appearance.
void require_state(Sut& s, const Model& m, const std::string& step);

// Runs one pipeline's call and checks it against the model's outcome; returns the refusal's
// message ("" when accepted). With count_allocations (the optimized pipeline, once loaded) the
// call must allocate nothing, refused or not; refused, it must leave every name, alias, identity
// and address as before.
std::string expect(const std::string& step, Pipeline& p, const Outcome& want, const std::function<void()>& f, bool count_allocations);

// Both pipelines, the optimized one first (its allocations are counted alone). Both refusing a
// load, they name the same first problem: the optimized checks run in the reference loaders'
// order (optimized/source_loader.h).
void expect_both(const Sut& s, const Model& m, const std::string& step, const Outcome& ref, const Outcome& opt,
                 const std::function<void(Pipeline&)>& f, bool same_message = false);

}  // namespace nvfp4::reload_props

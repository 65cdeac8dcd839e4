// The commands of the reload-order test (properties/reload_sequence_props.cpp), the calls the
// Pipeline API (core/pipeline.h) offers, in any order:
//   LoadPool      load pool checkpoint k by load_weights or update_weights_from_disk
//   LoadDamaged   load a damaged checkpoint: one kind of refusal (Refusal, properties/reload_model.h),
//                 by either call
//   Process       process_weights_after_loading, the case's backend or the other
//   Gemm          a linear module or one expert's w13/w2, w4a4 or w4a16
// Each one's random fields are drawn, in the order they are declared, when RapidCheck default-
// constructs it; the deterministic walk constructs them with its own values.
#pragma once
#include <rapidcheck.h>

#include <cstdint>
#include <filesystem>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "properties/generators.h"
#include "properties/reload_model.h"
#include "properties/reload_system.h"

namespace nvfp4::reload_props {

struct LoadPool : Command {
  int k = *rc::gen::inRange(0, kPool);
  Via via = *rc::gen::element(Via::Load, Via::Update);
  LoadPool() = default;
  LoadPool(int k, Via v) : k(k), via(v) {}
  void apply(Model& m) const override { commit(m, k); }
  void run(const Model& m, Sut& s) const override;
  void show(std::ostream& os) const override;
};

struct LoadDamaged : Command {
  Refusal r = *rc::gen::elementOf(std::vector<Refusal>(std::begin(kRefusals), std::end(kRefusals)));
  int k = *rc::gen::inRange(0, kPool);
  Via via = *rc::gen::element(Via::Load, Via::Update);
  std::uint64_t pick = *gen::any_u64();
  LoadDamaged() = default;
  LoadDamaged(Refusal r, int k, Via v, std::uint64_t pick) : r(r), k(k), via(v), pick(pick) {}

  // A damaged copy of a pool checkpoint of the committed one's shapes (else the shape check would
  // answer first): k itself before the first load.
  int base(const Model& m) const;
  // Writes the damaged copy of checkpoint b into dir; returns the tensor damaged ("" if none).
  // Without its input scale a module is a valid W4A16 one (core/module_map.cpp): a reload must
  // refuse it (other shapes), a first load may not.
  std::string write(const Pool& pool, int b, const std::filesystem::path& dir, bool first_load) const;
  void run(const Model& m, Sut& s) const override;
  void show(std::ostream& os) const override;
};

struct Process : Command {
  Backend b = *rc::gen::element(Backend::Cutlass, Backend::Trtllm);
  Process() = default;
  explicit Process(Backend b) : b(b) {}
  void apply(Model& m) const override;
  void run(const Model& m, Sut& s) const override;
  void show(std::ostream& os) const override;
};

struct Gemm : Command {
  std::int64_t M = *rc::gen::inRange<std::int64_t>(1, 6);
  GemmMode mode = *rc::gen::element(GemmMode::W4A4, GemmMode::W4A16);
  std::uint64_t pick = *gen::any_u64();
  Gemm() = default;
  Gemm(std::int64_t M, GemmMode mode, std::uint64_t pick) : M(M), mode(mode), pick(pick) {}
  void run(const Model& m, Sut& s) const override;
  void show(std::ostream& os) const override;
};

}  // namespace nvfp4::reload_props

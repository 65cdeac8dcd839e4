// The reference's weight loaders: every tensor of the checkpoint is copied into fresh
// create_weights parameters by shard id, and every row and slot written is counted, so that a
// slot loaded zero times (garbage reaching a max) or twice is an error, never a silent value.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/module.h"
#include "core/module_map.h"

namespace nvfp4::ref {

// Counts writes per row (dimension 0 of a flattened [rows, ...] parameter) or per slot.
class Coverage {
 public:
  void expect(const std::string& param, std::int64_t units) { counts_[param].assign(static_cast<std::size_t>(units), 0); }
  void mark(const std::string& param, std::int64_t first, std::int64_t count);
  // Throws BadInput naming the module, parameter and the first unit not written exactly once.
  void verify(const std::string& module) const;

 private:
  std::map<std::string, std::vector<int>> counts_;
};

// A global scale as ModelOpt means it (a decode scale), from F32/BF16, 0-dim or [1]; a
// compressed-tensors encode scale is inverted in f32. NaN, Inf, zero or negative: BadInput.
float load_decode_scale(const Checkpoint& c, const std::string& name, bool encode);
// Block scales [rows, Kb] E4M3; a NaN or negative byte is BadInput naming file, tensor and place.
Tensor load_block_scales(const Checkpoint& c, const std::string& name);
// Copies src (whole rows) into rows [row, row + src rows) of dst[.., rows, cols] (expert e or -1).
void copy_rows(Tensor& dst, std::int64_t expert, std::int64_t row, const Tensor& src, const std::string& what);
void set_f32(Tensor& t, std::int64_t index, float v);
float get_f32(const Tensor& t, std::int64_t index);
// Max over every slot of an F32 tensor (a per-shard scale parameter).
float max_of(const Tensor& t);

}  // namespace nvfp4::ref

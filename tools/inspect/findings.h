// Value checks on a mapped checkpoint, reported by `nvfp4 inspect` and `nvfp4 verify`:
// corrupt scales fail, notable-but-valid facts (shards whose scales differ, the zero-block
// convention in use) are informational.
#pragma once
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/module_map.h"

namespace nvfp4 {

struct Finding {
  enum class Level { Info, Fail } level;
  std::string file, tensor, what;
  std::string line() const;
};

std::vector<Finding> check_values(const Checkpoint& c, const ModelSpec& spec);

// An FP8 KV-cache scale (`*.k_scale`, `*.v_scale`): recognised and checked by check_values,
// counted apart from the other unquantized tensors.
bool is_kv_scale(const std::string& name);

// A global scale read from disk, converted to ModelOpt's decode meaning (s2, input_scale):
// compressed-tensors stores encode scales, so they are inverted in f32 (1/x).
float read_decode_scale(const Checkpoint& c, const std::string& name, bool encode);

}  // namespace nvfp4

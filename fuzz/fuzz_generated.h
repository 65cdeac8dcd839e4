// A small generated checkpoint whose every option comes from the fuzzer's bytes: format, fused or
// not, H and I (multiples of 16 up to 256, so off every 64/128 tile), 0-4 experts, GQA head
// counts, unequal shard scales, scalar storage, W4A16, zero-block code and share, seed. Used by the
// structure-aware targets, which must reach deep, valid states that random file bytes never do.
#pragma once
#include <filesystem>

#include "core/error.h"
#include "fuzz/byte_reader.h"
#include "generator/checkpoint_writer.h"

namespace nvfp4::fuzz {

inline WriterOptions generated_options(ByteReader& in) {
  WriterOptions o;
  o.layers = 1;
  o.format = in.flag() ? CkptFormat::ModelOpt : CkptFormat::CompressedTensors;
  o.fused = in.flag();
  o.head_dim = 16;
  o.hidden = 16 * in.in(1, 16);
  o.intermediate = 16 * in.in(1, 16);
  o.experts = static_cast<int>(in.in(0, 4));
  const std::int64_t heads = o.hidden / 16;
  o.kv_heads = in.flag() ? 0 : heads / in.in(1, heads);
  if (o.kv_heads > 0 && heads % o.kv_heads) o.kv_heads = 0;
  o.unequal_scales = !o.fused && in.flag();
  o.input_scales = in.in(0, 3) != 0;
  o.scalars = static_cast<ScalarStyle>(in.in(0, 2));
  o.zero_block_code = in.flag() ? 0x38 : in.byte() & 0x7E;  // never NaN (0x7F) or negative
  o.zero_block_fraction = in.in(0, 4) / 8.0;
  o.seed = in.u32();
  return o;
}

}  // namespace nvfp4::fuzz

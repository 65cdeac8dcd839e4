// The small model most tests write: one layer, H = 64 (4 heads of 16, 2 KV heads), I = 96.
#pragma once
#include "generator/checkpoint_writer.h"

namespace nvfp4 {

inline WriterOptions small_model() {
  WriterOptions o;
  o.layers = 1;
  o.hidden = 64;
  o.intermediate = 96;
  o.head_dim = 16;
  return o;
}

}  // namespace nvfp4

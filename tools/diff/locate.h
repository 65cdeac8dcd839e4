// The places of the 128x4 layout a diff report names (swizzled_offset, unlocate_swizzled) live with
// the other shared decoders in tools/diff/decode.h; this header names them for their own test.
#pragma once
#include "tools/diff/decode.h"

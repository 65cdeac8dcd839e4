#include "optimized/moe_shuffle.h"

#include <cstring>
#include <stdexcept>

#include "optimized/mutants.h"

namespace nvfp4::opt {

namespace {

void need_scratch(std::span<std::uint8_t> scratch, std::int64_t bytes) {
  if (static_cast<std::int64_t>(scratch.size()) < bytes) throw std::logic_error("moe shuffle: scratch smaller than one expert");
}

}  // namespace

void gather_weight_rows_in_place(std::uint8_t* storage, std::int64_t E, std::int64_t rows_in, std::int64_t cols_in,
                                 const RowMap& map, std::int64_t cols_out, std::span<std::uint8_t> scratch) {
  const std::int64_t in_bytes = rows_in * cols_in, out_bytes = map.rows_out * cols_out;
  need_scratch(scratch, in_bytes);
  const std::int64_t* src = map.data();
  for (std::int64_t e = E; e-- > 0;) {
    const std::int64_t from = mutant(5) && e > 0 ? e - 1 : e;  // mutant 5: the previous expert's rows
    std::memcpy(scratch.data(), storage + from * in_bytes, static_cast<std::size_t>(in_bytes));
    std::uint8_t* out = storage + e * out_bytes;
    for (std::int64_t n = 0; n < map.rows_out; ++n) {
      std::uint8_t* row = out + n * cols_out;
      if (src[n] < 0) {
        std::memset(row, 0, static_cast<std::size_t>(cols_out));
        continue;
      }
      std::memcpy(row, scratch.data() + src[n] * cols_in, static_cast<std::size_t>(cols_in));
      std::memset(row + cols_in, 0, static_cast<std::size_t>(cols_out - cols_in));
    }
  }
}

void gather_scale_rows_in_place(std::uint8_t* storage, std::int64_t E, std::int64_t rows_in, std::int64_t cols_in,
                                const RowMap& map, const SwizzleMap& s, std::span<const RowGroups> groups,
                                std::span<std::uint8_t> scratch) {
  if (s.M != map.rows_out || s.K < cols_in) throw std::logic_error("moe shuffle: swizzle map does not fit the rows");
  const std::int64_t in_bytes = rows_in * cols_in, out_bytes = s.batch_bytes();
  need_scratch(scratch, in_bytes);
  const std::int64_t* src = map.data();
  const std::int64_t* ro = s.rows();
  const std::int64_t* co = s.cols();
  for (std::int64_t e = E; e-- > 0;) {
    // The input rows through their byte maps into scratch, then scattered to their output places.
    const RowGroups& g = groups[static_cast<std::size_t>(e)];
    const std::uint8_t* in = storage + e * in_bytes;
    if (g.all_identity()) {
      std::memcpy(scratch.data(), in, static_cast<std::size_t>(in_bytes));
    } else {
      int gi = 0;
      for (std::int64_t r = 0; r < rows_in; ++r) {
        while (gi + 1 < g.count && g.end[static_cast<std::size_t>(gi)] <= r) ++gi;
        const ByteMap& m = *g.map[static_cast<std::size_t>(gi)];
        for (std::int64_t k = 0; k < cols_in; ++k) scratch[static_cast<std::size_t>(r * cols_in + k)] = m[in[r * cols_in + k]];
      }
    }
    std::uint8_t* out = storage + e * out_bytes;
    std::memset(out, 0, static_cast<std::size_t>(out_bytes));
    // Four consecutive columns (from a multiple of 4) stay together in the 128x4 layout.
    const std::int64_t k4 = cols_in / 4 * 4;
    for (std::int64_t n = 0; n < map.rows_out; ++n) {
      if (src[n] < 0) continue;
      const std::uint8_t* row = scratch.data() + src[n] * cols_in;
      std::uint8_t* o = out + ro[n];
      for (std::int64_t k = 0; k < k4; k += 4) std::memcpy(o + co[k], row + k, 4);
      for (std::int64_t k = k4; k < cols_in; ++k) o[co[k]] = row[k];
    }
  }
}

}  // namespace nvfp4::opt

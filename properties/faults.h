// Damage to one tensor of a generated checkpoint, as a reload may meet it: the file cut short
// inside the tensor, the tensor missing, its shape changed, or a bad value in a scale (a NaN or
// negative block scale; a NaN, infinite, zero or negative global scale).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "generator/checkpoint_writer.h"

namespace nvfp4 {

enum class Fault { Truncate, Drop, Reshape, NanScale, NegativeScale, InfScale, ZeroScale };
std::string fault_name(Fault f);

// The quantized tensors of a generated checkpoint: the ones every load reads.
std::vector<std::string> quantized_tensors(const GeneratedCheckpoint& g, CkptFormat f);
// The faults that make sense for `tensor` (no Inf in an E4M3 block scale, no bad value in packed
// weights).
std::vector<Fault> faults_for(const GeneratedCheckpoint& g, CkptFormat f, const std::string& tensor);
// Writes g into dir with `tensor` damaged by `fault` (`pick` chooses which element or by how much).
void write_damaged(const std::filesystem::path& dir, GeneratedCheckpoint g, int files, const std::string& tensor, Fault fault,
                   std::uint64_t pick);

}  // namespace nvfp4

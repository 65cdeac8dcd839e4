// Hand-made safetensors images, each with the error the strict reader must give. Shared by the
// unit test and by fuzz/make_seed_corpus (which writes them into corpus/safetensors_reader/), so
// the committed corpus and the expectations cannot drift apart.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nvfp4::testdata {

inline std::vector<std::uint8_t> st_image(const std::string& header, std::size_t data_bytes,
                                          std::uint64_t declared_len = UINT64_MAX) {
  std::uint64_t n = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::vector<std::uint8_t> b(8 + header.size());
  for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  for (std::size_t i = 0; i < header.size(); ++i) b[8 + i] = static_cast<std::uint8_t>(header[i]);
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<std::uint8_t>(i * 37 + 1));
  return b;
}

struct StCase {
  std::string name;
  std::vector<std::uint8_t> bytes;
  std::string error;   // substring of the message; empty = the file is valid
  std::string tensor;  // tensor the error names ("" = none)
};

inline std::vector<StCase> safetensors_cases() {
  const std::string a2 = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  std::vector<StCase> c;
  c.push_back({"valid_one_tensor", st_image("{" + a2 + "}", 8), "", ""});
  c.push_back({"valid_empty", st_image("{}", 0), "", ""});
  c.push_back({"valid_scalar_and_zero_sized",
               st_image(R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"z":{"dtype":"BF16","shape":[0,3],"data_offsets":[4,4]}})", 4), "", ""});
  // Valid but unusual: zero-length tensors sharing an offset with each other and with the next
  // tensor's start; header keys in an order other than their offsets' (safetensors sorts by offset
  // before checking contiguity: safetensors/src/tensor.rs `validate`).
  c.push_back({"valid_zero_sized_sharing_an_offset",
               st_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z1":{"dtype":"U8","shape":[0],"data_offsets":[4,4]},)"
                        R"("z2":{"dtype":"F32","shape":[2,0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "", ""});
  c.push_back({"valid_keys_not_in_offset_order",
               st_image(R"({"c":{"dtype":"U8","shape":[4],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 12), "", ""});
  c.push_back({"valid_whitespace_padding", st_image(" \t\n{" + a2 + "}  \r\n", 8), "", ""});
  c.push_back({"valid_metadata_null", st_image(R"({"__metadata__":null,)" + a2 + "}", 8), "", ""});
  c.push_back({"valid_f4_even_count", st_image(R"({"f":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}})", 3), "", ""});
  c.push_back({"empty_file", {}, "shorter than the 8-byte header length", ""});
  c.push_back({"truncated_length", {1, 0, 0}, "shorter than the 8-byte header length", ""});
  c.push_back({"header_past_eof", st_image("{" + a2 + "}", 8, 4096), "runs past the end of the file", ""});
  c.push_back({"huge_header_length", st_image("{}", 0, 200'000'000), "exceeds the 100000000-byte limit", ""});
  c.push_back({"header_length_overflow", st_image("{}", 0, UINT64_MAX - 3), "exceeds the 100000000-byte limit", ""});
  c.push_back({"not_an_object", st_image("[1,2]", 0), "must start with '{'", ""});
  c.push_back({"empty_header", st_image("   ", 0), "header is empty", ""});
  c.push_back({"bad_json", st_image(R"({"a":{"dtype":"F32",)", 0), "invalid JSON header", ""});
  c.push_back({"trailing_comma", st_image("{" + a2 + ",}", 8), "invalid JSON header", ""});
  c.push_back({"trailing_garbage_in_header", st_image("{" + a2 + "}x", 8), "invalid JSON header", ""});
  c.push_back({"bad_utf8", st_image("{\"\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
               "invalid JSON header", ""});
  c.push_back({"nul_padding", st_image(std::string("{}") + std::string(6, '\0'), 0), "NUL byte at offset 2", ""});
  c.push_back({"overlapping_offsets",
               st_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
               "(overlap)", "b"});
  c.push_back({"hole_in_offsets",
               st_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12),
               "(hole)", "b"});
  c.push_back({"first_not_at_zero", st_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "(hole)", "a"});
  c.push_back({"inverted_offsets", st_image(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", 8), "are inverted", "a"});
  c.push_back({"float_offsets", st_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})", 8),
               "must hold unsigned integers only, not a non-integer number 8.0", "a"});
  c.push_back({"negative_dim", st_image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
               "not a negative integer -2", "a"});
  c.push_back({"three_offsets", st_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", 8),
               "exactly 2 integers, not 3", "a"});
  c.push_back({"shape_byte_mismatch", st_image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
               "needs 12 bytes but data_offsets span 8", "a"});
  c.push_back({"shape_overflow",
               st_image(R"({"a":{"dtype":"F32","shape":[2,9223372036854775807],"data_offsets":[0,8]}})", 8), "overflows", "a"});
  c.push_back({"f4_odd_count", st_image(R"({"f":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2),
               "not a whole number of bytes", "f"});
  c.push_back({"unknown_dtype", st_image(R"({"a":{"dtype":"F8_E4M3FN","shape":[2],"data_offsets":[0,2]}})", 2),
               "unknown dtype \"F8_E4M3FN\"", "a"});
  c.push_back({"duplicate_tensor", st_image("{" + a2 + "," + a2 + "}", 8), "duplicate key \"a\"", "a"});
  c.push_back({"duplicate_field", st_image(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
               "duplicate key \"dtype\"", "a"});
  c.push_back({"duplicate_metadata_key", st_image(R"({"__metadata__":{"k":"1","k":"2"}})", 0), "duplicate key \"k\"", "__metadata__"});
  c.push_back({"duplicate_metadata", st_image(R"({"__metadata__":{},"__metadata__":{}})", 0), "duplicate key \"__metadata__\"", "__metadata__"});
  c.push_back({"metadata_number_value", st_image(R"({"__metadata__":{"k":1}})", 0), "value of \"k\" must be a string", "__metadata__"});
  c.push_back({"metadata_not_object", st_image(R"({"__metadata__":"x"})", 0), "must be an object of strings", "__metadata__"});
  c.push_back({"unknown_field", st_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8),
               "unknown field \"x\"", "a"});
  c.push_back({"missing_dtype", st_image(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "missing \"dtype\"", "a"});
  c.push_back({"tensor_not_object", st_image(R"({"a":[0,8]})", 8), "tensor entry must be an object", "a"});
  c.push_back({"nested_shape", st_image(R"({"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", 8), "unsigned integers only", "a"});
  c.push_back({"trailing_bytes", st_image("{" + a2 + "}", 9), "(trailing bytes)", ""});
  c.push_back({"truncated_data", st_image("{" + a2 + "}", 5), "(truncated)", ""});
  // Same offsets for ten tensors: safetensors' test_json_attack.
  std::string attack = "{";
  for (int i = 0; i < 10; ++i)
    attack += (i ? "," : "") + std::string("\"t") + std::to_string(i) + R"(":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})";
  c.push_back({"json_attack_shared_offsets", st_image(attack + "}", 16), "(overlap)", ""});
  return c;
}

}  // namespace nvfp4::testdata

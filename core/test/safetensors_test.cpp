#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/codecs.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/test/malformed_safetensors.h"
#include "core/test/temp_dir.h"

namespace nvfp4 {
namespace {

TEST(SafetensorsReader, MalformedAndEdgeCasesGiveNamedErrors) {
  for (const auto& c : testdata::safetensors_cases()) {
    SCOPED_TRACE(c.name);
    if (c.error.empty()) {
      EXPECT_NO_THROW(SafetensorsFile::parse(c.bytes, c.name));
      continue;
    }
    try {
      SafetensorsFile::parse(c.bytes, c.name);
      ADD_FAILURE() << "accepted a malformed file";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::BadInput);
      EXPECT_EQ(e.file(), c.name);
      EXPECT_NE(e.problem().find(c.error), std::string::npos) << "message: " << e.what();
      if (!c.tensor.empty()) {
        EXPECT_EQ(e.tensor(), c.tensor) << "message: " << e.what();
      }
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
    }
  }
}

TEST(SafetensorsReader, ReadsZeroCopyViews) {
  auto bytes = testdata::st_image(R"({"__metadata__":{"format":"pt"},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 11);
  SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // sorted by name
  EXPECT_EQ(f.metadata().at("format"), "pt");
  Tensor b = f.tensor("b");
  EXPECT_EQ(b.dtype(), DType::U8);
  EXPECT_EQ(b.address(), bytes.data() + 8 + f.header_size() + 8);
  EXPECT_THROW(f.tensor("c"), Error);
}

TEST(SafetensorsWriter, WritesSortedPaddedAndReadsBack) {
  Tensor a = Tensor::zeros(DType::U8, {3});
  Tensor b = Tensor::zeros(DType::F32, {2, 2});
  b.data_as<float>()[3] = 1.5f;
  auto bytes = serialize_safetensors({{"z_u8", a}, {"b_f32", b}}, {{"k", "v"}});
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  EXPECT_EQ(n % 8, 0u) << "data section must start 8-aligned";
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  EXPECT_LT(header.find("b_f32"), header.find("z_u8")) << "4-byte dtypes first";
  SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  EXPECT_TRUE(f.tensor("b_f32").bitwise_equal(b));
  EXPECT_TRUE(f.tensor("z_u8").bitwise_equal(a));
  EXPECT_THROW(serialize_safetensors({{"__metadata__", a}}), Error);
  EXPECT_THROW(serialize_safetensors({{"x", a}, {"x", a}}), Error);
}

TEST(SafetensorsWriter, AtomicWriteLeavesNoPartialFile) {
  TempDir d;
  Tensor a = Tensor::zeros(DType::F32, {4});
  write_safetensors(d.path() / "x.safetensors", {{"a", a}});
  EXPECT_TRUE(SafetensorsFile::open(d.path() / "x.safetensors").find("a"));
  // A failing write (the target is a directory) leaves neither the target nor a temporary.
  std::filesystem::create_directory(d.path() / "blocked.safetensors");
  std::filesystem::create_directory(d.path() / "blocked.safetensors" / "child");
  EXPECT_THROW(write_safetensors(d.path() / "blocked.safetensors", {{"a", a}}), Error);
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(d.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  EXPECT_THROW(serialize_safetensors({{"__metadata__", a}}), Error);
}

TEST(SafetensorsWriter, StreamingAppendGrowsATensorAlongItsFirstDimension) {
  // Rows 0-1 and 2 of one [3, 3] F32 tensor, with another tensor added between the pieces: the
  // in-memory writer's file of the whole tensor, byte for byte.
  Tensor whole = Tensor::zeros(DType::F32, {3, 3}), other = Tensor::zeros(DType::U8, {5});
  for (int i = 0; i < 9; ++i) whole.data_as<float>()[i] = 0.5f * static_cast<float>(i) - 1.0f;
  for (int i = 0; i < 5; ++i) other.data_as<std::uint8_t>()[i] = static_cast<std::uint8_t>(7 * i);
  TempDir d;
  StreamingSafetensorsWriter w(d.path() / "s.safetensors");
  w.append("w", whole.narrow0(0, 2));
  w.add("other", other);
  w.append("w", whole.narrow0(2, 1));
  w.finish({{"k", "v"}});
  write_safetensors(d.path() / "m.safetensors", {{"w", whole}, {"other", other}}, {{"k", "v"}});
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(slurp(d.path() / "s.safetensors"), slurp(d.path() / "m.safetensors"));
}

TEST(SafetensorsWriter, StreamingAppendRefusesAPieceOfAnotherShape) {
  TempDir d;
  StreamingSafetensorsWriter w(d.path() / "s.safetensors");
  w.append("w", Tensor::zeros(DType::F32, {2, 3}));
  auto refused = [&](const Tensor& piece, const std::string& problem) {
    try {
      w.append("w", piece);
      ADD_FAILURE() << "accepted " << problem;
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), (d.path() / "s.safetensors").string());
      EXPECT_EQ(e.tensor(), "w");
      EXPECT_NE(e.problem().find(problem), std::string::npos) << e.what();
    }
  };
  refused(Tensor::zeros(DType::F32, {1, 4}), "cannot append F32 [1, 4] to F32 [2, 3]");
  refused(Tensor::zeros(DType::U8, {1, 3}), "cannot append U8 [1, 3] to F32 [2, 3]");
  refused(Tensor::zeros(DType::F32, {3}), "cannot append F32 [3] to F32 [2, 3]");
  try {
    w.append("s", Tensor::scalar_f32(1.0f));
    ADD_FAILURE() << "a 0-d tensor has no first dimension to grow";
  } catch (const Error& e) {
    EXPECT_EQ(e.tensor(), "s");
  }
}

TEST(SafetensorsReader, OpenNamesTheFile) {
  TempDir d;
  std::ofstream(d.path() / "bad.safetensors") << "xx";
  try {
    SafetensorsFile::open(d.path() / "bad.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos);
  }
  EXPECT_THROW(SafetensorsFile::open(d.path() / "missing.safetensors"), Error);
}

}  // namespace
}  // namespace nvfp4

// PlannedSafetensorsWriter: the header from the plan, each tensor's bytes written in pieces, in any
// order, from several threads, give the in-memory writer's file byte for byte; a tensor left short,
// a name not planned or bytes past a tensor's end are errors naming file and tensor, and nothing is
// left behind when finish() is not reached.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"

namespace nvfp4 {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(PlannedWriter, PiecesFromThreadsInAnyOrderGiveTheInMemoryWritersFile) {
  // Names and dtypes chosen so that the file's order (alignment, then name) is not the plan's.
  Tensor big = Tensor::zeros(DType::U8, {300, 7}), f = Tensor::zeros(DType::F32, {5}), h = Tensor::zeros(DType::BF16, {3, 2});
  for (std::int64_t i = 0; i < big.numel(); ++i) big.data()[i] = static_cast<std::uint8_t>(i * 31 + 7);
  for (int i = 0; i < 5; ++i) f.data_as<float>()[i] = 1.5f * static_cast<float>(i) - 2.0f;
  for (int i = 0; i < 6; ++i) h.data_as<std::uint16_t>()[i] = static_cast<std::uint16_t>(0x3F80 + i);
  const Tensor empty = Tensor::zeros(DType::F32, {0, 4});
  TempDir d;
  const std::vector<TensorSpec> plan{{"a.big", DType::U8, {300, 7}}, {"z.f", DType::F32, {5}}, {"m.h", DType::BF16, {3, 2}},
                                     {"e", DType::F32, {0, 4}}};
  PlannedSafetensorsWriter w(d.path() / "p.safetensors", plan, {{"format", "pt"}});
  std::thread t([&] {  // the second half of big, in rows of 7 from the end
    for (std::int64_t r = 299; r >= 150; --r) w.write("a.big", static_cast<std::uint64_t>(r * 7), big.bytes().subspan(static_cast<std::size_t>(r * 7), 7));
  });
  w.write("z.f", 8, f.bytes().subspan(8));
  w.write("m.h", 0, h.bytes());
  w.write("a.big", 0, big.bytes().subspan(0, 150 * 7));
  w.write("z.f", 0, f.bytes().subspan(0, 8));
  t.join();
  w.finish();
  write_safetensors(d.path() / "m.safetensors", {{"a.big", big}, {"z.f", f}, {"m.h", h}, {"e", empty}}, {{"format", "pt"}});
  EXPECT_EQ(slurp(d.path() / "p.safetensors"), slurp(d.path() / "m.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(d.path() / ("p.safetensors.tmp." + std::to_string(::getpid()))));
}

TEST(PlannedWriter, ShortUnknownAndOverlongAreNamedErrorsAndLeaveNothing) {
  TempDir d;
  const auto path = d.path() / "p.safetensors";
  auto expect_error = [&](auto&& f, const std::string& tensor, const std::string& problem) {
    try {
      f();
      ADD_FAILURE() << "accepted: " << problem;
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), path.string());
      EXPECT_EQ(e.tensor(), tensor);
      EXPECT_NE(e.problem().find(problem), std::string::npos) << e.what();
    }
  };
  {
    PlannedSafetensorsWriter w(path, {{"t", DType::F32, {4}}, {"u", DType::U8, {2}}});
    const std::uint8_t bytes[16] = {};
    expect_error([&] { w.write("nope", 0, {bytes, 4}); }, "nope", "not a tensor this file was planned with");
    expect_error([&] { w.write("t", 12, {bytes, 8}); }, "t", "past the tensor's end");
    expect_error([&] { w.write("t", 20, {bytes, 0}); }, "t", "past the tensor's end");
    w.write("t", 0, {bytes, 16});
    w.write("u", 0, {bytes, 1});
    expect_error([&] { w.finish(); }, "u", "1 of its 2 bytes were written");
  }
  EXPECT_TRUE(std::filesystem::is_empty(d.path())) << "no file and no temporary left";
  expect_error([&] { PlannedSafetensorsWriter w(path, {{"t", DType::F32, {1}}, {"t", DType::U8, {1}}}); }, "t", "given twice");
  expect_error([&] { PlannedSafetensorsWriter w(path, {{"q", DType::F4, {3}}}); }, "q", "not a whole number of bytes");
}

}  // namespace
}  // namespace nvfp4

// EngineDump::of_views: tensors held in memory (the Python package's nvfp4.diff on a live state
// dict) go through every check a dump file goes through: each committed dump, copied into memory,
// gets the file's report, verdict for verdict (the expectation is the file's own report, an
// independent path through the safetensors reader); views whose bytes cannot hold their dtype and
// shape, or a name given twice, are refused naming the tensor.
#include <filesystem>

#include "core/error.h"
#include "tools/cli/diff_report.h"
#include "tools/diff/diff_run.h"
#include "tools/diff/engine_dump.h"
#include "tools/test/diff_test_util.h"

namespace nvfp4::diff_test {
namespace {

// Copies of a dump's tensors, and views of them.
struct InMemory {
  std::vector<std::vector<std::uint8_t>> bytes;
  std::vector<diff::DumpView> views;
};

InMemory copy_of(const diff::EngineDump& file) {
  InMemory m;
  for (const auto& name : file.names()) {
    const Tensor t = file.tensor(name);
    m.bytes.emplace_back(t.bytes().begin(), t.bytes().end());
    m.views.push_back({name, t.dtype(), t.shape(), {}});
  }
  for (std::size_t i = 0; i < m.views.size(); ++i) m.views[i].bytes = m.bytes[i];
  return m;
}

// The report, or the error's kind and problem where the diff refuses.
nlohmann::json report_or_error(const Checkpoint& c, const diff::EngineDump& d) {
  try {
    return cli::diff_report_json(diff::run_diff(c, d), c, "label");
  } catch (const Error& e) {
    return {{"kind", static_cast<int>(e.kind())}, {"tensor", e.tensor()}, {"problem", e.problem()}};
  }
}

TEST(DiffInMemory, EveryCommittedDumpGivesTheFilesReport) {
  int compared = 0, failing = 0;
  for (const auto& e : std::filesystem::directory_iterator(kData)) {
    if (e.path().extension() != ".safetensors") continue;
    const std::string stem = e.path().filename().string();
    const Checkpoint c = Checkpoint::open(kData + "/" + stem.substr(0, stem.find('.')));
    const diff::EngineDump file = diff::EngineDump::open(e.path());
    const InMemory m = copy_of(file);
    const diff::EngineDump mem = diff::EngineDump::of_views("<state>", m.views, file.metadata());
    const nlohmann::json want = report_or_error(c, file);
    EXPECT_EQ(report_or_error(c, mem), want) << stem;
    ++compared;
    failing += want.contains("passed") && !want.at("passed").get<bool>();
  }
  EXPECT_GE(compared, 40);
  EXPECT_GE(failing, 5) << "failing dumps too, so equal reports mean equal findings";
}

void expect_refused(const std::vector<diff::DumpView>& views, const std::string& tensor, const std::string& problem) {
  try {
    diff::EngineDump::of_views("<state>", views);
    ADD_FAILURE() << "accepted: " << problem;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput);
    EXPECT_EQ(e.file(), "<state>");
    EXPECT_EQ(e.tensor(), tensor);
    EXPECT_EQ(e.problem(), problem);
  }
}

TEST(DiffInMemory, ViewsThatCannotBeTheirTensorAreRefusedByName) {
  std::vector<std::uint8_t> b(12);
  const std::span<const std::uint8_t> all(b), three(b.data(), 3);
  expect_refused({{"w", DType::F32, {3}, three}}, "w", "holds 3 bytes but F32[3] needs 12");
  expect_refused({{"w", DType::U8, {2, 2}, all}}, "w", "holds 12 bytes but U8[2, 2] needs 4");
  expect_refused({{"a", DType::F32, {3}, all}, {"a", DType::U8, {12}, all}}, "a", "given twice: a name must be given once");
  const diff::EngineDump d = diff::EngineDump::of_views("<state>", {{"a", DType::F32, {3}, all}}, {{"engine", "vllm"}});
  EXPECT_EQ(d.tensor("a").data(), b.data()) << "a view, not a copy";
  EXPECT_EQ(d.file_of("a"), "<state>");
  EXPECT_EQ(d.metadata().at("engine"), "vllm");
}

}  // namespace
}  // namespace nvfp4::diff_test

// Each pipeline check of checks/ against a pipeline made to break it, one fault at a time: a toy
// Pipeline of one module whose reload can change a byte, replace the Parameter object, move the
// storage, allocate, accept what it must refuse, or change its state before refusing. Each check
// must hold on the faithful pipeline and fail, naming the fault, on exactly the faults it is for.
#include <gtest/gtest.h>

#include "checks/agreement.h"
#include "checks/memory.h"
#include "checks/reload.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"

namespace nvfp4::checks {
namespace {

enum class Fault { None, Byte, NewParameter, MovedStorage, Allocates, AcceptsBad, ChangesThenRefuses, ReconcilesThenRefuses, Reconciles };

// One module "m" with a weight of 8 bytes and an alias of it. A checkpoint with a tensor named
// "bad" is refused; any other reloads the same bytes (the faithful behaviour) unless `fault` says.
class Toy : public Pipeline {
 public:
  explicit Toy(Fault f, std::string name = "toy") : fault_(f), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void load_weights(const Checkpoint&) override {
    Tensor t = Tensor::empty(DType::U8, {8});
    for (int i = 0; i < 8; ++i) t.data()[i] = static_cast<std::uint8_t>(i);
    modules_["m"].add("weight", t);
    modules_["m"].alias("weight_alias", "weight");
  }
  void process_weights_after_loading(Backend) override {}
  void update_weights_from_disk(const Checkpoint& c) override {
    const bool bad = c.has("bad");
    Module& m = modules_["m"];
    if (bad && fault_ == Fault::ChangesThenRefuses) m.tensor("weight").data()[3] ^= 1;
    if (bad && fault_ == Fault::ReconcilesThenRefuses) recs_.push_back({"m", "q", 1.0f, 2.0f, 0.01});
    if (bad && fault_ != Fault::AcceptsBad) throw Error(ErrorKind::BadInput, "ckpt", "bad", "refused");
    if (fault_ == Fault::Byte) m.tensor("weight").data()[5] ^= 0x10;
    if (fault_ == Fault::NewParameter) m.bind("weight", std::make_shared<Parameter>(Parameter{m.tensor("weight").clone()})), m.alias("weight_alias", "weight");
    if (fault_ == Fault::MovedStorage) m.tensor("weight") = m.tensor("weight").clone();
    if (fault_ == Fault::Allocates) scratch_ = Tensor::empty(DType::U8, {64});
    if (fault_ == Fault::Reconciles) recs_.push_back({"m", "q", 1.0f, 2.0f, 0.01});
  }
  const std::map<std::string, Module>& modules() const override { return modules_; }
  const ModelSpec& spec() const override { return spec_; }
  const std::vector<Reconciliation>& reconciliations() const override { return recs_; }
  Tensor gemm(const GemmTarget&, const Tensor&, GemmMode) const override { throw Error(ErrorKind::Usage, "", "", "no GEMM"); }

 private:
  Fault fault_;
  std::string name_;
  std::map<std::string, Module> modules_;
  ModelSpec spec_;
  std::vector<Reconciliation> recs_;
  Tensor scratch_;
};

// A checkpoint of one one-byte tensor named `name`.
Checkpoint one_tensor(const std::string& name) {
  static TempDir dir;
  const auto d = dir.path() / name;
  std::filesystem::create_directories(d);
  Tensor t = Tensor::empty(DType::U8, {1});
  t.data()[0] = 0;
  write_safetensors(d / "model.safetensors", {{name, t}});
  return Checkpoint::open(d);
}
Checkpoint empty_checkpoint() { return one_tensor("w"); }
Checkpoint bad_checkpoint() { return one_tensor("bad"); }

Toy loaded(Fault f, std::string name = "toy") {
  Toy t(f, std::move(name));
  t.load_weights(empty_checkpoint());
  return t;
}

const ReloadPromise kAddresses{Same::Addresses, true}, kIdentities{Same::Identities, false};

TEST(PipelineChecks, ReloadIdempotentFailsOnExactlyItsFaults) {
  struct Case {
    Fault f;
    ReloadPromise promise;
    bool holds;
    const char* says;
  };
  const Case cases[] = {
      {Fault::None, kAddresses, true, ""},
      {Fault::Byte, kIdentities, false, "byte 5"},
      {Fault::NewParameter, kIdentities, false, "a different Parameter object"},
      {Fault::NewParameter, {Same::Bytes, false}, true, ""},  // a promise of bytes only is kept
      {Fault::MovedStorage, kAddresses, false, "its storage moved"},
      {Fault::MovedStorage, kIdentities, true, ""},
      {Fault::Allocates, kAddresses, false, "allocated 64 bytes in 1 allocations"},
      {Fault::Allocates, kIdentities, true, ""},
  };
  for (const Case& c : cases) {
    Toy t = loaded(c.f);
    const State first = capture(t);
    const Result r = reload_idempotent(t, empty_checkpoint(), first, c.promise, "reload 1");
    EXPECT_EQ(r.ok, c.holds) << static_cast<int>(c.f) << ": " << r.detail;
    EXPECT_NE(r.detail.find(c.says), std::string::npos) << r.detail;
  }
}

TEST(PipelineChecks, FailedReloadFailsOnAcceptanceAndOnAChangedState) {
  for (Fault f : {Fault::None, Fault::AcceptsBad, Fault::ChangesThenRefuses, Fault::ReconcilesThenRefuses}) {
    Toy t = loaded(f);
    const Result r = failed_reload(t, bad_checkpoint(), capture(t), t.reconciliations(), kAddresses, "of a bad file");
    EXPECT_EQ(r.ok, f == Fault::None) << r.detail;
    if (f == Fault::AcceptsBad) {
      EXPECT_EQ(r.detail, "toy accepted a reload of a bad file");
    }
    if (f == Fault::ChangesThenRefuses) {
      EXPECT_NE(r.detail.find("weight U8[8] byte 3"), std::string::npos) << r.detail;
    }
    if (f == Fault::ReconcilesThenRefuses) {
      EXPECT_EQ(r.detail, "toy: 0 reconciled shards in before, 1 in after the failed reload");
    }
    if (f == Fault::None) {
      EXPECT_EQ(r.values.at("refused"), "ckpt: bad: refused") << r.values.dump();
    }
  }
}

TEST(PipelineChecks, AgreementSeesBytesAliasesAndReconciliations) {
  Toy a = loaded(Fault::None, "a"), b = loaded(Fault::Byte, "b");
  EXPECT_TRUE(agreement(a, b).ok);
  EXPECT_EQ(agreement(a, b).detail, "2 parameters");
  b.update_weights_from_disk(empty_checkpoint());
  const Result bytes = agreement(a, b);
  EXPECT_FALSE(bytes.ok);
  EXPECT_NE(bytes.detail.find("byte 5"), std::string::npos) << bytes.detail;
  Toy c = loaded(Fault::Reconciles, "c");
  c.update_weights_from_disk(empty_checkpoint());
  const Result recs = agreement(a, c);
  EXPECT_FALSE(recs.ok);
  EXPECT_EQ(recs.detail, "0 reconciled shards in a, 1 in c");
}

// Exactly resident passes; one byte more than resident allocated, or a peak one byte past
// resident + scratch, fails.
TEST(PipelineChecks, MemoryContractAtItsLimits) {
  const MemoryBudget budget{1000, 200};
  EXPECT_TRUE(memory_contract({1000, 1200, 3, 1000}, budget).ok);
  EXPECT_FALSE(memory_contract({1001, 1200, 3, 1001}, budget).ok);
  EXPECT_FALSE(memory_contract({1000, 1201, 3, 1000}, budget).ok);
  EXPECT_FALSE(memory_contract({999, 1000, 3, 999}, budget).ok);
  EXPECT_EQ(memory_contract({1000, 1200, 3, 1000}, budget).values.at("peak_bytes"), 1200);
}

}  // namespace
}  // namespace nvfp4::checks

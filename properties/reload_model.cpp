#include "properties/reload_model.h"

#include <utility>

namespace nvfp4::reload_props {

int shapes_of(int k) { return k == kOtherShapes ? 1 : 0; }

const char* via_name(Via v) { return v == Via::Load ? "load_weights" : "update_weights_from_disk"; }
void call(Pipeline& p, Via v, const Checkpoint& c) {
  if (v == Via::Load) p.load_weights(c);
  else p.update_weights_from_disk(c);
}

RefusalInfo info(Refusal r) {
  switch (r) {
    case Refusal::Missing: return {"a tensor missing", {"missing", "not found", "present on some", "a reload must keep every module's shape"}};
    case Refusal::WrongShape: return {"a tensor of the wrong shape", {"expected", "does not fit", "does not match"}};
    case Refusal::WrongDtype: return {"a tensor of the wrong dtype", {"expected", "does not fit"}};
    case Refusal::NanBlockScale: return {"a NaN block scale", {"NaN block scale at"}};
    case Refusal::NegativeBlockScale: return {"a negative block scale", {"negative block scale at"}};
    case Refusal::NanGlobalScale: return {"a NaN global scale", {"NaN global scale"}};
    case Refusal::InfGlobalScale: return {"an infinite global scale", {"infinite global scale"}};
    case Refusal::ZeroGlobalScale: return {"a zero global scale", {"is not positive"}};
    case Refusal::NegativeGlobalScale: return {"a negative global scale", {"is not positive"}};
    case Refusal::NoReciprocal: return {"an encode scale without a finite reciprocal", {"encode scale has no finite positive reciprocal"}};
    case Refusal::Truncated: return {"a file truncated inside a tensor", {"(truncated)"}};
    case Refusal::ChangedWhileRead: return {"a file rewritten while read", {"changed while being read"}};
  }
  return {"?", {}};
}

Outcome accepted() { return {}; }
Outcome refused(ErrorKind k, std::vector<std::string> phrases) { return {false, k, std::move(phrases)}; }

bool refuses_shapes(const Model& m, int k) { return m.committed >= 0 && shapes_of(k) != shapes_of(m.committed); }
void commit(Model& m, int k) {
  if (m.committed < 0) {
    m.ref_backend.reset();
    m.opt_processed = false;
  }
  if (!refuses_shapes(m, k)) m.committed = k;
}

}  // namespace nvfp4::reload_props

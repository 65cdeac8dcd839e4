// `nvfp4 process`'s streaming (process_stream.h).
#include "tools/cli/process_stream.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "registry/registry.h"

namespace nvfp4::cli {

namespace {

// A layer-wide 0-d value of an experts layer processed in chunks (w13/w2_input_scale_quant):
// written by the layer's first chunk; every later chunk derives it from the same layer maxima,
// which this checks. Both files below keep one.
class LayerValues {
 public:
  // True for the first chunk (write it); for a later one, throws unless its bytes are the first's.
  bool first_or_same(const std::string& file, const std::string& name, const Tensor& t, bool first) {
    std::string bytes(reinterpret_cast<const char*>(t.data()), static_cast<std::size_t>(t.nbytes()));
    if (first) {
      values_[name] = std::move(bytes);
      return true;
    }
    if (values_.at(name) != bytes) throw Error(ErrorKind::CheckFailed, file, name, "differs between chunks of the layer's experts");
    return false;
  }

 private:
  std::map<std::string, std::string> values_;
};

// The output file as units arrive. Every parameter name after post-processing, aliases included
// as their own tensors (a safetensors file cannot share bytes between names) and listed in
// __metadata__. Nothing names the pipeline, so the two pipelines' files compare byte for byte.
class StreamedFile {
 public:
  explicit StreamedFile(const std::string& file) : file_(file), w_(file) {}

  void add(const Pipeline& p, const ModuleUnit& u, std::size_t /*unit*/) {
    const bool chunk = !u.renamed.empty(), first = u.first_expert == 0;
    for (const auto& [mname, m] : p.modules())
      for (const auto& [pname, param] : m.entries()) {
        const std::string name = mname + "." + pname;
        const Tensor& t = param->data;
        if (!chunk) w_.add(name, t);
        else if (t.dim() > 0) w_.append(name, t);
        else same_in_every_chunk(name, t, first);
        if (chunk && !first) continue;
        ++params_;
        std::string target = m.alias_of(pname);
        if (!target.empty()) aliases_[name] = mname + "." + target;
      }
  }
  void finish(Backend b) { w_.finish({{"backend", backend_name(b)}, {"aliases", aliases_.dump()}}); }
  std::size_t params() const { return params_; }

 private:
  void same_in_every_chunk(const std::string& name, const Tensor& t, bool first) {
    if (layer_values_.first_or_same(file_, name, t, first)) w_.add(name, t);
  }
  std::string file_;
  StreamingSafetensorsWriter w_;
  nlohmann::json aliases_ = nlohmann::json::object();
  LayerValues layer_values_;
  std::size_t params_ = 0;
};

// A plan that does not hold for some unit (pass 2 produced a parameter the plan did not foresee,
// or of another dtype or shape): the planned file is dropped and StreamedFile takes over.
struct PlanMismatch {
  std::string why;
};

// What processing one unit gave, per parameter of its single module, in entries() order.
struct UnitOutput {
  struct Param {
    std::string pname, alias;
    DType dtype;
    Shape shape;
  };
  std::vector<Param> params;
};

// The unit's single module (every unit is one linear module or one experts module, named u.module).
const Module& only_module(const Pipeline& p, const ModuleUnit& u) {
  if (p.modules().size() != 1 || p.modules().begin()->first != u.module)
    throw PlanMismatch{u.name + ": the pipeline holds " + std::to_string(p.modules().size()) + " modules, not " + u.module};
  return p.modules().begin()->second;
}

UnitOutput output_of(const Pipeline& p, const ModuleUnit& u) {
  UnitOutput o;
  const Module& m = only_module(p, u);
  for (const auto& [pname, param] : m.entries()) o.params.push_back({pname, m.alias_of(pname), param->data.dtype(), param->data.shape()});
  return o;
}

// Units that hold the same tensors up to the numbers in their names (layer and expert indices),
// with the same dtypes and shapes, process to the same parameters: one of each is processed first
// to learn them (the plan), then every unit for its bytes. Read from the checkpoint's headers (no
// view, so no expert layer's input scales read for every chunk); as a sorted list, since the names
// a chunk is seen under are renumbered from 0 and sort otherwise.
std::string signature(const Checkpoint& c, const ModuleUnit& u) {
  std::vector<std::string> entries;
  for (const auto& n : u.tensors) {
    std::string e;
    for (std::size_t i = 0; i < n.size(); ++i)  // every run of digits as one '#'
      if (n[i] < '0' || n[i] > '9') e += n[i];
      else if (i == 0 || n[i - 1] < '0' || n[i - 1] > '9') e += '#';
    const TensorInfo& t = c.info(n);
    entries.push_back(e + ":" + std::string(dtype_name(t.dtype)) + shape_str(t.shape));
  }
  std::sort(entries.begin(), entries.end());
  std::string s = u.experts ? "experts" : "linear";
  for (const auto& e : entries) s += "|" + e;
  return s;
}

// The whole output file, known before any byte of it (PlannedSafetensorsWriter): each tensor's
// bytes are written once, straight into place, where StreamedFile writes them to a temporary data
// file first and copies them in the header's order at the end. Per unit and parameter, where its
// bytes go: a whole tensor, or a layer's [E, ...] tensor at its chunk's experts, or (a layer-wide
// 0-d value of a later chunk) nowhere, only compared with the first chunk's.
class PlannedFile {
 public:
  // outputs[kind[i]]: what unit i processes to.
  PlannedFile(const std::string& file, const std::vector<ModuleUnit>& units, const std::vector<UnitOutput>& outputs,
              const std::vector<std::size_t>& kind, Backend b)
      : file_(file), slots_(units.size()) {
    std::vector<TensorSpec> specs;
    std::map<std::string, std::size_t> index;  // name -> specs
    nlohmann::json aliases = nlohmann::json::object();
    for (std::size_t i = 0; i < units.size(); ++i) {
      const ModuleUnit& u = units[i];
      const bool chunk = !u.renamed.empty(), first = u.first_expert == 0;
      for (const auto& q : outputs[kind[i]].params) {
        const std::string name = u.module + "." + q.pname;
        Slot& slot = slots_[i][q.pname];
        slot.name = name;
        slot.alias = q.alias;
        slot.dtype = q.dtype;
        slot.shape = q.shape;
        const auto it = index.find(name);
        if (it == index.end()) {
          if (chunk && !first) throw PlanMismatch{name + ": a later chunk's parameter that the layer's first chunk lacks"};
          index.emplace(name, specs.size());
          specs.push_back({name, q.dtype, q.shape});
        } else if (!chunk || first) {
          throw PlanMismatch{name + ": written twice"};
        } else if (!q.shape.empty()) {
          TensorSpec& t = specs[it->second];
          if (t.dtype != q.dtype || t.shape.size() != q.shape.size() || !std::equal(t.shape.begin() + 1, t.shape.end(), q.shape.begin() + 1))
            throw PlanMismatch{name + ": a chunk that does not append"};
          slot.offset = dtype_nbytes(t.dtype, shape_numel(t.shape));
          t.shape[0] += q.shape[0];
        }
        if (!(chunk && !first) && !q.alias.empty()) aliases[name] = u.module + "." + q.alias;
      }
    }
    params_ = specs.size();
    try {
      w_ = std::make_unique<PlannedSafetensorsWriter>(file, specs, std::map<std::string, std::string>{{"backend", backend_name(b)}, {"aliases", aliases.dump()}});
    } catch (const Error& e) {
      // A header the writer refuses, or a file it cannot create or size: StreamedFile meets the same
      // when its turn comes, after the units before it, as one path always reported it.
      throw PlanMismatch{e.problem()};
    }
  }

  // Called in checkpoint order (run_units), so a layer's first chunk comes before its others.
  void add(const Pipeline& p, const ModuleUnit& u, std::size_t i) {
    const Module& m = only_module(p, u);
    if (m.entries().size() != slots_[i].size()) throw PlanMismatch{u.name + ": another number of parameters than planned"};
    for (const auto& [pname, param] : m.entries()) {
      const auto it = slots_[i].find(pname);
      if (it == slots_[i].end()) throw PlanMismatch{u.module + "." + pname + ": not planned"};
      const Slot& slot = it->second;
      const Tensor& t = param->data;
      if (t.dtype() != slot.dtype || t.shape() != slot.shape) throw PlanMismatch{slot.name + ": another dtype or shape than planned"};
      if (m.alias_of(pname) != slot.alias) throw PlanMismatch{slot.name + ": aliased otherwise than planned (the header lists aliases)"};
      if (!u.renamed.empty() && t.dim() == 0 && !layer_values_.first_or_same(file_, slot.name, t, u.first_expert == 0)) continue;
      w_->write(slot.name, slot.offset, {t.data(), t.nbytes()});
    }
  }
  void finish() { w_->finish(); }
  std::size_t params() const { return params_; }

 private:
  struct Slot {
    std::string name, alias;
    DType dtype = DType::U8;
    Shape shape;
    std::uint64_t offset = 0;
  };
  std::string file_;
  std::vector<std::map<std::string, Slot>> slots_;
  LayerValues layer_values_;
  std::unique_ptr<PlannedSafetensorsWriter> w_;
  std::size_t params_ = 0;  // one per planned tensor: what StreamedFile counts
};

// Each unit's outputs from one processed unit per signature; nullopt where that cannot be done
// (a unit fails to process, or its pipeline holds other than its one module): then StreamedFile
// runs alone and reports the failure, if any, as it always did.
struct Plan {
  std::vector<UnitOutput> distinct;  // one per kind of unit
  std::vector<std::size_t> kind;      // per unit: its index in distinct
};
std::optional<Plan> plan(const Checkpoint& c, const ModelSpec& spec, const std::vector<ModuleUnit>& units, const std::string& pipeline, Backend b) {
  Plan pl;
  std::map<std::string, std::size_t> seen;  // signature -> distinct
  pl.kind.resize(units.size());
  try {
    for (std::size_t i = 0; i < units.size(); ++i) {
      const std::string sig = signature(c, units[i]);
      auto it = seen.find(sig);
      if (it == seen.end()) {
        auto p = make_pipeline(pipeline, b);
        p->load_weights(unit_view(c, spec, units[i]));
        p->process_weights_after_loading(b);
        pl.distinct.push_back(output_of(*p, units[i]));
        if (process_testing::perturb_plan)
          for (auto& q : pl.distinct.back().params) process_testing::perturb_plan(q.pname, q.shape, q.alias);
        p.reset();
        c.release(units[i].tensors);
        ::malloc_trim(0);
        it = seen.emplace(sig, pl.distinct.size() - 1).first;
      }
      pl.kind[i] = it->second;
    }
  } catch (...) {
    return std::nullopt;
  }
  return pl;
}

// Every unit processed on `jobs` threads and added to the file in checkpoint order.
template <class File>
void run_units(const Checkpoint& c, const ModelSpec& spec, const std::vector<ModuleUnit>& units, const std::string& pipeline, Backend b,
               File& f, const std::function<void(const std::string&, std::size_t)>& on_unit, int jobs) {
  std::mutex mu;
  std::condition_variable turn;
  std::size_t written = 0;                  // units written so far (the next to write)
  std::size_t stop = units.size();          // the first failing unit: nothing after it is taken or written
  std::vector<std::exception_ptr> errors(units.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < units.size();) {
      try {
        {
          std::lock_guard<std::mutex> l(mu);
          if (i > stop) return;
        }
        auto p = make_pipeline(pipeline, b);
        p->load_weights(unit_view(c, spec, units[i]));
        p->process_weights_after_loading(b);
        std::unique_lock<std::mutex> l(mu);
        turn.wait(l, [&] { return written == i || i > stop; });
        if (i > stop) return;
        f.add(*p, units[i], i);  // in checkpoint order: a layer's expert chunks append in order
        ++written;
        if (on_unit) on_unit(units[i].name, units.size());
        l.unlock();
        turn.notify_all();
        p.reset();
        c.release(units[i].tensors);
        ::malloc_trim(0);  // the next unit's buffers reuse these pages instead of growing the heap
      } catch (...) {
        std::lock_guard<std::mutex> l(mu);
        errors[i] = std::current_exception();
        stop = std::min(stop, i);
        turn.notify_all();
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min<int>(jobs, static_cast<int>(units.size())); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

ProcessedCounts process_streaming(const Checkpoint& c, const std::string& pipeline, Backend b, const std::string& file,
                                  std::uint64_t max_experts_bytes, const std::function<void(const std::string&, std::size_t)>& on_unit,
                                  int jobs) {
  const ModelSpec spec = map_modules(c);
  const std::vector<ModuleUnit> units = module_units(c, spec, max_experts_bytes);
  const std::size_t modules = spec.linears.size() + spec.experts.size();
  std::size_t reported = 0;  // units on_unit has seen: a fallback after a failed plan does not repeat them
  if (const std::optional<Plan> pl = plan(c, spec, units, pipeline, b)) {
    try {
      PlannedFile f(file, units, pl->distinct, pl->kind, b);
      run_units(c, spec, units, pipeline, b, f, [&](const std::string& unit, std::size_t n) {
        ++reported;
        if (on_unit) on_unit(unit, n);
      }, jobs);
      f.finish();
      return {f.params(), modules, true};
    } catch (const PlanMismatch&) {
      // StreamedFile below; the planned file's temporary is already removed.
    }
  }
  StreamedFile f(file);
  std::size_t seen = 0;
  run_units(c, spec, units, pipeline, b, f, [&](const std::string& unit, std::size_t n) {
    if (++seen > reported && on_unit) on_unit(unit, n);
  }, jobs);
  f.finish(b);
  return {f.params(), modules, false};
}

namespace process_testing {
std::function<void(const std::string&, Shape&, std::string&)> perturb_plan;
}  // namespace process_testing

}  // namespace nvfp4::cli

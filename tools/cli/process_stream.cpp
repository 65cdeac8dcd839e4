// `nvfp4 process`'s streaming (process_stream.h).
#include "tools/cli/process_stream.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "registry/registry.h"

namespace nvfp4::cli {

namespace {

// The output file as units arrive. Every parameter name after post-processing, aliases included
// as their own tensors (a safetensors file cannot share bytes between names) and listed in
// __metadata__. Nothing names the pipeline, so the two pipelines' files compare byte for byte.
class ProcessedFile {
 public:
  explicit ProcessedFile(const std::string& file) : file_(file), w_(file) {}

  void add(const Pipeline& p, const ModuleUnit& u) {
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
  // A layer-wide value (w13/w2_input_scale_quant): written by the layer's first chunk; every
  // later chunk derives it from the same layer maxima, which this checks.
  void same_in_every_chunk(const std::string& name, const Tensor& t, bool first) {
    std::string bytes(reinterpret_cast<const char*>(t.data()), static_cast<std::size_t>(t.nbytes()));
    if (first) {
      w_.add(name, t);
      layer_values_[name] = std::move(bytes);
    } else if (layer_values_.at(name) != bytes) {
      throw Error(ErrorKind::CheckFailed, file_, name, "differs between chunks of the layer's experts");
    }
  }
  std::string file_;
  StreamingSafetensorsWriter w_;
  nlohmann::json aliases_ = nlohmann::json::object();
  std::map<std::string, std::string> layer_values_;
  std::size_t params_ = 0;
};

}  // namespace

ProcessedCounts process_streaming(const Checkpoint& c, const std::string& pipeline, Backend b, const std::string& file,
                                  std::uint64_t max_experts_bytes, const std::function<void(const std::string&, std::size_t)>& on_unit,
                                  int jobs) {
  const ModelSpec spec = map_modules(c);
  const std::vector<ModuleUnit> units = module_units(c, spec, max_experts_bytes);
  ProcessedFile f(file);
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
        f.add(*p, units[i]);  // in checkpoint order: a layer's expert chunks append in order
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
  f.finish(b);
  return {f.params(), spec.linears.size() + spec.experts.size()};
}

}  // namespace nvfp4::cli

// Parameter and Module: the registry the pipelines fill. A Module maps names to shared
// Parameters in insertion order; two names may refer to one Parameter (an alias), and that
// identity is observable, as it is in torch.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nvfp4 {

struct Parameter {
  Tensor data;
};
using ParamPtr = std::shared_ptr<Parameter>;

class Module {
 public:
  // Registers a new Parameter under name (the name must be free).
  ParamPtr add(const std::string& name, Tensor t);
  // Makes `alias` refer to the same Parameter as `target` (replacing any previous binding).
  void alias(const std::string& alias, const std::string& target);
  // Binds name to an existing Parameter object (replacing any previous binding).
  void bind(const std::string& name, ParamPtr p);
  void erase(const std::string& name);

  bool has(const std::string& name) const;
  ParamPtr param(const std::string& name) const;  // throws if absent
  Tensor& tensor(const std::string& name) { return param(name)->data; }
  const Tensor& tensor(const std::string& name) const { return param(name)->data; }
  // The first name bound to the same Parameter as `name`, if it differs from `name`.
  std::string alias_of(const std::string& name) const;

  const std::vector<std::pair<std::string, ParamPtr>>& entries() const { return entries_; }
  std::vector<std::string> names() const;

 private:
  std::vector<std::pair<std::string, ParamPtr>> entries_;
};

}  // namespace nvfp4

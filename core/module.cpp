#include "core/module.h"

#include <stdexcept>

namespace nvfp4 {

ParamPtr Module::add(const std::string& name, Tensor t) {
  if (has(name)) throw std::logic_error("parameter " + name + " registered twice");
  auto p = std::make_shared<Parameter>(Parameter{std::move(t)});
  entries_.emplace_back(name, p);
  return p;
}

void Module::bind(const std::string& name, ParamPtr p) {
  for (auto& [n, q] : entries_)
    if (n == name) { q = std::move(p); return; }
  entries_.emplace_back(name, std::move(p));
}

void Module::alias(const std::string& alias, const std::string& target) { bind(alias, param(target)); }

void Module::erase(const std::string& name) {
  std::erase_if(entries_, [&](const auto& e) { return e.first == name; });
}

bool Module::has(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.first == name) return true;
  return false;
}

ParamPtr Module::param(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.first == name) return e.second;
  throw std::out_of_range("no parameter named " + name);
}

std::string Module::alias_of(const std::string& name) const {
  ParamPtr p = param(name);
  for (const auto& e : entries_)
    if (e.second == p) return e.first == name ? std::string() : e.first;
  return {};
}

std::vector<std::string> Module::names() const {
  std::vector<std::string> r;
  for (const auto& e : entries_) r.push_back(e.first);
  return r;
}

}  // namespace nvfp4

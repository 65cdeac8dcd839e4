// nvfp4.diff on tensors in memory: the state dict becomes an in-memory EngineDump of views
// (tools/diff/engine_dump.h), then the same run_diff and the same JSON report as `nvfp4 diff
// --json` (tools/cli/diff_report.h). No tensor is copied: each view points into the caller's array.
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "arrays.h"
#include "bindings.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "tools/cli/cli.h"
#include "tools/cli/diff_report.h"
#include "tools/cli/report_json.h"
#include "tools/diff/diff_run.h"

namespace nvfp4::py {

namespace {

// (name, safetensors dtype or "" to read it off the array, array)
using StateEntry = std::tuple<std::string, std::string, InArray>;

std::vector<diff::DumpView> views_of(const std::vector<StateEntry>& state, const std::string& label) {
  std::vector<diff::DumpView> views;
  views.reserve(state.size());
  for (const auto& [name, dtype, a] : state) views.push_back(view_of(name, a, dtype_of(a, dtype, label, name)));
  return views;
}

// The report as JSON text. `command_line` is what the report records as its command line (the
// package passes the nvfp4 diff that would reproduce it from a written dump).
std::string diff_state(const std::string& ckpt, const std::vector<StateEntry>& state, const std::string& engine, const std::string& backend,
                       bool allow_unknown, const std::string& label, const std::vector<std::string>& command_line) {
  const diff::EngineDump d = diff::EngineDump::of_views(label, views_of(state, label));
  nb::gil_scoped_release nogil;
  std::lock_guard<std::mutex> l(report_mutex());
  try {
    const Checkpoint c = cli::open_quantized(ckpt);
    const diff::DiffRun r = diff::run_diff(c, d, {engine, backend, allow_unknown, {}, {}});
    cli::set_command_line(command_line);
    return cli::diff_report_json(r, c, label).dump(2);
  } catch (const Error& e) {
    // As the CLI does, an error that names no file is about the checkpoint being diffed.
    if (e.file().empty() && e.kind() != ErrorKind::Usage) throw Error(e.kind(), ckpt, e.tensor(), e.problem());
    throw;
  }
}

// A safetensors file of the state with `metadata`, what `nvfp4 diff` reads: core's streaming writer,
// so memory stays bounded by one tensor; the names and sizes are checked as diff_state checks them.
void write_dump(const std::string& path, const std::vector<StateEntry>& state, const std::map<std::string, std::string>& metadata) {
  const diff::EngineDump d = diff::EngineDump::of_views(path, views_of(state, path));
  nb::gil_scoped_release nogil;
  StreamingSafetensorsWriter w(path);
  for (const auto& name : d.names()) w.add(name, d.tensor(name));
  w.finish(metadata);
}

// Every tensor of a dump (a safetensors file or a directory of them, read as `nvfp4 diff` reads it)
// as (name, dtype, array over the mapped file), and its metadata.
std::tuple<std::vector<std::tuple<std::string, std::string, nb::ndarray<nb::numpy>>>, std::map<std::string, std::string>> read_dump(
    const std::string& path) {
  const diff::EngineDump d = diff::EngineDump::open(path);
  std::vector<std::tuple<std::string, std::string, nb::ndarray<nb::numpy>>> out;
  for (const auto& name : d.names()) {
    const Tensor t = d.tensor(name);
    out.emplace_back(name, std::string(dtype_name(t.dtype())), to_numpy(t));
  }
  return {std::move(out), d.metadata()};
}

}  // namespace

void bind_diff(nb::module_& m) {
  m.def("read_dump", &read_dump, nb::arg("path"), "A dump's tensors as (name, dtype, array) over the mapped file, and its metadata.");
  m.def("diff_state", &diff_state, nb::arg("checkpoint"), nb::arg("state"), nb::arg("engine"), nb::arg("backend"), nb::arg("allow_unknown"),
        nb::arg("label"), nb::arg("command_line"), "nvfp4 diff's JSON report for tensors in memory: [(name, dtype or '', array)].");
  m.def("write_dump", &write_dump, nb::arg("path"), nb::arg("state"), nb::arg("metadata"),
        "Writes [(name, dtype or '', array)] as one safetensors file with the given metadata.");
}

}  // namespace nvfp4::py

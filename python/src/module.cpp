// nvfp4._core: the C++ behind the Python package (python/nvfp4/). Errors cross as the package's
// exceptions (nvfp4/errors.py), chosen by core/error.h's ErrorKind, with the library's one-line
// message unchanged; running out of memory is its own exception, as it is its own exit code.
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <sstream>

#include "bindings.h"
#include "core/error.h"
#include "tools/cli/cli.h"

namespace nvfp4::py {

std::mutex& report_mutex() {
  static std::mutex m;
  return m;
}

namespace {

const char* class_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::BadInput: return "BadInputError";
    case ErrorKind::CheckFailed: return "CheckFailedError";
    case ErrorKind::Usage: return "UsageError";
    case ErrorKind::Io: return "IoError";
  }
  return "Error";
}

// Raises nvfp4.errors.<cls>(message, file, tensor, problem).
void raise(const char* cls, const std::string& message, const std::string& file = "", const std::string& tensor = "",
           const std::string& problem = "") {
  nb::object type = nb::module_::import_("nvfp4.errors").attr(cls);
  nb::object e = type(message, file, tensor, problem.empty() ? message : problem);
  PyErr_SetObject(type.ptr(), e.ptr());
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const Error& e) {
    raise(class_name(e.kind()), e.what(), e.file(), e.tensor(), e.problem());
  } catch (const OutOfMemory& e) {
    raise("OutOfMemoryError", cli::out_of_memory_message(e, "more memory is needed"));  // the functions have no --jobs
  } catch (const std::bad_alloc&) {
    raise("OutOfMemoryError", "out of memory");
  }
}

// One command of the nvfp4 CLI in-process: (exit code, stdout, stderr). With `rethrow`, the
// command's errors raise instead of becoming stderr and an exit code (tools/cli/cli.h).
std::tuple<int, std::string, std::string> cli_run(const std::vector<std::string>& args, bool rethrow) {
  std::ostringstream out, err;
  int rc;
  {
    nb::gil_scoped_release nogil;
    std::lock_guard<std::mutex> l(report_mutex());
    rc = rethrow ? cli::run_or_throw(args, out, err) : cli::run(args, out, err);
  }
  return {rc, out.str(), err.str()};
}

}  // namespace
}  // namespace nvfp4::py

NB_MODULE(_core, m) {
  using namespace nvfp4::py;
  m.doc() = "The C++ behind the nvfp4 package: the nvfp4 command in-process, the engine diff, the reference.";
  m.attr("__version__") = NVFP4_VERSION;
  nb::register_exception_translator(translate);
  m.def("cli", &cli_run, nb::arg("args"), nb::arg("rethrow") = true,
        "Runs one nvfp4 command in-process; returns (exit code, stdout, stderr).");
  bind_diff(m);
  bind_reference(m);
}

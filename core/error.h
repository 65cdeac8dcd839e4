// Typed errors. Every message is one line: "<file>: <tensor>: <what is wrong>", so that a user can
// act on it without a debugger. The kind decides the command's exit code. what() is escaped
// (core/printable.h) and long names are shortened, whatever the file held, so a message is always
// one printable line; file(), tensor() and problem() keep the raw strings for programs.
#pragma once
#include <stdexcept>
#include <string>

#include "core/printable.h"

namespace nvfp4 {

enum class ErrorKind {
  BadInput,     // malformed file, wrong shape, NaN scale, missing shard: exit 2
  CheckFailed,  // a property or finding that does not hold: exit 1
  Usage,        // wrong command-line arguments: exit 2
  Io,           // cannot read or write a file: exit 2
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string file, std::string tensor, std::string what)
      : std::runtime_error(compose(file, tensor, what)),
        kind_(kind), file_(std::move(file)), tensor_(std::move(tensor)), what_(std::move(what)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& file() const { return file_; }
  const std::string& tensor() const { return tensor_; }
  const std::string& problem() const { return what_; }

 private:
  static std::string compose(const std::string& f, const std::string& t, const std::string& w) {
    std::string s;
    if (!f.empty()) s += printable_short(f, 240) + ": ";
    if (!t.empty()) s += printable_short(t, 200) + ": ";
    return s + printable_short(w, 600);
  }
  ErrorKind kind_;
  std::string file_, tensor_, what_;
};

[[noreturn]] inline void bad_input(std::string file, std::string tensor, std::string what) {
  throw Error(ErrorKind::BadInput, std::move(file), std::move(tensor), std::move(what));
}

}  // namespace nvfp4

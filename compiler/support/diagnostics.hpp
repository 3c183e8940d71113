// Diagnostics: one format for every stage of the compiler and the runtime's user errors.
//
//   models/bad.vmodel:12:18: error: shapes do not agree for '*': real[400, 20] and real[784]
//      12 |     let h = tanh(dec_W * x[i] + dec_b);
//         |                  ^~~~~~~~~~~~
//
// A diagnostic is the user's fault and is reported, never thrown past the driver. Our own bugs
// are `internal_error`s (see check.hpp).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "support/source.hpp"

namespace vmc {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity = Severity::Error;
  Span span;              // may be invalid: then `where` names the file or thing at fault
  std::string where;      // used only when span is invalid (e.g. a data file's path)
  std::string message;
  std::vector<Diagnostic> notes;  // related places, rendered after the main message

  Diagnostic& note(Span at, std::string text);
};

class Diagnostics {
 public:
  Diagnostic& error(Span at, std::string message);
  Diagnostic& warning(Span at, std::string message);
  // Information the user should see once, such as which terms an estimator keeps sampled.
  Diagnostic& note(Span at, std::string message);
  // An error with no source position: `where: error: message`.
  Diagnostic& error(std::string where, std::string message);

  const std::vector<Diagnostic>& all() const { return list_; }
  bool has_errors() const { return errors_ > 0; }
  std::size_t error_count() const { return errors_; }
  // Number of diagnostics reported so far.
  std::size_t size() const { return list_.size(); }

 private:
  std::vector<Diagnostic> list_;
  std::size_t errors_ = 0;
};

// Writes one diagnostic (and its notes) in the format above.
void render(std::ostream& out, const Diagnostic& d);
// Writes all diagnostics in the order they were reported.
void render(std::ostream& out, const Diagnostics& diags);

}  // namespace vmc

// Shared by the test_sema*.cpp files: parse a model's text, analyze it, and read back the
// diagnostics as "line:col: message" strings.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parse/parser.hpp"
#include "sema/sema.hpp"
#include "support/diagnostics.hpp"
#include "support/source.hpp"

// Shows both sides of a failed comparison of error lists (the same definition as the parser's
// tests, as the one-definition rule requires).
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const std::string& s : v) out += "\n  \"" + s + "\"";
    out += v.empty() ? "}" : "\n}";
    return out.c_str();
  }
};

namespace sema_test {

using namespace vmc;

// One parse and analysis of `text`; keeps the source and AST alive as long as the model.
struct Checked {
  SourceManager sources;
  const SourceFile* file = nullptr;
  Diagnostics diags;
  std::optional<ast::Program> program;
  std::unique_ptr<sema::Model> model;

  explicit Checked(std::string text, const sema::Options& options = {}) {
    file = sources.add("test.vmodel", std::move(text));
    program = parse::parse_program(*file, diags);
    REQUIRE_MESSAGE(program.has_value(), "the test model does not parse: ", first_error());
    model = sema::analyze(*program, options, diags);
    CHECK((model != nullptr) == !diags.has_errors());
  }

  std::string where(const Diagnostic& d) const {
    if (!d.span.valid()) return d.where;
    LineCol lc = file->line_col(d.span.begin);
    return std::to_string(lc.line) + ":" + std::to_string(lc.col);
  }
  // "line:col: message" (or "where: message") for every diagnostic, in order.
  std::vector<std::string> errors() const {
    std::vector<std::string> out;
    for (const Diagnostic& d : diags.all()) out.push_back(where(d) + ": " + d.message);
    return out;
  }
  // The notes of diagnostic `i`, as "line:col: text".
  std::vector<std::string> notes(std::size_t i = 0) const {
    std::vector<std::string> out;
    for (const Diagnostic& n : diags.all().at(i).notes) out.push_back(where(n) + ": " + n.message);
    return out;
  }
  std::string first_error() const { return diags.all().empty() ? "" : errors().front(); }
};

using Lines = std::vector<std::string>;

}  // namespace sema_test

// Shared by the unit tests that start from a model's text (test_parse*.cpp, and through
// test_sema_helpers.hpp and test_lower_helpers.hpp the sema and lowering tests): one parse of a
// string, and its diagnostics read back as "line:col: message" strings.
#pragma once

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "parse/ast.hpp"
#include "parse/parser.hpp"
#include "support/diagnostics.hpp"
#include "support/source.hpp"

// Shows both sides of a failed comparison of error lists. The one definition in the test binary:
// every file that compares std::vector<std::string> in an assertion includes this header (the
// one-definition rule requires the specialization to be seen before any such use).
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const std::string& s : v) out += "\n  \"" + s + "\"";
    out += v.empty() ? "}" : "\n}";
    return out.c_str();
  }
};

namespace test_support {

// One parse of `text` as "test.vmodel"; keeps the source alive for as long as the AST's spans
// are used.
struct Parsed {
  vmc::SourceManager sources;
  const vmc::SourceFile* file = nullptr;
  vmc::Diagnostics diags;
  std::optional<vmc::ast::Program> program;

  explicit Parsed(std::string text) {
    file = sources.add("test.vmodel", std::move(text));
    program = vmc::parse::parse_program(*file, diags);
  }

  // "line:col" of the start of `d`'s span, or `d.where` when it has no span.
  std::string where(const vmc::Diagnostic& d) const {
    if (!d.span.valid()) return d.where;
    vmc::LineCol lc = file->line_col(d.span.begin);
    return std::to_string(lc.line) + ":" + std::to_string(lc.col);
  }
  // "line:col: message" (or "where: message") for every diagnostic, in order.
  std::vector<std::string> errors() const {
    std::vector<std::string> out;
    for (const vmc::Diagnostic& d : diags.all()) out.push_back(where(d) + ": " + d.message);
    return out;
  }
  // The same, one a line.
  std::string messages() const {
    std::string out;
    for (const std::string& e : errors()) out += e + "\n";
    return out;
  }

  const vmc::ast::Block& block(std::size_t i) const { return program->blocks.at(i); }
};

}  // namespace test_support

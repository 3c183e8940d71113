// Shared by the test_sema*.cpp files: parse a model's text, analyze it, and read back the
// diagnostics as "line:col: message" strings.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "sema/sema.hpp"
#include "support/diagnostics.hpp"
#include "test_support.hpp"

namespace sema_test {

using namespace vmc;

// One parse and analysis of `text`; keeps the source and AST alive as long as the model.
struct Checked : test_support::Parsed {
  std::unique_ptr<sema::Model> model;

  explicit Checked(std::string text, const sema::Options& options = {})
      : Parsed(std::move(text)) {
    REQUIRE_MESSAGE(program.has_value(), "the test model does not parse: ", first_error());
    model = sema::analyze(*program, options, diags);
    CHECK((model != nullptr) == !diags.has_errors());
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

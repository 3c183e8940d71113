// The front door of compiler/parse: .vmodel text in, our AST out.
#pragma once

#include <optional>

#include "parse/ast.hpp"
#include "support/diagnostics.hpp"
#include "support/source.hpp"

namespace vmc::parse {

// Parses a whole file. Every syntax error is reported to `diags` (several where the parser can
// recover); returns the program only when there were none.
std::optional<ast::Program> parse_program(const SourceFile& file, Diagnostics& diags);

}  // namespace vmc::parse

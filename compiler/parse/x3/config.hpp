// The iterator, skipper and context types the grammar is instantiated for (once, in
// grammar.cpp), and the state every rule can reach through the context: where the text
// begins, for byte offsets, and the syntax errors found so far.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/spirit/home/x3.hpp>

namespace vmc::parse::x3ast {

namespace x3 = boost::spirit::x3;

struct SyntaxError {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::string message;
};

struct ParseState {
  const char* text_begin = nullptr;
  const char* text_end = nullptr;
  std::vector<SyntaxError> errors;

  std::uint32_t offset(const char* it) const { return static_cast<std::uint32_t>(it - text_begin); }
  // True when an error was already reported at or after `it` (so recovery stays quiet).
  bool reported_since(const char* it) const {
    return !errors.empty() && errors.back().begin >= offset(it);
  }
};

struct parse_state_tag;

using iterator_type = const char*;

struct skipper_class;
using skipper_type = x3::rule<skipper_class, x3::unused_type>;
using phrase_context_type = x3::phrase_parse_context<skipper_type>::type;
using context_type = x3::context<parse_state_tag, ParseState, phrase_context_type>;

}  // namespace vmc::parse::x3ast

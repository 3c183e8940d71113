// Hand-written X3 parsers the grammar needs beyond Spirit's own: keywords, identifiers that
// are not keywords, and the recovery parser that skips a broken statement. Also the wording
// of syntax errors.
#pragma once

#include <cstring>
#include <string>

#include <boost/spirit/home/x3.hpp>

#include "parse/x3/config.hpp"

namespace vmc::parse::x3ast {

bool is_keyword(const std::string& word);
inline bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

// Records "expected WHAT" at `where` (X3's expectation failure).
void report_expected(ParseState& state, const char* where, const std::string& what);
// Records "MESSAGE, found 'TOKEN'" at the token starting at `where`.
void report_unexpected(ParseState& state, const char* where, const char* message);
// Records "expected '}' before 'guide'" where a new block starts inside an unclosed one.
void report_unclosed_block(ParseState& state, const char* where);
// True when `it` starts a top-level item (`guide {`, `model NAME`, `fn NAME`, ...).
bool starts_item(const char* it, const char* last);

// A keyword: the word, not followed by an identifier character.
struct keyword_parser : x3::parser<keyword_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  const char* word;

  constexpr explicit keyword_parser(const char* w) : word(w) {}

  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr&) const {
    x3::skip_over(first, last, ctx);
    It it = first;
    for (const char* w = word; *w; ++w, ++it) {
      if (it == last || *it != *w) return false;
    }
    if (it != last && is_ident_char(*it)) return false;
    first = it;
    return true;
  }
};
inline keyword_parser keyword(const char* word) { return keyword_parser(word); }

// An identifier that is not a keyword.
struct identifier_parser : x3::parser<identifier_parser> {
  using attribute_type = std::string;

  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last || !is_ident_start(*first)) return false;
    It it = first;
    while (it != last && is_ident_char(*it)) ++it;
    std::string word(first, it);
    if (is_keyword(word)) return false;
    x3::traits::move_to(word, attr);
    first = it;
    return true;
  }
};
inline constexpr identifier_parser identifier{};

// A slice's ':' between subscript bounds: true when present. Unlike matches[':'], it leaves
// the blanks before a missing ':' unconsumed, so an index's span ends at its last token.
struct slice_colon_parser : x3::parser<slice_colon_parser> {
  using attribute_type = bool;

  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    It it = first;
    x3::skip_over(it, last, ctx);
    bool found = it != last && *it == ':';
    if (found) first = it + 1;
    x3::traits::move_to(found, attr);
    return true;
  }
};
inline constexpr slice_colon_parser slice_colon{};

// Skips whitespace and comments from `it`.
const char* skip_blank(const char* it, const char* last);

// Where a failed statement (Recovery::Statement) or top-level item (Recovery::TopLevel) is
// skipped: past the next ';' at bracket depth 0, or up to the '}' that closes the enclosing
// block (a top-level item also stops after a balanced '{ ... }'). Produces a `Bad` node and
// reports `message` unless an error was already reported inside the skipped text.
enum class Recovery { Statement, TopLevel };

const char* skip_broken(const char* first, const char* last, Recovery mode);

template <class Bad>
struct recover_parser : x3::parser<recover_parser<Bad>> {
  using attribute_type = Bad;
  const char* message;
  Recovery mode;

  recover_parser(const char* m, Recovery r) : message(m), mode(r) {}

  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last) return false;
    ParseState& state = x3::get<parse_state_tag>(ctx);
    if (mode == Recovery::Statement) {
      if (*first == '}') return false;
      if (starts_item(first, last)) {  // the block was never closed
        if (!state.reported_since(first)) report_unclosed_block(state, first);
        return false;
      }
    }
    if (!state.reported_since(first)) report_unexpected(state, first, message);
    It end = skip_broken(first, last, mode);
    Bad bad;
    bad.begin = state.offset(first);
    bad.end = state.offset(end);
    attr = bad;
    first = end;
    return true;
  }
};
template <class Bad>
recover_parser<Bad> recover(const char* message, Recovery mode) {
  return recover_parser<Bad>(message, mode);
}

}  // namespace vmc::parse::x3ast

namespace boost::spirit::x3 {
template <>
struct get_info<vmc::parse::x3ast::keyword_parser> {
  using result_type = std::string;
  std::string operator()(vmc::parse::x3ast::keyword_parser const& p) const {
    return std::string("'") + p.word + "'";
  }
};
template <>
struct get_info<vmc::parse::x3ast::identifier_parser> {
  using result_type = std::string;
  std::string operator()(vmc::parse::x3ast::identifier_parser const&) const { return "a name"; }
};
}  // namespace boost::spirit::x3

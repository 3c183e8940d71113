#include "parse/x3/tokens.hpp"

#include <array>
#include <string_view>

namespace vmc::parse::x3ast {
namespace {

constexpr std::array<std::string_view, 19> kKeywords = {
    "model", "dims",   "data",   "param", "latent", "guide",     "fn",
    "let",   "plate",  "in",     "subsample", "target", "init", "real",
    "int",   "lower",  "upper",  "cholesky",  "pi"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Skips whitespace and comments from `it`.
const char* skip_blank(const char* it, const char* last) {
  while (it != last) {
    if (is_space(*it)) {
      ++it;
    } else if (*it == '/' && it + 1 != last && it[1] == '/') {
      while (it != last && *it != '\n') ++it;
    } else if (*it == '/' && it + 1 != last && it[1] == '*') {
      it += 2;
      while (it != last && !(*it == '*' && it + 1 != last && it[1] == '/')) ++it;
      if (it != last) it += 2;
    } else {
      break;
    }
  }
  return it;
}

// The end of the last token before `where`: where a missing ';' belongs.
const char* end_of_previous_token(const char* begin, const char* where) {
  const char* last_end = begin;
  const char* it = begin;
  while (it < where) {
    const char* next = skip_blank(it, where);
    if (next == where) break;
    it = next + 1;
    last_end = it;
  }
  return last_end;
}

// The extent of the token starting at `it`: a word, a two-character operator, or one character.
const char* token_end(const char* it, const char* last) {
  if (it == last) return it;
  if (is_ident_char(*it) || *it == '.') {
    const char* e = it;
    while (e != last && (is_ident_char(*e) || *e == '.')) ++e;
    if (e - it > 1 || is_ident_char(*it)) return e;
  }
  static constexpr std::string_view kTwoChar[] = {".*", "./", "+=", "//", "/*"};
  for (std::string_view op : kTwoChar) {
    if (last - it >= 2 && std::string_view(it, 2) == op) return it + 2;
  }
  const char* e = it + 1;
  while (e != last && (static_cast<unsigned char>(*e) & 0xC0) == 0x80) ++e;  // one code point
  return e;
}

std::string describe_token(const char* it, const char* last) {
  if (it == last) return "end of file";
  std::string text(it, token_end(it, last));
  if (text.size() > 24) text = text.substr(0, 21) + "...";
  return "'" + text + "'";
}

// X3 names literals with double quotes; our messages use single quotes throughout.
std::string normalise_what(std::string what) {
  if (what.size() >= 2 && what.front() == '"' && what.back() == '"') {
    what.front() = '\'';
    what.back() = '\'';
  }
  return what;
}

bool is_terminator(const std::string& what) {
  return what == "';'" || what == "')'" || what == "']'" || what == "'}'" || what == "'>'";
}

}  // namespace

bool is_keyword(const std::string& word) {
  for (std::string_view k : kKeywords) {
    if (k == word) return true;
  }
  return false;
}

void report_expected(ParseState& state, const char* where, const std::string& raw_what) {
  std::string what = normalise_what(raw_what);
  if (is_terminator(what)) {
    // Point just after the previous token, as a reader expects for a missing ';' or ')'.
    const char* at = end_of_previous_token(state.text_begin, where);
    state.errors.push_back({state.offset(at), state.offset(at), "expected " + what});
    return;
  }
  const char* at = skip_blank(where, state.text_end);
  state.errors.push_back({state.offset(at), state.offset(token_end(at, state.text_end)),
                          "expected " + what + ", found " + describe_token(at, state.text_end)});
}

void report_unexpected(ParseState& state, const char* where, const char* message) {
  const char* at = skip_blank(where, state.text_end);
  state.errors.push_back({state.offset(at), state.offset(token_end(at, state.text_end)),
                          std::string(message) + ", found " + describe_token(at, state.text_end)});
}

const char* skip_broken(const char* first, const char* last, Recovery mode) {
  const char* it = first;
  int depth = 0;
  while (it != last) {
    const char* next = skip_blank(it, last);
    if (next != it) {
      it = next;
      continue;
    }
    char c = *it;
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth > 0) {
        --depth;
        if (depth == 0 && c == '}' && mode == Recovery::TopLevel) return it + 1;
      } else if (c == '}' && mode == Recovery::Statement) {
        return it;  // closes the enclosing block: leave it to the block's rule
      } else if (c == '}') {
        return it + 1;  // a stray '}' at the top level
      }
    } else if (c == ';' && depth == 0) {
      return it + 1;
    }
    ++it;
  }
  return it;
}

}  // namespace vmc::parse::x3ast

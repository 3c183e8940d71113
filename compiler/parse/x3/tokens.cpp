#include "parse/x3/tokens.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>

namespace vmc::parse::x3ast {
namespace {

constexpr std::array<std::string_view, 21> kKeywords = {
    "model", "dims",   "data",   "param", "latent", "guide",     "fn",
    "let",   "var",    "plate",  "in",    "for",    "subsample", "target", "init", "real",
    "int",   "lower",  "upper",  "cholesky",  "pi"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

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

namespace {

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
  static constexpr std::string_view kTwoChar[] = {".*", "./", "+=", "-=", "*=", "/=", "==", "!=",
                                                  "<=", ">=", "&&", "||", "->", "**", "//", "/*"};
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
  std::string shown;
  for (char c : text) {  // control bytes are shown as escapes, never copied into a message
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      shown += buf;
    } else {
      shown += c;
    }
  }
  return "'" + shown + "'";
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
  const char* prev = end_of_previous_token(state.text_begin, where);
  if (state.reported_since(prev)) return;  // recovery already explained this spot
  const char* at = skip_blank(where, state.text_end);
  if (is_terminator(what)) {
    // A missing ';' or ')' at the end of a line or before a block's '}' belongs just after the
    // previous token, as a reader expects; a wrong token elsewhere is named where it stands.
    bool closer = at != state.text_end && *at == '}';
    if (at == state.text_end || closer || std::find(prev, at, '\n') != at) {
      state.errors.push_back({state.offset(prev), state.offset(prev), "expected " + what});
      return;
    }
  }
  state.errors.push_back({state.offset(at), state.offset(token_end(at, state.text_end)),
                          "expected " + what + ", found " + describe_token(at, state.text_end)});
}

void report_unexpected(ParseState& state, const char* where, const char* message) {
  const char* at = skip_blank(where, state.text_end);
  state.errors.push_back({state.offset(at), state.offset(token_end(at, state.text_end)),
                          std::string(message) + ", found " + describe_token(at, state.text_end)});
}

// True when `it` starts a top-level item: a block keyword followed by '{' (or, for `model` and
// `fn`, by a name). Those never appear inside a block, so recovery stops before them.
bool starts_item(const char* it, const char* last) {
  static constexpr std::string_view kBlocks[] = {"dims", "data", "param", "latent", "guide",
                                                 "generated", "model", "fn"};
  for (std::string_view kw : kBlocks) {
    if (static_cast<std::size_t>(last - it) < kw.size() || std::string_view(it, kw.size()) != kw) {
      continue;
    }
    const char* after = it + kw.size();
    if (after != last && is_ident_char(*after)) return false;
    after = skip_blank(after, last);
    if (after == last) return false;
    if (*after == '{') return kw != "fn";
    return (kw == "model" || kw == "fn") && is_ident_start(*after);
  }
  return false;
}

void report_unclosed_block(ParseState& state, const char* where) {
  std::string word(where, token_end(where, state.text_end));
  const char* prev = end_of_previous_token(state.text_begin, where);
  state.errors.push_back({state.offset(prev), state.offset(prev),
                          "expected '}' to close the block before '" + word + "'"});
}

const char* skip_broken(const char* first, const char* last, Recovery mode) {
  // Open brackets, innermost last. A ';' ends the broken text unless a '{' is open; a '}'
  // closes the innermost '{' (abandoning '(' and '[' left open inside it) or, with no '{'
  // open, is the enclosing block's and stays for its rule.
  std::vector<char> open;
  auto brace_open = [&] { return std::find(open.begin(), open.end(), '{') != open.end(); };
  const char* it = first;
  while (it != last) {
    const char* next = skip_blank(it, last);
    if (next != it) {
      it = next;
      continue;
    }
    if (it != first && starts_item(it, last)) return it;  // block keywords never nest
    char c = *it;
    if (c == '(' || c == '[' || c == '{') {
      open.push_back(c);
    } else if (c == ')' || c == ']') {
      if (!open.empty() && open.back() != '{') open.pop_back();
    } else if (c == '}') {
      if (brace_open()) {
        while (open.back() != '{') open.pop_back();
        open.pop_back();
        if (!brace_open() && mode == Recovery::TopLevel) return it + 1;
      } else {
        // The enclosing block's '}' (left for its rule), or a stray one at the top level.
        return mode == Recovery::Statement ? it : it + 1;
      }
    } else if (c == ';' && !brace_open()) {
      return it + 1;
    }
    ++it;
  }
  return it;
}

}  // namespace vmc::parse::x3ast

#include "support/diagnostics.hpp"

#include <ostream>

namespace vmc {
namespace {

constexpr int kTabWidth = 4;
// Past this many errors the rest are counted, not shown: one mistake repeated 100,000 times
// (a generated file) must not flood the terminal.
constexpr std::size_t kMaxErrorsShown = 50;
// Source lines are shown in a window of about this many columns around the caret.
constexpr std::size_t kMaxLineColumns = 160;

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Display width of line[0, n): tabs expand to the next multiple of kTabWidth, every other code
// point is one column.
std::size_t display_width(std::string_view line, std::size_t n) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < n && i < line.size(); ++i) {
    if (line[i] == '\t') w += kTabWidth - w % kTabWidth;
    else if (!is_continuation(line[i])) ++w;
  }
  return w;
}

// The line as displayed: tabs expanded, control bytes shown as '?' (one column each, so the
// caret still lines up).
std::string expand_tabs(std::string_view line) {
  std::string out;
  std::size_t w = 0;
  for (char c : line) {
    if (c == '\t') {
      std::size_t n = kTabWidth - w % kTabWidth;
      out.append(n, ' ');
      w += n;
    } else {
      auto u = static_cast<unsigned char>(c);
      out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
      if (!is_continuation(c)) ++w;
    }
  }
  return out;
}

// The byte offset in `shown` of display column `col` (shown has no tabs left).
std::size_t byte_of_column(std::string_view shown, std::size_t col) {
  std::size_t w = 0, i = 0;
  for (; i < shown.size(); ++i) {
    if (is_continuation(shown[i])) continue;
    if (w == col) return i;
    ++w;
  }
  return i;
}

void render_one(std::ostream& out, const Diagnostic& d) {
  if (!d.span.valid()) {
    if (!d.where.empty()) out << d.where << ": ";
    out << severity_name(d.severity) << ": " << d.message << '\n';
    return;
  }
  const SourceFile& file = *d.span.file;
  LineCol lc = file.line_col(d.span.begin);
  out << file.path() << ':' << lc.line << ':' << lc.col << ": " << severity_name(d.severity)
      << ": " << d.message << '\n';

  std::string_view line = file.line_text(lc.line);
  std::size_t line_begin = file.line_start(lc.line);
  std::size_t start = d.span.begin - line_begin;
  // Underline to the span's end, or to the end of the line for a span over several lines.
  std::size_t stop = std::min<std::size_t>(d.span.end - line_begin, line.size());
  if (stop < start) stop = start;

  std::string number = std::to_string(lc.line);
  std::string gutter(number.size() < 5 ? 5 - number.size() : 0, ' ');
  std::string shown = expand_tabs(line);
  std::size_t col = display_width(line, start);
  std::size_t width = display_width(line, stop) - col;
  // A very long line is cut to a window around the caret, marked with "...".
  std::size_t total = display_width(line, line.size());
  if (total > kMaxLineColumns) {
    std::size_t first = col > kMaxLineColumns / 2 ? col - kMaxLineColumns / 2 : 0;
    std::size_t last = std::min(total, first + kMaxLineColumns);
    std::string window = shown.substr(byte_of_column(shown, first),
                                      byte_of_column(shown, last) - byte_of_column(shown, first));
    shown = (first > 0 ? "..." : "") + window + (last < total ? "..." : "");
    col = col - first + (first > 0 ? 3 : 0);
    width = std::min(width, last - (col - (first > 0 ? 3 : 0)) - first + 1);
  }
  out << gutter << number << " | " << shown << '\n';

  out << std::string(gutter.size() + number.size(), ' ') << " | " << std::string(col, ' ') << '^';
  if (width > 1) out << std::string(width - 1, '~');
  out << '\n';
}

}  // namespace

Diagnostic& Diagnostic::note(Span at, std::string text) {
  Diagnostic n;
  n.severity = Severity::Note;
  n.span = at;
  n.message = std::move(text);
  notes.push_back(std::move(n));
  return *this;
}

Diagnostic& Diagnostics::error(Span at, std::string message) {
  ++errors_;
  list_.push_back(Diagnostic{Severity::Error, at, {}, std::move(message), {}});
  return list_.back();
}

Diagnostic& Diagnostics::warning(Span at, std::string message) {
  list_.push_back(Diagnostic{Severity::Warning, at, {}, std::move(message), {}});
  return list_.back();
}

Diagnostic& Diagnostics::note(Span at, std::string message) {
  list_.push_back(Diagnostic{Severity::Note, at, {}, std::move(message), {}});
  return list_.back();
}

Diagnostic& Diagnostics::error(std::string where, std::string message) {
  ++errors_;
  list_.push_back(Diagnostic{Severity::Error, Span{}, std::move(where), std::move(message), {}});
  return list_.back();
}

void render(std::ostream& out, const Diagnostic& d) {
  render_one(out, d);
  for (const Diagnostic& n : d.notes) render_one(out, n);
}

void render(std::ostream& out, const Diagnostics& diags) {
  std::size_t errors = 0;
  for (const Diagnostic& d : diags.all()) {
    if (d.severity == Severity::Error && ++errors > kMaxErrorsShown) continue;
    render(out, d);
  }
  if (errors > kMaxErrorsShown) {
    out << "vmc: " << errors - kMaxErrorsShown << " more errors not shown (" << errors
        << " in all)\n";
  }
}

}  // namespace vmc

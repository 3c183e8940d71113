// Source files and spans: every AST node and every diagnostic points into a SourceFile.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vmc {

class SourceFile;

// A half-open byte range [begin, end) of one source file.
struct Span {
  const SourceFile* file = nullptr;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;

  bool valid() const { return file != nullptr; }
  // The smallest span covering both (same file assumed).
  static Span cover(const Span& a, const Span& b);
};

// 1-based line and column; the column counts Unicode code points, so a caret lines up under
// multi-byte UTF-8 text the way a terminal shows it.
struct LineCol {
  std::uint32_t line = 1;
  std::uint32_t col = 1;
};

class SourceFile {
 public:
  SourceFile(std::string path, std::string text);

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  LineCol line_col(std::uint32_t offset) const;
  // The text of 1-based line `line`, without its line terminator.
  std::string_view line_text(std::uint32_t line) const;
  std::uint32_t line_count() const { return static_cast<std::uint32_t>(line_starts_.size()); }
  std::uint32_t line_start(std::uint32_t line) const { return line_starts_[line - 1]; }
  Span span(std::uint32_t begin, std::uint32_t end) const { return Span{this, begin, end}; }

 private:
  std::string path_;
  std::string text_;
  std::vector<std::uint32_t> line_starts_;
};

// Owns every file a compilation reads, so spans stay valid for the compilation's lifetime.
class SourceManager {
 public:
  // Reads a file; returns nullptr and sets `error` (a message without the path) if it cannot.
  const SourceFile* load(const std::string& path, std::string& error);
  const SourceFile* add(std::string path, std::string text);

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

}  // namespace vmc

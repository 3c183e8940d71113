// CSV loader: one row per leading index, comma-separated numbers, optional header line.
#include "data_detail.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace vmc::data {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  for (;;) {
    size_t comma = line.find(',');
    fields.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  return fields;
}

enum class Parsed { Number, NotANumber, TooLarge };

// A whole field as a number (from_chars: also "nan", "inf"). TooLarge for a number past the
// largest double (1e400); one too small for a double (1e-400) reads as the nearest, 0.
Parsed parse_number(std::string_view s, double& v) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return Parsed::NotANumber;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return Parsed::NotANumber;
  if (ec == std::errc::result_out_of_range) {
    v = std::strtod(std::string(s).c_str(), nullptr);
    return std::isinf(v) ? Parsed::TooLarge : Parsed::Number;
  }
  return ec == std::errc() ? Parsed::Number : Parsed::NotANumber;
}

// The next non-blank line of `rest` (trimmed), advancing it and the line number; false at the end.
bool next_line(std::string_view& rest, int64_t& line_no, std::string_view& line) {
  while (!rest.empty()) {
    ++line_no;
    size_t nl = rest.find('\n');
    line = trim(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!line.empty()) return true;
  }
  return false;
}

}  // namespace

Array load_csv(const std::string& path, const std::string& name, const std::string& column) {
  const std::string text = detail::read_file(path);
  Array a;
  a.name = name;
  std::string_view rest(text);
  // A UTF-8 byte-order mark (as spreadsheets write) is not part of the first field.
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);
  int64_t rows = 0, cols = -1, line_no = 0;
  std::string_view line;
  std::vector<std::string> header;
  bool lone_header = false;  // the only line, with no numeric field: data, as said if it fails
  if (next_line(rest, line_no, line)) {
    // A header: a first line with no numeric field (a line with some, say "1,,3", is data, and
    // is checked), followed by data. The file's only line is data, never a header by accident.
    std::vector<std::string_view> fields = split(line);
    bool any_number = false;
    for (std::string_view f : fields) {
      double v;
      any_number = any_number || parse_number(f, v) != Parsed::NotANumber;
    }
    std::string_view after = rest;
    int64_t after_no = line_no;
    std::string_view next;
    const bool only_line = !next_line(after, after_no, next);
    lone_header = only_line && !any_number;
    if (!any_number && !only_line) {
      for (std::string_view f : fields) header.emplace_back(f);
      if (!next_line(rest, line_no, line)) line = {};
    }
  }
  // The column bound by name: its position in the header.
  size_t pick = 0;
  if (!column.empty()) {
    if (header.empty())
      throw DataError(path, "has no header line, so no column named '" + column +
                                "' (a header is a first line of names, followed by data rows)");
    std::string names;
    for (size_t c = 0; c < header.size(); ++c) {
      if (header[c] == column && pick == 0) pick = c + 1;
      names += (c ? ", " : "") + detail::excerpt(header[c]);
    }
    if (pick == 0)
      throw DataError(path, "no column named '" + detail::excerpt(column) + "' (its columns: " +
                                detail::excerpt(names, 400) + ")");
  }
  for (bool have = !line.empty(); have; have = next_line(rest, line_no, line)) {
    std::vector<std::string_view> fields = split(line);
    if (cols < 0) cols = static_cast<int64_t>(fields.size());
    if (static_cast<int64_t>(fields.size()) != cols)
      throw DataError(path, "line " + std::to_string(line_no) + " has " +
                                std::to_string(fields.size()) + " values, expected " +
                                std::to_string(cols) + " (as on the first data row)");
    if (pick && static_cast<int64_t>(header.size()) != cols)
      throw DataError(path, "line " + std::to_string(line_no) + " has " + std::to_string(cols) +
                                " values, but the header names " + std::to_string(header.size()) +
                                " columns");
    for (size_t c = 0; c < fields.size(); ++c) {
      if (pick && c + 1 != pick) continue;
      std::string where = "line " + std::to_string(line_no) + ", column " + std::to_string(c + 1);
      double v;
      switch (parse_number(fields[c], v)) {
        case Parsed::Number: break;
        case Parsed::TooLarge:
          throw DataError(path, where + ": " + detail::excerpt(fields[c]) +
                                    " is out of the range of a double (magnitude at most 1.8e308)");
        case Parsed::NotANumber:
          throw DataError(path, where + ": not a number: '" + detail::excerpt(fields[c]) + "'" +
                                    (lone_header ? " (the file's only line is read as data, not as a header)" : ""));
      }
      if (!std::isfinite(v))
        detail::check_finite(path, where + ": ", a.values.size(), v);
      a.values.push_back(v);
    }
    ++rows;
  }
  if (rows == 0) throw DataError(path, "no data rows");
  a.shape = cols == 1 || pick ? std::vector<int64_t>{rows} : std::vector<int64_t>{rows, cols};
  a.integer = detail::all_integral(a.values);
  return a;
}

}  // namespace vmc::data

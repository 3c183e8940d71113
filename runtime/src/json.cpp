// JSON loader: an object of named arrays, each a number or rectangular nested lists of numbers.
#include "data_detail.hpp"

#include <nlohmann/json.hpp>

namespace vmc::data {
namespace {

using nlohmann::json;

// Deeper nesting is refused before the file is parsed: a data array has a few dimensions, and
// the walks below (and the JSON library's) recurse once per level.
constexpr int kMaxDepth = 512;

// Throws DataError when `text` nests lists or objects deeper than kMaxDepth (brackets inside
// strings do not count).
void check_depth(const std::string& path, const std::string& text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth)
        throw DataError(path, "nested more than " + std::to_string(kMaxDepth) +
                                  " levels deep (at byte " + std::to_string(i) +
                                  "); data arrays have a few dimensions");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// Appends j's numbers to a.values, checking every list at depth d has a.shape[d] entries.
void walk(const std::string& path, Array& a, const json& j, size_t depth, bool& integer) {
  const std::string where = "array '" + detail::excerpt(a.name) + "': ";
  if (depth == a.shape.size()) {
    if (!j.is_number())
      throw DataError(path, where + "element " + std::to_string(a.values.size()) +
                                " is not a number: " + detail::excerpt(j.dump()));
    if (!j.is_number_integer()) integer = false;
    double v = j.get<double>();
    detail::check_finite(path, where, a.values.size(), v);
    a.values.push_back(v);
    return;
  }
  if (!j.is_array() || static_cast<int64_t>(j.size()) != a.shape[depth])
    throw DataError(path, where + "is ragged (expected shape " + detail::shape_string(a.shape) +
                              "; element " + std::to_string(a.values.size()) + " differs)");
  for (const json& e : j) walk(path, a, e, depth + 1, integer);
}

}  // namespace

std::vector<Array> load_json(const std::string& path) {
  const std::string text = detail::read_file(path);
  check_depth(path, text);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw DataError(path, "invalid JSON: " + detail::excerpt(e.what(), 200));
  }
  if (!doc.is_object()) throw DataError(path, "expected an object of named arrays");
  std::vector<Array> arrays;
  for (const auto& [key, value] : doc.items()) {
    Array a;
    a.name = key;
    // The shape is read off the first element at each depth; walk() checks the rest.
    for (const json* j = &value; j->is_array(); j = &(*j)[0]) {
      a.shape.push_back(static_cast<int64_t>(j->size()));
      if (j->empty()) break;
    }
    bool integer = true;
    walk(path, a, value, 0, integer);
    a.integer = integer;
    arrays.push_back(std::move(a));
  }
  return arrays;
}

}  // namespace vmc::data

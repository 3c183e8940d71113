// JSON loader: an object of named arrays, each a number or rectangular nested lists of numbers.
#include "data_detail.hpp"

#include <nlohmann/json.hpp>

namespace vmc::data {
namespace {

using nlohmann::json;

// Appends j's numbers to a.values, checking every list at depth d has a.shape[d] entries.
void walk(const std::string& path, Array& a, const json& j, size_t depth, bool& integer) {
  const std::string where = "array '" + a.name + "': ";
  if (depth == a.shape.size()) {
    if (!j.is_number())
      throw DataError(path, where + "element " + std::to_string(a.values.size()) +
                                " is not a number: " + j.dump());
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
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw DataError(path, std::string("invalid JSON: ") + e.what());
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

// Shared loader helpers, dispatch by extension, and flatten_rows (runtime/include/vmc/data.hpp).
#include "data_detail.hpp"

#include "vmc/files.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

namespace vmc::data {
namespace detail {

std::string read_file(const std::string& path) {
  std::string problem;
  std::optional<std::string> bytes = files::read_file(path, problem);
  if (!bytes) throw DataError(path, problem);
  return std::move(*bytes);
}

void check_finite(const std::string& path, const std::string& where, size_t index, double v) {
  if (std::isfinite(v)) return;
  std::string what = std::isnan(v) ? "NaN" : (v > 0 ? "Inf" : "-Inf");
  throw DataError(path, where + "element " + std::to_string(index) + " is " + what);
}

bool all_integral(const std::vector<double>& values) {
  for (double v : values)
    if (v != std::trunc(v)) return false;
  return true;
}

std::string excerpt(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "... (" + std::to_string(s.size()) + " bytes)";
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

uint64_t checked_bytes(const std::string& path, const std::vector<int64_t>& shape, uint64_t width) {
  uint64_t total = width;
  for (int64_t e : shape) {
    if (e < 0 || __builtin_mul_overflow(total, static_cast<uint64_t>(e), &total)) {
      throw DataError(path, "shape " + shape_string(shape) + " is too large (its size overflows)");
    }
  }
  return total;
}

}  // namespace detail

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Array load(const std::string& path, const std::string& name, bool raw_pixels) {
  std::string file = path.substr(path.find_last_of('/') == std::string::npos
                                     ? 0 : path.find_last_of('/') + 1);
  if (ends_with(file, ".gz") || file.find(".idx") != std::string::npos || ends_with(file, "-ubyte"))
    return load_idx(path, name, raw_pixels);
  if (ends_with(file, ".csv")) return load_csv(path, name);
  if (ends_with(file, ".npy")) return load_npy(path, name, raw_pixels);
  if (ends_with(file, ".json")) {
    std::vector<Array> arrays = load_json(path);
    std::string names;
    for (Array& a : arrays) {
      if (a.name == name) return std::move(a);
      names += (names.empty() ? "" : ", ") + a.name;
    }
    throw DataError(path, "no array named '" + name + "' (found: " +
                              (names.empty() ? "none" : detail::excerpt(names, 400)) + ")");
  }
  throw DataError(path, "unknown data format (expected .gz, .idx*, -ubyte, .csv, .npy or .json)");
}

Array flatten_rows(Array a) {
  if (a.shape.empty())
    throw std::invalid_argument("flatten_rows: array '" + a.name + "' is a scalar");
  int64_t row = 1;
  for (size_t i = 1; i < a.shape.size(); ++i) row *= a.shape[i];
  a.shape = {a.shape[0], row};
  return a;
}

}  // namespace vmc::data

// NPY loader: format versions 1.0/2.0/3.0, dtypes <f4 <f8 <i4 <i8 |u1, C order.
#include "data_detail.hpp"

#include <bit>
#include <cctype>

namespace vmc::data {
namespace {

uint64_t little_endian(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The text after `'key':` in the header dict, with leading spaces skipped.
std::string_view value_of(const std::string& path, std::string_view header, const char* key) {
  std::string quoted = std::string("'") + key + "'";
  size_t at = header.find(quoted);
  if (at == std::string_view::npos) throw DataError(path, std::string("NPY header has no '") + key + "'");
  at = header.find(':', at + quoted.size());
  if (at == std::string_view::npos) throw DataError(path, "malformed NPY header");
  std::string_view v = header.substr(at + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return v;
}

}  // namespace

Array load_npy(const std::string& path, const std::string& name, bool raw_pixels) {
  const std::string bytes = detail::read_file(path);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw DataError(path, "not an NPY file (bad magic)");
  const int major = p[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = little_endian(p + 8, 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw DataError(path, "truncated NPY header");
    header_len = little_endian(p + 8, 4);
    header_start = 12;
  } else {
    throw DataError(path, "unsupported NPY version " + std::to_string(major) + "." +
                              std::to_string(p[7]));
  }
  if (bytes.size() < header_start + header_len) throw DataError(path, "truncated NPY header");
  const std::string_view header(bytes.data() + header_start, header_len);

  std::string_view descr = value_of(path, header, "descr");
  if (descr.empty() || (descr.front() != '\'' && descr.front() != '"'))
    throw DataError(path, "malformed NPY header (descr)");
  descr = descr.substr(1, descr.find(descr.front(), 1) - 1);
  int width = 0;
  char kind = 0;
  if (descr == "<f4") kind = 'f', width = 4;
  else if (descr == "<f8") kind = 'f', width = 8;
  else if (descr == "<i4") kind = 'i', width = 4;
  else if (descr == "<i8") kind = 'i', width = 8;
  else if (descr == "|u1" || descr == "<u1") kind = 'u', width = 1;
  else
    throw DataError(path, "unsupported dtype '" + std::string(descr) +
                              "' (supported: <f4 <f8 <i4 <i8 |u1)");

  std::string_view fortran = value_of(path, header, "fortran_order");
  if (fortran.starts_with("True"))
    throw DataError(path, "fortran_order is True; only C-order arrays are supported");
  if (!fortran.starts_with("False")) throw DataError(path, "malformed NPY header (fortran_order)");

  std::string_view shape = value_of(path, header, "shape");
  if (shape.empty() || shape.front() != '(') throw DataError(path, "malformed NPY header (shape)");
  shape = shape.substr(1, shape.find(')') - 1);
  Array a;
  a.name = name;
  for (size_t i = 0; i < shape.size();) {
    if (std::isdigit(static_cast<unsigned char>(shape[i]))) {
      uint64_t n = 0;
      while (i < shape.size() && std::isdigit(static_cast<unsigned char>(shape[i]))) {
        if (n > (uint64_t{1} << 62) / 10) throw DataError(path, "malformed NPY header (an extent too large)");
        n = n * 10 + static_cast<uint64_t>(shape[i++] - '0');
      }
      a.shape.push_back(static_cast<int64_t>(n));
    } else if (shape[i] == ',' || shape[i] == ' ' || shape[i] == 'L') {
      ++i;
    } else {
      throw DataError(path, "malformed NPY header (shape)");
    }
  }

  const size_t data = header_start + header_len;
  const uint64_t need = detail::checked_bytes(path, a.shape, static_cast<uint64_t>(width));
  const uint64_t count = need / static_cast<uint64_t>(width);
  if (bytes.size() - data < need)
    throw DataError(path, "truncated data: shape " + detail::shape_string(a.shape) + " of " +
                              std::string(descr) + " needs " + std::to_string(need) +
                              " bytes, file has " + std::to_string(bytes.size() - data));
  a.values.resize(count);
  const unsigned char* d = p + data;
  for (uint64_t i = 0; i < count; ++i, d += width) {
    uint64_t raw = little_endian(d, width);
    double v = 0;
    if (kind == 'u') v = raw_pixels ? static_cast<double>(raw) : raw / 255.0;
    else if (kind == 'i') v = width == 4 ? static_cast<double>(static_cast<int32_t>(raw))
                                         : static_cast<double>(static_cast<int64_t>(raw));
    else v = width == 4 ? static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(raw)))
                        : std::bit_cast<double>(raw);
    detail::check_finite(path, "", i, v);
    a.values[i] = v;
  }
  a.integer = kind == 'i' || (kind == 'u' && raw_pixels);
  return a;
}

}  // namespace vmc::data

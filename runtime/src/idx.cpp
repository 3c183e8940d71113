// IDX loader (MNIST / Fashion-MNIST), plain or gzip-compressed.
#include "data_detail.hpp"

#include <zlib.h>

#include <bit>
#include <cstdio>

namespace vmc::data {
namespace {

// Inflates a gzip stream (all members) held in memory.
std::string gunzip(const std::string& path, const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw DataError(path, "zlib initialisation failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char buf[1 << 16];
  int rc = Z_OK;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (concatenated .gz files are valid gzip).
      if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ended mid-stream
    std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
    inflateEnd(&zs);
    throw DataError(path, "corrupt gzip data (" + msg + ")");
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw DataError(path, "truncated gzip data");
  return out;
}

uint64_t big_endian(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Array load_idx(const std::string& path, const std::string& name, bool raw_pixels) {
  return parse_idx(path, detail::read_file(path), name, raw_pixels);
}

Array parse_idx(const std::string& path, std::string bytes, const std::string& name, bool raw_pixels) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
      static_cast<unsigned char>(bytes[1]) == 0x8b)
    bytes = gunzip(path, bytes);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) throw DataError(path, "not an IDX file (shorter than its 4-byte magic)");
  char magic[16];
  std::snprintf(magic, sizeof magic, "0x%08x", static_cast<unsigned>(big_endian(p, 4)));
  int width = 0;
  switch (p[2]) {
    case 0x08: case 0x09: width = 1; break;
    case 0x0B: width = 2; break;
    case 0x0C: case 0x0D: width = 4; break;
    case 0x0E: width = 8; break;
    default: break;
  }
  if (p[0] != 0 || p[1] != 0 || width == 0 || p[3] == 0)
    throw DataError(path, std::string("not an IDX file (bad magic ") + magic + ")");
  const int type = p[2], rank = p[3];
  size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < header)
    throw DataError(path, "truncated header: " + std::to_string(rank) + " dimensions need " +
                              std::to_string(header) + " bytes, file has " +
                              std::to_string(bytes.size()));
  Array a;
  a.name = name;
  for (int d = 0; d < rank; ++d) a.shape.push_back(static_cast<int64_t>(big_endian(p + 4 + 4 * d, 4)));
  const uint64_t need = detail::checked_bytes(path, a.shape, static_cast<uint64_t>(width));
  const uint64_t count = need / static_cast<uint64_t>(width);
  if (bytes.size() - header < need)
    throw DataError(path, "truncated data: shape " + detail::shape_string(a.shape) + " needs " +
                              std::to_string(need) + " bytes, file has " +
                              std::to_string(bytes.size() - header));
  if (bytes.size() - header > need)
    throw DataError(path, "trailing bytes: shape " + detail::shape_string(a.shape) + " needs " +
                              std::to_string(need) + " bytes of data, file has " +
                              std::to_string(bytes.size() - header) +
                              " (a wrong header, or two files joined?)");
  a.values.resize(count);
  const unsigned char* d = p + header;
  const bool scale = type == 0x08 && rank >= 2 && !raw_pixels;
  for (uint64_t i = 0; i < count; ++i, d += width) {
    uint64_t raw = big_endian(d, width);
    double v = 0;
    switch (type) {
      case 0x08: v = scale ? raw / 255.0 : static_cast<double>(raw); break;
      case 0x09: v = static_cast<int8_t>(raw); break;
      case 0x0B: v = static_cast<int16_t>(raw); break;
      case 0x0C: v = static_cast<int32_t>(raw); break;
      case 0x0D: v = std::bit_cast<float>(static_cast<uint32_t>(raw)); break;
      case 0x0E: v = std::bit_cast<double>(raw); break;
    }
    detail::check_finite(path, "", i, v);
    a.values[i] = v;
  }
  a.integer = !scale && type != 0x0D && type != 0x0E;  // the stored type decides
  return a;
}

}  // namespace vmc::data

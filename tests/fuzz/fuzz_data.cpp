// libFuzzer target: the data loaders (IDX raw and gzip'd, CSV, NPY, JSON) on arbitrary bytes.
// The first byte picks the format; the rest is the file. Bad data must throw DataError (or
// come back as an array); anything else is a finding.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

#include "vmc/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* kExt[] = {".idx", "-ubyte.gz", ".csv", ".npy", ".json"};
  const char* ext = kExt[data[0] % 5];
  static const std::string dir = [] {
    char tmpl[] = "/tmp/vmc_fuzz_data.XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  const std::string path = dir + "/x" + ext;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    if (data[0] % 5 == 4) {
      (void)vmc::data::load_json(path);
    } else {
      (void)vmc::data::load(path, "x", (data[0] & 0x80) != 0);
    }
  } catch (const vmc::data::DataError&) {
  }
  return 0;
}

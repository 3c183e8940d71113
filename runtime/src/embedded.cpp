// The embedded default data set (runtime/include/vmc/data.hpp, embedded_digits).
#include <cstddef>
#include <string>

#include "vmc/data.hpp"

namespace vmc::data {
namespace detail {
extern const char kDigitsIdxGz[];
extern const std::size_t kDigitsIdxGzSize;
}  // namespace detail

Array embedded_digits(const std::string& name, bool raw_pixels) {
  // Stored as u1 counts 0–16 (IDX's u1 scaling would divide by 255): scale by 16 here.
  Array a = parse_idx("<embedded digits>", std::string(detail::kDigitsIdxGz, detail::kDigitsIdxGzSize),
                      name, /*raw_pixels=*/true);
  a = flatten_rows(std::move(a));
  if (!raw_pixels) {
    for (double& v : a.values) v /= 16.0;
    a.integer = false;
  }
  return a;
}

}  // namespace vmc::data

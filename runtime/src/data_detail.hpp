// Helpers shared by the loaders (runtime/src/{data,idx,csv,npy,json}.cpp). Internal.
#pragma once

#include "vmc/data.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vmc::data::detail {

// The whole file as bytes; DataError "cannot open file" when it is missing or unreadable.
std::string read_file(const std::string& path);

// Throws DataError naming the element (flat C-order index) when v is NaN or infinite.
void check_finite(const std::string& path, const std::string& where, size_t index, double v);

// True when every value is an integer.
bool all_integral(const std::vector<double>& values);

// At most `max` bytes of `s` for a message: longer text is cut, with "..." and its full length
// (a field or JSON value may be megabytes long).
std::string excerpt(std::string_view s, size_t max = 80);

// "[2, 3]"
std::string shape_string(const std::vector<int64_t>& shape);

// The element count of `shape` times `width` bytes; DataError naming the shape when that does
// not fit in 64 bits (a header's extents multiplied would wrap around and pass a size check).
uint64_t checked_bytes(const std::string& path, const std::vector<int64_t>& shape, uint64_t width);

}  // namespace vmc::data::detail

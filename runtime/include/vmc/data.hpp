// Data loaders: the files `--data NAME=PATH` binds (INTERFACE.md, "Data binding"). Each loader
// reads one file into a dense, row-major (C order) array of doubles; the fit loop converts to
// the model's precision later. No LLVM, no compiler: this is plain C++ over zlib and
// nlohmann_json (both linked privately).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmc::data {

// A named dense array in C order: values.size() is the product of shape (1 for a scalar).
// `integer` is set when every value is an integer (labels, counts, raw pixels).
struct Array {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<double> values;
  bool integer = false;
};

// Every loader failure. The message is "PATH: problem", naming the element (flat C-order
// index, or CSV line and column) for a bad value.
class DataError : public std::runtime_error {
 public:
  DataError(const std::string& path, const std::string& problem)
      : std::runtime_error(path + ": " + problem), path_(path) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// IDX (MNIST / Fashion-MNIST), plain or gzip-compressed (detected by its magic 1f 8b). Shape as
// stored. Unsigned-byte data of rank >= 2 (images) is scaled to [0, 1] unless raw_pixels;
// rank-1 unsigned bytes (labels) and all integer types load unscaled with `integer` set. Bytes
// past the data the header describes are refused, as are too few.
Array load_idx(const std::string& path, const std::string& name, bool raw_pixels = false);

// The same from bytes already in memory; `path` only names them in messages.
Array parse_idx(const std::string& path, std::string bytes, const std::string& name, bool raw_pixels = false);

// The embedded default data set (runtime/data/README.md): the 1,797 handwritten 8×8 digits of
// the UCI "Optical Recognition of Handwritten Digits" set, as [1797, 64] values in [0, 1]
// (raw_pixels: the stored counts 0–16). Built into the library, so it needs no file.
Array embedded_digits(const std::string& name, bool raw_pixels = false);

// CSV: one row per leading index, comma-separated numbers; a UTF-8 byte-order mark is skipped.
// A first line with no numeric field, followed by data rows, is a header and is skipped (a first
// line with some, like "1,abc", is data and fails; so does the file's only line: it is never
// taken for a header); blank lines are ignored. NaN/Inf, numbers past the double range and
// unparsable fields fail naming the line and column. One column gives a vector [N], otherwise a
// matrix [N, D]; every row must have D values. With `column`, the vector [N] of the column the
// header names so (the file must have a header).
Array load_csv(const std::string& path, const std::string& name, const std::string& column = "");

// NPY v1.0/2.0/3.0, dtypes <f4 <f8 <i4 <i8 |u1 in C order. u1 is scaled to [0, 1] unless
// raw_pixels.
Array load_npy(const std::string& path, const std::string& name, bool raw_pixels = false);

// JSON: an object of named arrays, each a number or (rectangular) nested lists of numbers.
// Arrays come back sorted by name. Values that are not numbers ("NaN" strings), ragged lists and
// numbers out of double range fail naming the array.
std::vector<Array> load_json(const std::string& path);

// By extension: .gz, .idx*, *-ubyte -> IDX; .csv; .npy; .json (the array called `name`).
Array load(const std::string& path, const std::string& name, bool raw_pixels = false);

// [N, a, b, ...] -> [N, a*b*...] (a vector [N] becomes [N, 1]); values are unchanged. For a data
// block `x : real[N, D]` bound to images stored as [N, 28, 28].
Array flatten_rows(Array a);

}  // namespace vmc::data

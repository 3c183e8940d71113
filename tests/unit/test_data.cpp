// The data loaders (runtime/include/vmc/data.hpp): IDX (raw and gzip), CSV, NPY and JSON files
// written into a temporary directory per test, checked for shape, values, pixel scaling and the
// exact error messages ("PATH: problem").
#include "vmc/data.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using vmc::data::Array;
using vmc::data::DataError;

namespace {

struct TempDir : vmc::test::TempDir {
  TempDir() : vmc::test::TempDir("vmc_test_data_") {}
  std::string write_gz(const std::string& name, const std::string& bytes) const {
    gzFile f = gzopen(path(name).c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
            static_cast<int>(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
    return path(name);
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The message of the DataError f throws ("" when it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

void put_be32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// An IDX file of unsigned bytes with the given dims.
std::string idx_u8(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string s = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims) put_be32(s, d);
  s.append(reinterpret_cast<const char*>(data.data()), data.size());
  return s;
}

template <typename T>
std::string npy(const std::string& descr, const std::string& shape, const std::vector<T>& data,
                bool fortran = false, int major = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict.push_back(' ');
  dict.push_back('\n');
  std::string s = "\x93NUMPY";
  s.push_back(static_cast<char>(major));
  s.push_back(0);
  uint32_t len = static_cast<uint32_t>(dict.size());
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) s.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  s += dict;
  s.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(T));  // host is LE
  return s;
}

}  // namespace

TEST_CASE("data: IDX images and labels, raw and gzipped") {
  TempDir t;
  std::vector<uint8_t> pixels = {0, 255, 51, 102, 0, 0, 255, 255, 1, 2, 3, 4};
  std::string images = idx_u8({3, 2, 2}, pixels);
  std::string labels = idx_u8({3}, {7, 0, 9});
  for (bool gz : {false, true}) {
    CAPTURE(gz);
    std::string ip = gz ? t.write_gz("img-idx3-ubyte.gz", images) : t.write("img-idx3-ubyte", images);
    std::string lp = gz ? t.write_gz("lab-idx1-ubyte.gz", labels) : t.write("lab-idx1-ubyte", labels);
    if (gz) CHECK(static_cast<uint8_t>(slurp(ip)[0]) == 0x1f);
    Array a = vmc::data::load_idx(ip, "x");
    CHECK(a.name == "x");
    CHECK(a.shape == std::vector<int64_t>{3, 2, 2});
    REQUIRE(a.values.size() == 12);
    CHECK_FALSE(a.integer);
    CHECK(a.values[0] == 0.0);
    CHECK(a.values[1] == 1.0);
    CHECK(a.values[2] == doctest::Approx(0.2));
    CHECK(a.values[3] == doctest::Approx(0.4));
    Array raw = vmc::data::load_idx(ip, "x", true);
    CHECK(raw.integer);
    CHECK(raw.values[1] == 255.0);
    CHECK(raw.values[11] == 4.0);
    Array l = vmc::data::load(lp, "y");
    CHECK(l.shape == std::vector<int64_t>{3});
    CHECK(l.integer);
    CHECK(l.values == std::vector<double>{7, 0, 9});
    CHECK(vmc::data::load(ip, "x").values == a.values);

    Array f = vmc::data::flatten_rows(a);
    CHECK(f.shape == std::vector<int64_t>{3, 4});
    CHECK(f.values == a.values);
  }
}

TEST_CASE("data: IDX of int32 and float64") {
  TempDir t;
  std::string s = {0, 0, 0x0C, 1};
  put_be32(s, 2);
  put_be32(s, static_cast<uint32_t>(-5));
  put_be32(s, 70000);
  Array a = vmc::data::load_idx(t.write("i.idx", s), "n");
  CHECK(a.integer);
  CHECK(a.values == std::vector<double>{-5, 70000});

  std::string d = {0, 0, 0x0E, 1};
  put_be32(d, 1);
  double v = 2.5;
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 7; i >= 0; --i) d.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  Array b = vmc::data::load_idx(t.write("d.idx", d), "r");
  CHECK_FALSE(b.integer);
  CHECK(b.values == std::vector<double>{2.5});

  std::string nan = {0, 0, 0x0E, 1};
  put_be32(nan, 1);
  for (int i = 0; i < 8; ++i) nan.push_back(static_cast<char>(i == 0 ? 0x7f : (i == 1 ? 0xf8 : 0)));
  std::string np = t.write("nan.idx", nan);
  CHECK(error_of([&] { vmc::data::load_idx(np, "r"); }) == np + ": element 0 is NaN");
}

TEST_CASE("data: IDX errors") {
  TempDir t;
  std::string missing = t.path("nope-idx3-ubyte");
  CHECK(error_of([&] { vmc::data::load_idx(missing, "x"); }) == missing + ": cannot open file: No such file or directory");

  std::string bad = t.write("bad.idx", std::string("\x00\x00\x07\x01\x00\x00\x00\x01\x05", 9));
  CHECK(error_of([&] { vmc::data::load_idx(bad, "x"); }) == bad + ": not an IDX file (bad magic 0x00000701)");

  std::string full = idx_u8({2, 3, 3}, std::vector<uint8_t>(18, 1));
  std::string trunc = t.write("t-idx3-ubyte", full.substr(0, full.size() - 5));
  CHECK(error_of([&] { vmc::data::load_idx(trunc, "x"); }) ==
        trunc + ": truncated data: shape [2, 3, 3] needs 18 bytes, file has 13");
  std::string tgz = t.write_gz("t2-idx3-ubyte.gz", full.substr(0, full.size() - 1));
  CHECK(error_of([&] { vmc::data::load_idx(tgz, "x"); }) ==
        tgz + ": truncated data: shape [2, 3, 3] needs 18 bytes, file has 17");

  std::string gz = slurp(t.write_gz("g.gz", full));
  std::string cut = t.write("cut.gz", gz.substr(0, gz.size() / 2));
  CHECK(error_of([&] { vmc::data::load_idx(cut, "x"); }) == cut + ": truncated gzip data");
  std::string corrupt = gz;
  for (size_t i = 10; i < corrupt.size() - 8; ++i) corrupt[i] = static_cast<char>(0xff);
  std::string cp = t.write("corrupt.gz", corrupt);
  CHECK(error_of([&] { vmc::data::load_idx(cp, "x"); }).starts_with(cp + ": corrupt gzip data ("));
}

TEST_CASE("data: IDX and NPY extents whose product overflows are refused (found by fuzz_data)") {
  // fuzz_data's first crash: four extents multiplied past 2^64 wrapped to a small size that
  // passed the truncation check, then the loader allocated the wrapped-around count.
  TempDir t;
  std::string wrap = idx_u8({0xffffffffu, 0xffffffffu, 0xffffffffu, 0x10u}, std::vector<uint8_t>(16, 1));
  std::string w = t.write("wrap.idx", wrap);
  CHECK(error_of([&] { vmc::data::load_idx(w, "x"); }) ==
        w + ": shape [4294967295, 4294967295, 4294967295, 16] is too large (its size overflows)");
  std::string n = t.write("wrap.npy", npy<double>("<f8", "(4294967296, 4294967296, 2)", {1, 2}));
  CHECK(error_of([&] { vmc::data::load_npy(n, "x"); }) ==
        n + ": shape [4294967296, 4294967296, 2] is too large (its size overflows)");
  std::string big = t.write("big.npy", npy<double>("<f8", "(99999999999999999999,)", {1}));
  CHECK(error_of([&] { vmc::data::load_npy(big, "x"); }) == big + ": malformed NPY header (an extent too large)");
}

TEST_CASE("data: CSV matrix, header, vector") {
  TempDir t;
  std::string m = t.write("m.csv", "1, 2.5,3\n4,5,-6e-1\n");
  Array a = vmc::data::load(m, "x");
  CHECK(a.shape == std::vector<int64_t>{2, 3});
  CHECK(a.values == std::vector<double>{1, 2.5, 3, 4, 5, -0.6});
  CHECK_FALSE(a.integer);

  std::string h = t.write("h.csv", "a,b\r\n1,2\r\n3,+4\r\n\r\n");
  Array b = vmc::data::load_csv(h, "x");
  CHECK(b.shape == std::vector<int64_t>{2, 2});
  CHECK(b.values == std::vector<double>{1, 2, 3, 4});
  CHECK(b.integer);

  std::string v = t.write("v.csv", "y\n0\n1\n1\n");
  Array c = vmc::data::load_csv(v, "y");
  CHECK(c.shape == std::vector<int64_t>{3});
  CHECK(c.values == std::vector<double>{0, 1, 1});
  CHECK(c.integer);
}

TEST_CASE("data: CSV errors") {
  TempDir t;
  std::string ragged = t.write("r.csv", "a,b\n1,2\n3\n");
  CHECK(error_of([&] { vmc::data::load_csv(ragged, "x"); }) ==
        ragged + ": line 3 has 1 values, expected 2 (as on the first data row)");
  std::string nan = t.write("n.csv", "1,2\n3,nan\n");
  CHECK(error_of([&] { vmc::data::load_csv(nan, "x"); }) == nan + ": line 2, column 2: element 3 is NaN");
  std::string inf = t.write("i.csv", "-inf,2\n");
  CHECK(error_of([&] { vmc::data::load_csv(inf, "x"); }) == inf + ": line 1, column 1: element 0 is -Inf");
  std::string bad = t.write("b.csv", "1,2\n3,4x\n");
  CHECK(error_of([&] { vmc::data::load_csv(bad, "x"); }) == bad + ": line 2, column 2: not a number: '4x'");
  std::string empty = t.write("e.csv", "1,,3\n");
  CHECK(error_of([&] { vmc::data::load_csv(empty, "x"); }) == empty + ": line 1, column 2: not a number: ''");
  std::string mixed = t.write("mixed.csv", "1,abc\n2,3\n");
  CHECK(error_of([&] { vmc::data::load_csv(mixed, "x"); }) == mixed + ": line 1, column 2: not a number: 'abc'");
  std::string none = t.write("none.csv", "a,b\n");
  CHECK(error_of([&] { vmc::data::load_csv(none, "x"); }) ==
        none + ": line 1, column 1: not a number: 'a' (the file's only line is read as data, not as a header)");
  std::string blank = t.write("blank.csv", "\n\r\n");
  CHECK(error_of([&] { vmc::data::load_csv(blank, "x"); }) == blank + ": no data rows");
}

TEST_CASE("data: CSV with a byte-order mark, and the header rule (issue 21)") {
  // A spreadsheet's UTF-8 BOM made the first value of a one-column file look like a header:
  // eight schools ran with J = 7.
  TempDir t;
  std::string bom = t.write("bom.csv", "\xEF\xBB\xBF" "28\n8\n-3\n");
  Array a = vmc::data::load_csv(bom, "y");
  CHECK(a.shape == std::vector<int64_t>{3});
  CHECK(a.values == std::vector<double>{28, 8, -3});
  std::string bom_header = t.write("bomh.csv", "\xEF\xBB\xBF" "y\r\n1\r\n2\r\n");
  CHECK(vmc::data::load_csv(bom_header, "y").values == std::vector<double>{1, 2});
  // The file's only line is data, never a header by accident.
  std::string one = t.write("one.csv", "1.5,2.5\n");
  CHECK(vmc::data::load_csv(one, "x").shape == std::vector<int64_t>{1, 2});
  std::string odd = t.write("odd.csv", "\xC2\xA0" "7\n");
  CHECK(error_of([&] { vmc::data::load_csv(odd, "x"); }) ==
        odd + ": line 1, column 1: not a number: '\xC2\xA0" "7' (the file's only line is read as data, not as a header)");
}

TEST_CASE("data: numbers past the double range are named so in CSV (issue 21)") {
  TempDir t;
  std::string big = t.write("big.csv", "1,2\n3,1e400\n");
  CHECK(error_of([&] { vmc::data::load_csv(big, "x"); }) ==
        big + ": line 2, column 2: 1e400 is out of the range of a double (magnitude at most 1.8e308)");
  std::string neg = t.write("neg.csv", "-1e999\n");
  CHECK(error_of([&] { vmc::data::load_csv(neg, "x"); }) ==
        neg + ": line 1, column 1: -1e999 is out of the range of a double (magnitude at most 1.8e308)");
  std::string tiny = t.write("tiny.csv", "1e-400\n2\n");  // underflows to 0, as numpy reads it
  CHECK(vmc::data::load_csv(tiny, "x").values == std::vector<double>{0, 2});
  std::string field(100000, '7');
  field += "x";
  std::string longf = t.write("long.csv", "1\n" + field + "\n");
  std::string msg = error_of([&] { vmc::data::load_csv(longf, "x"); });
  CHECK(msg.size() < longf.size() + 150);
  CHECK(msg.find("(100001 bytes)") != std::string::npos);
}

TEST_CASE("data: CSV columns by header name (issue 21)") {
  TempDir t;
  std::string h = t.write("hier.csv", "y, group,w\n1.5,0,2\n-2,1,3\n0.25,1,4\n");
  Array g = vmc::data::load_csv(h, "g", "group");
  CHECK(g.name == "g");
  CHECK(g.shape == std::vector<int64_t>{3});
  CHECK(g.values == std::vector<double>{0, 1, 1});
  CHECK(g.integer);
  Array y = vmc::data::load_csv(h, "y", "y");
  CHECK(y.values == std::vector<double>{1.5, -2, 0.25});
  CHECK_FALSE(y.integer);
  CHECK(error_of([&] { vmc::data::load_csv(h, "g", "grp"); }) ==
        h + ": no column named 'grp' (its columns: y, group, w)");
  std::string bare = t.write("bare.csv", "1,2\n3,4\n");
  CHECK(error_of([&] { vmc::data::load_csv(bare, "g", "group"); }) ==
        bare + ": has no header line, so no column named 'group' (a header is a first line of names, followed by data rows)");
  std::string short_header = t.write("sh.csv", "a,b\n1,2,3\n");
  CHECK(error_of([&] { vmc::data::load_csv(short_header, "g", "a"); }) ==
        short_header + ": line 2 has 3 values, but the header names 2 columns");
  // A bad value elsewhere in the row is not the column's business; in the column it is.
  std::string other = t.write("other.csv", "a,b\n1,zz\n2,3\n");
  CHECK(vmc::data::load_csv(other, "g", "a").values == std::vector<double>{1, 2});
  CHECK(error_of([&] { vmc::data::load_csv(other, "g", "b"); }) == other + ": line 2, column 2: not a number: 'zz'");
}

TEST_CASE("data: IDX with bytes past its data is refused (issue 21)") {
  TempDir t;
  std::string full = idx_u8({2, 3}, std::vector<uint8_t>(6, 1));
  std::string extra = t.write("extra-idx2-ubyte", full + "\x01\x02");
  CHECK(error_of([&] { vmc::data::load_idx(extra, "x"); }) ==
        extra + ": trailing bytes: shape [2, 3] needs 6 bytes of data, file has 8 (a wrong header, or two files joined?)");
  std::string gz = t.write_gz("extra-idx2-ubyte.gz", full + "\x01");
  CHECK(error_of([&] { vmc::data::load_idx(gz, "x"); }) ==
        gz + ": trailing bytes: shape [2, 3] needs 6 bytes of data, file has 7 (a wrong header, or two files joined?)");
  CHECK(vmc::data::load_idx(t.write("ok-idx2-ubyte", full), "x").shape == std::vector<int64_t>{2, 3});
}

TEST_CASE("data: JSON nested past 512 levels is refused before it is walked; messages stay short (issue 21)") {
  TempDir t;
  // 4,000,000 levels overflowed the stack (exit 139).
  const size_t levels = 4000000;
  std::string deep = "{\"x\": " + std::string(levels, '[') + "1" + std::string(levels, ']') + "}";
  std::string d = t.write("deep.json", deep);
  CHECK(error_of([&] { vmc::data::load_json(d); }) ==
        d + ": nested more than 512 levels deep (at byte 517); data arrays have a few dimensions");
  // 512 levels load (a 511-dimensional array of one element).
  std::string ok = t.write("ok.json", "{\"x\": " + std::string(511, '[') + "2" + std::string(511, ']') + "}");
  CHECK(vmc::data::load(ok, "x").shape.size() == 511);
  // Brackets in strings are not nesting.
  std::string str = t.write("str.json", "{\"x\": [1], \"s\": \"" + std::string(1000, '[') + "\"}");
  CHECK(error_of([&] { vmc::data::load_json(str); }) == str + ": array 's': element 0 is not a number: \"" +
                                                            std::string(79, '[') + "... (1002 bytes)");
  // A nested object where a number belongs: an excerpt, not the whole object (6 MB before).
  std::string ones;
  for (int k = 0; k < 100000; ++k) ones += "1,";
  std::string big = "{\"x\": [1, {\"a\": [" + ones + "1]}]}";
  std::string b = t.write("obj.json", big);
  std::string msg = error_of([&] { vmc::data::load_json(b); });
  CHECK(msg.starts_with(b + ": array 'x': element 1 is not a number: {\"a\":[1,1,1"));
  CHECK(msg.size() < b.size() + 150);
}

TEST_CASE("data: NPY dtypes") {
  TempDir t;
  Array f4 = vmc::data::load(t.write("f4.npy", npy<float>("<f4", "(2, 2)", {1.5f, 2, 3, 4})), "x");
  CHECK(f4.shape == std::vector<int64_t>{2, 2});
  CHECK(f4.values == std::vector<double>{1.5, 2, 3, 4});
  CHECK_FALSE(f4.integer);
  Array f8 = vmc::data::load_npy(t.write("f8.npy", npy<double>("<f8", "(3,)", {0.1, -2, 3}, false, 2)), "x");
  CHECK(f8.shape == std::vector<int64_t>{3});
  CHECK(f8.values == std::vector<double>{0.1, -2, 3});
  Array i4 = vmc::data::load_npy(t.write("i4.npy", npy<int32_t>("<i4", "(1, 2)", {-7, 8})), "x");
  CHECK(i4.integer);
  CHECK(i4.values == std::vector<double>{-7, 8});
  Array i8 = vmc::data::load_npy(t.write("i8.npy", npy<int64_t>("<i8", "(2,)", {int64_t{1} << 40, -1})), "x");
  CHECK(i8.values == std::vector<double>{1099511627776.0, -1});
  std::string u1 = t.write("u1.npy", npy<uint8_t>("|u1", "(1, 2, 2)", {0, 255, 51, 1}));
  Array px = vmc::data::load_npy(u1, "x");
  CHECK(px.shape == std::vector<int64_t>{1, 2, 2});
  CHECK_FALSE(px.integer);
  CHECK(px.values[1] == 1.0);
  CHECK(px.values[2] == doctest::Approx(0.2));
  Array raw = vmc::data::load_npy(u1, "x", true);
  CHECK(raw.integer);
  CHECK(raw.values == std::vector<double>{0, 255, 51, 1});
  Array scalar = vmc::data::load_npy(t.write("s.npy", npy<double>("<f8", "()", {4})), "x");
  CHECK(scalar.shape.empty());
  CHECK(scalar.values == std::vector<double>{4});
}

TEST_CASE("data: NPY errors") {
  TempDir t;
  std::string fo = t.write("fo.npy", npy<double>("<f8", "(2, 2)", {1, 2, 3, 4}, true));
  CHECK(error_of([&] { vmc::data::load_npy(fo, "x"); }) ==
        fo + ": fortran_order is True; only C-order arrays are supported");
  std::string full = npy<double>("<f8", "(2, 2)", {1, 2, 3, 4});
  std::string tr = t.write("tr.npy", full.substr(0, full.size() - 3));
  CHECK(error_of([&] { vmc::data::load_npy(tr, "x"); }) ==
        tr + ": truncated data: shape [2, 2] of <f8 needs 32 bytes, file has 29");
  std::string be = t.write("be.npy", npy<double>(">f8", "(1,)", {1}));
  CHECK(error_of([&] { vmc::data::load_npy(be, "x"); }) ==
        be + ": unsupported dtype '>f8' (supported: <f4 <f8 <i4 <i8 |u1)");
  std::string magic = t.write("m.npy", "not numpy at all");
  CHECK(error_of([&] { vmc::data::load_npy(magic, "x"); }) == magic + ": not an NPY file (bad magic)");
  std::string inf = t.write("inf.npy", npy<float>("<f4", "(2,)", {1, 1.0f / 0.0f}));
  CHECK(error_of([&] { vmc::data::load_npy(inf, "x"); }) == inf + ": element 1 is Inf");
}

TEST_CASE("data: JSON named arrays") {
  TempDir t;
  std::string p = t.write("d.json", R"({"x": [[1, 2.5], [3, 4]], "y": [0, 1], "n": 3, "e": []})");
  std::vector<Array> all = vmc::data::load_json(p);
  REQUIRE(all.size() == 4);
  Array x = vmc::data::load(p, "x");
  CHECK(x.shape == std::vector<int64_t>{2, 2});
  CHECK(x.values == std::vector<double>{1, 2.5, 3, 4});
  CHECK_FALSE(x.integer);
  Array y = vmc::data::load(p, "y");
  CHECK(y.shape == std::vector<int64_t>{2});
  CHECK(y.integer);
  Array n = vmc::data::load(p, "n");
  CHECK(n.shape.empty());
  CHECK(n.values == std::vector<double>{3});
  Array e = vmc::data::load(p, "e");
  CHECK(e.shape == std::vector<int64_t>{0});
  CHECK(e.values.empty());
  CHECK(error_of([&] { vmc::data::load(p, "z"); }) == p + ": no array named 'z' (found: e, n, x, y)");
}

TEST_CASE("data: JSON errors") {
  TempDir t;
  std::string r = t.write("r.json", R"({"x": [[1, 2], [3]]})");
  CHECK(error_of([&] { vmc::data::load_json(r); }) ==
        r + ": array 'x': is ragged (expected shape [2, 2]; element 2 differs)");
  std::string r2 = t.write("r2.json", R"({"x": [[1, 2], 3]})");
  CHECK(error_of([&] { vmc::data::load_json(r2); }) ==
        r2 + ": array 'x': is ragged (expected shape [2, 2]; element 2 differs)");
  std::string s = t.write("s.json", R"({"x": [1, "NaN", 3]})");
  CHECK(error_of([&] { vmc::data::load_json(s); }) == s + ": array 'x': element 1 is not a number: \"NaN\"");
  std::string lit = t.write("lit.json", R"({"x": [1, NaN]})");
  CHECK(error_of([&] { vmc::data::load_json(lit); }).starts_with(lit + ": invalid JSON: "));
  std::string top = t.write("top.json", "[1, 2]");
  CHECK(error_of([&] { vmc::data::load_json(top); }) == top + ": expected an object of named arrays");
  std::string huge = t.write("huge.json", R"({"x": [1e400]})");
  CHECK(error_of([&] { vmc::data::load_json(huge); }) ==
        huge + ": invalid JSON: [json.exception.out_of_range.406] number overflow parsing '1e400'");
}

TEST_CASE("data: dispatch by extension and flatten_rows") {
  TempDir t;
  std::string p = t.write("x.txt", "1\n");
  CHECK(error_of([&] { vmc::data::load(p, "x"); }) ==
        p + ": unknown data format (expected .gz, .idx*, -ubyte, .csv, .npy or .json)");
  Array v;
  v.name = "v";
  v.shape = {3};
  v.values = {1, 2, 3};
  CHECK(vmc::data::flatten_rows(v).shape == std::vector<int64_t>{3, 1});
  Array s;
  s.name = "s";
  s.values = {1};
  CHECK_THROWS_AS(vmc::data::flatten_rows(s), std::invalid_argument);
}

TEST_CASE("data: Fashion-MNIST test images (Debian dataset-fashion-mnist, when installed)") {
  const std::string path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(path)) return;  // the package is optional
  Array a = vmc::data::load(path, "x");
  CHECK(a.shape == std::vector<int64_t>{10000, 28, 28});
  REQUIRE(a.values.size() == 10000u * 28 * 28);
  for (double v : a.values) REQUIRE((v >= 0.0 && v <= 1.0));
  Array f = vmc::data::flatten_rows(std::move(a));
  CHECK(f.shape == std::vector<int64_t>{10000, 784});
}

TEST_CASE("data: the embedded digits load as 1,797 8x8 images with values 0-16 and labels 0-9") {
  std::string dir = std::string(VMC_SOURCE_DIR) + "/runtime/data/";
  vmc::data::Array images = vmc::data::load_idx(dir + "digits-images-idx3-ubyte.gz", "x", true);
  CHECK(images.shape == std::vector<std::int64_t>{1797, 8, 8});
  CHECK(images.integer);
  CHECK(*std::max_element(images.values.begin(), images.values.end()) == 16);
  CHECK(*std::min_element(images.values.begin(), images.values.end()) == 0);
  vmc::data::Array flat = vmc::data::flatten_rows(images);
  CHECK(flat.shape == std::vector<std::int64_t>{1797, 64});
  vmc::data::Array labels = vmc::data::load_idx(dir + "digits-labels-idx1-ubyte.gz", "y", true);
  CHECK(labels.shape == std::vector<std::int64_t>{1797});
  CHECK(*std::max_element(labels.values.begin(), labels.values.end()) == 9);
  CHECK(labels.values[0] == 0);  // sklearn's first digit is a 0
}

// The picture writers (runtime/include/vmc/images.hpp): PNG grids read back with libpng and
// checked pixel by pixel, SVG plots checked for their structure and escaping, and the atomic
// write (no temporary file left behind on failure).
#include "vmc/images.hpp"

#include <doctest/doctest.h>
#include <png.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using vmc::images::ImageShape;
using vmc::images::Series;

namespace {

struct TempDir : vmc::test::TempDir {
  TempDir() : vmc::test::TempDir("vmc_test_images_") {}
};

struct Gray {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> pixels;
  int at(uint32_t x, uint32_t y) const { return pixels[size_t{y} * width + x]; }
};

// Reads a PNG back as 8-bit grayscale with libpng's simplified API.
Gray read_png(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, path.c_str()) != 0);
  CHECK(image.format == PNG_FORMAT_GRAY);  // written grayscale, not converted on reading
  image.format = PNG_FORMAT_GRAY;
  Gray g;
  g.width = image.width;
  g.height = image.height;
  g.pixels.resize(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, g.pixels.data(), 0, nullptr) != 0);
  return g;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Whether s is the start and end of one well-formed SVG document (not a full XML parse).
void check_svg_frame(const std::string& s) {
  REQUIRE(s.size() > 20);
  CHECK(s.rfind("<svg", 0) == 0);
  CHECK(s.find("</svg>") == s.size() - std::string("</svg>\n").size());
  CHECK(occurrences(s, "<svg") == 1);
  CHECK(s.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(s.find("nan") == std::string::npos);
  CHECK(s.find("inf") == std::string::npos);
}

}  // namespace

TEST_CASE("images: image_shape recognises square rows of at least 16 values") {
  auto mnist = vmc::images::image_shape(784);
  REQUIRE(mnist);
  CHECK(mnist->height == 28);
  CHECK(mnist->width == 28);
  auto digits = vmc::images::image_shape(64);
  REQUIRE(digits);
  CHECK(digits->height == 8);
  CHECK(vmc::images::image_shape(16)->width == 4);
  CHECK(vmc::images::image_shape(1024 * 1024)->height == 1024);
  for (int64_t d : {-1, 0, 1, 4, 9, 10, 15, 17, 63, 65, 783, 785, 10})
    CHECK_MESSAGE(!vmc::images::image_shape(d), d);
  // Near the top of int64 the square root in doubles is inexact; still no false answer.
  CHECK(!vmc::images::image_shape(INT64_MAX));
  CHECK(vmc::images::image_shape(int64_t{3037000499} * 3037000499)->height == 3037000499);
}

// The pixel at (x, y) of image `image` (in the image's own pixels) as laid out by `at`.
int tile_pixel(const Gray& g, const vmc::images::GridLayout& at, int64_t image, int64_t x,
               int64_t y) {
  const int64_t r = image / at.columns, c = image % at.columns;
  const int64_t px = at.left + c * (at.tile_width + at.gap) + x * at.scale;
  const int64_t py = at.top + r * (at.tile_height + at.gap) + y * at.scale;
  return g.at(static_cast<uint32_t>(px), static_cast<uint32_t>(py));
}

// Whether every pixel of the rectangle [x0, x1) x [y0, y1) is `value`.
bool all_are(const Gray& g, int64_t x0, int64_t y0, int64_t x1, int64_t y1, int value) {
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = x0; x < x1; ++x)
      if (g.at(static_cast<uint32_t>(x), static_cast<uint32_t>(y)) != value) return false;
  return true;
}

TEST_CASE("images: a PNG grid reads back with the right size and pixels") {
  TempDir t;
  const std::string path = t.path("grid.png");
  // Three 28x28 images, two columns: black, white, and a left-to-right ramp with a NaN and
  // out-of-range values in its first row.
  const int64_t h = 28, w = 28;
  std::vector<double> v(3 * h * w);
  for (int64_t i = 0; i < h * w; ++i) v[i] = 0.0, v[h * w + i] = 1.0;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) v[2 * h * w + y * w + x] = static_cast<double>(x) / (w - 1);
  v[2 * h * w + 0] = NAN;
  v[2 * h * w + 1] = -3.0;
  v[2 * h * w + 2] = 7.0;
  vmc::images::write_png_grid(path, v, 3, ImageShape{h, w}, 2);

  const vmc::images::GridLayout at = vmc::images::grid_layout(3, ImageShape{h, w}, 2);
  // Two 28-pixel columns fill 600 pixels at x11: 2 * 308 + a gap of 2 and margins of 10.
  CHECK(at.scale == 11);
  CHECK(at.columns == 2);
  CHECK(at.rows == 2);
  CHECK(at.width == 2 * 308 + 2 + 2 * 10);
  CHECK(at.height == 10 + 2 * 308 + 2 + 10);
  CHECK(at.left == 10);
  CHECK(at.top == 10);
  Gray g = read_png(path);
  CHECK(g.width == at.width);
  CHECK(g.height == at.height);
  CHECK(all_are(g, 0, 0, at.width, at.top, 255));  // the top margin
  CHECK(all_are(g, at.left, at.top, at.left + 308, at.top + 308, 0));  // first tile black
  CHECK(all_are(g, at.left + 308, at.top, at.left + 310, at.top + 308, 255));  // the gap
  CHECK(all_are(g, at.left + 310, at.top, at.left + 618, at.top + 308, 255));  // second white
  // Third tile (second row, first column): the ramp, each pixel an 11x11 block.
  CHECK(tile_pixel(g, at, 2, 0, 0) == 128);  // NaN is mid-grey
  CHECK(tile_pixel(g, at, 2, 1, 0) == 0);    // clamped below
  CHECK(tile_pixel(g, at, 2, 2, 0) == 255);  // clamped above
  CHECK(tile_pixel(g, at, 2, 0, 1) == 0);
  CHECK(tile_pixel(g, at, 2, 27, 1) == 255);
  CHECK(tile_pixel(g, at, 2, 9, 12) == static_cast<int>(std::lround(9.0 / 27 * 255)));
  const int64_t ramp_x = at.left + 9 * 11, ramp_y = at.top + 310 + 12 * 11;
  CHECK(all_are(g, ramp_x, ramp_y, ramp_x + 11, ramp_y + 11, tile_pixel(g, at, 2, 9, 12)));
  CHECK(all_are(g, at.left + 310, at.top + 310, at.width, at.height, 255));  // the empty cell
  CHECK(t.entries() == 1);  // no temporary file left

  SUBCASE("a value range other than [0, 1]; one image") {
    std::vector<double> u(h * w, 5.0);
    u[1] = -5.0;
    vmc::images::write_png_grid(path, u, 1, ImageShape{h, w}, 8, -5.0, 15.0);
    Gray one = read_png(path);
    // One image: one column, however many were asked for, enlarged to fill the width.
    const vmc::images::GridLayout at1 = vmc::images::grid_layout(1, ImageShape{h, w}, 8);
    CHECK(at1.columns == 1);
    CHECK(at1.scale == 21);  // 28 * 21 = 588 >= 600 - 2 * 10
    CHECK(one.width == 588 + 20);
    CHECK(tile_pixel(one, at1, 0, 0, 0) == 128);  // 5 is midway in [-5, 15]: 127.5 rounds up
    CHECK(tile_pixel(one, at1, 0, 1, 0) == 0);
  }
}

TEST_CASE("images: PNG grids are at least 600 pixels wide, small images enlarged crisply") {
  TempDir t;
  const std::string path = t.path("digits.png");
  // Five 8x8 digits, three columns: each pixel a uniform block (nearest neighbour).
  std::vector<double> v(5 * 64, 0.0);
  v[0 * 64 + 0] = 1.0;        // image 0, pixel (0, 0)
  v[4 * 64 + 7 * 8 + 7] = 1;  // image 4, pixel (7, 7)
  vmc::images::write_png_grid(path, v, 5, ImageShape{8, 8}, 3);
  const vmc::images::GridLayout at = vmc::images::grid_layout(5, ImageShape{8, 8}, 3);
  CHECK(at.scale == 24);  // 3 * 8 * 24 = 576 >= 600 - 20 - 2 * 2
  Gray g = read_png(path);
  CHECK(g.width == 3 * 192 + 2 * 2 + 20);
  CHECK(g.height == 10 + 2 * 192 + 2 + 10);
  CHECK(all_are(g, at.left, at.top, at.left + 24, at.top + 24, 255));
  CHECK(all_are(g, at.left + 24, at.top, at.left + 192, at.top + 24, 0));
  CHECK(all_are(g, at.left, at.top + 24, at.left + 24, at.top + 192, 0));
  // Image 4 is row 1, column 1: pixel (7, 7) is the last 24x24 block of its tile.
  const int64_t x4 = at.left + 194 + 7 * 24, y4 = at.top + 194 + 7 * 24;
  CHECK(all_are(g, x4, y4, x4 + 24, y4 + 24, 255));
  CHECK(g.at(static_cast<uint32_t>(x4 - 1), static_cast<uint32_t>(y4)) == 0);

  // What vmc fit draws: 64 digits 8 to a row, a 20 x 20 manifold of 28x28 images, 32 MNIST
  // reconstructions: none under 600 pixels, each tile at least 28.
  for (auto [count, side, columns] : {std::tuple<int64_t, int64_t, int64_t>{64, 8, 8}, {400, 28, 20},
                                      {32, 28, 8}, {1, 4, 1}, {100, 8, 10}}) {
    const vmc::images::GridLayout l = vmc::images::grid_layout(count, ImageShape{side, side}, columns, "a title");
    CHECK_MESSAGE(l.width >= 600, count, " x ", side);
    CHECK(l.tile_height >= 28);
    CHECK(l.width == std::max<int64_t>(600, l.columns * l.tile_width + (l.columns - 1) * 2 + 20));
    CHECK(2 * l.left + l.columns * l.tile_width + (l.columns - 1) * 2 == l.width);
  }
  // A wide grid is not shrunk: 40 columns of 28 pixels, at 1x.
  CHECK(vmc::images::grid_layout(40, ImageShape{28, 28}, 40).width == 40 * 28 + 39 * 2 + 20);
}

TEST_CASE("images: a PNG grid's title is drawn above it in a 5x7 font at 2x") {
  TempDir t;
  const std::string plain = t.path("plain.png"), titled = t.path("titled.png");
  std::vector<double> v(4 * 64, 1.0);
  vmc::images::write_png_grid(plain, v, 4, ImageShape{8, 8}, 4);
  vmc::images::write_png_grid(titled, v, 4, ImageShape{8, 8}, 4, 0, 1, "-");
  const vmc::images::GridLayout at = vmc::images::grid_layout(4, ImageShape{8, 8}, 4, "-");
  CHECK(at.top == 10 + 16 + 10);  // a margin, the title's 16 rows (with descenders), a margin
  CHECK(at.title_top == 10);
  Gray p = read_png(plain), g = read_png(titled);
  CHECK(g.width == p.width);
  CHECK(g.height == p.height + 26);
  CHECK(all_are(p, 0, 0, p.width, p.height, 255));  // white images on white, no title
  // '-' is row 3 of its glyph, 5 pixels: at 2x a 10x2 bar, centred.
  const int64_t x0 = (at.width - 10) / 2, y0 = at.title_top + 3 * 2;
  CHECK(all_are(g, x0, y0, x0 + 10, y0 + 2, 0));
  CHECK(all_are(g, 0, 0, g.width, y0, 255));
  CHECK(all_are(g, 0, y0 + 2, g.width, g.height, 255));
  CHECK(all_are(g, 0, y0, x0, y0 + 2, 255));
  CHECK(all_are(g, x0 + 10, y0, g.width, y0 + 2, 255));

  // A letter the font lacks (here a two-byte UTF-8 one) is one '?', drawn as '?' is.
  const std::string accent = t.path("accent.png"), question = t.path("question.png");
  vmc::images::write_png_grid(accent, v, 4, ImageShape{8, 8}, 4, 0, 1, "\xc3\xa9");
  vmc::images::write_png_grid(question, v, 4, ImageShape{8, 8}, 4, 0, 1, "?");
  CHECK(read_png(accent).pixels == read_png(question).pixels);
  CHECK(read_png(question).pixels != g.pixels);

  // Every printable letter has ink, except the space.
  for (char c = '!'; c <= '~'; ++c) {
    vmc::images::write_png_grid(question, v, 1, ImageShape{8, 8}, 1, 0, 1, std::string(1, c));
    Gray one = read_png(question);
    CHECK_MESSAGE(!all_are(one, 0, 10, one.width, 26, 255), c);
  }

  // A title wider than the grid widens the picture; past 1000 pixels it is cut short with
  // "...", within the margins.
  const std::string wide(60, 'W');
  vmc::images::write_png_grid(titled, v, 4, ImageShape{8, 8}, 4, 0, 1, wide);
  CHECK(read_png(titled).width == 60 * 12 - 2 + 20);
  const std::string longer(200, 'W');
  vmc::images::write_png_grid(titled, v, 4, ImageShape{8, 8}, 4, 0, 1, longer);
  Gray cut = read_png(titled);
  CHECK(cut.width == 1000 + 20);
  CHECK(all_are(cut, 0, 10, 10, 26, 255));
  CHECK(all_are(cut, cut.width - 10, 10, cut.width, 26, 255));
  CHECK(!all_are(cut, 10, 10, 30, 26, 255));
}

TEST_CASE("images: PNG argument errors and unwritable paths") {
  TempDir t;
  const std::string path = t.path("x.png");
  std::vector<double> v(64, 0.0);
  CHECK_THROWS_AS(vmc::images::write_png_grid(path, v, 0, ImageShape{8, 8}, 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(vmc::images::write_png_grid(path, v, -3, ImageShape{8, 8}, 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(vmc::images::write_png_grid(path, v, 2, ImageShape{8, 8}, 1),
                  std::invalid_argument);  // 64 values are one image, not two
  CHECK_THROWS_AS(vmc::images::write_png_grid(path, v, 1, ImageShape{8, 8}, 0),
                  std::invalid_argument);
  CHECK_THROWS_AS(vmc::images::write_png_grid(path, v, 1, ImageShape{0, 8}, 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(vmc::images::write_png_grid(path, v, 1, ImageShape{8, 8}, 1, 1.0, 1.0),
                  std::invalid_argument);
  CHECK_THROWS_AS(vmc::images::write_png_grid(path, v, 1, ImageShape{8, 8}, 1, 0.0, NAN),
                  std::invalid_argument);
  // Side over libpng's limit: refused before anything is allocated or written.
  CHECK_THROWS_AS(
      vmc::images::write_png_grid(path, std::vector<double>(2'000'000, 0.0), 1,
                                  ImageShape{1, 2'000'000}, 1),
      std::invalid_argument);
  CHECK(t.entries() == 0);

  const std::string missing = t.path("no/such/dir/x.png");
  std::string message;
  try {
    vmc::images::write_png_grid(missing, v, 1, ImageShape{8, 8}, 1);
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  CHECK(message == missing + ": cannot write: No such file or directory");
  CHECK(t.entries() == 0);

  // A failed rename (onto a directory) removes the temporary file and keeps what was there.
  fs::create_directories(t.path("taken.png"));
  CHECK_THROWS_AS(vmc::images::write_png_grid(t.path("taken.png"), v, 1, ImageShape{8, 8}, 1),
                  std::runtime_error);
  CHECK(t.entries() == 1);
  CHECK(fs::is_directory(t.path("taken.png")));
}

TEST_CASE("images: an SVG plot has one polyline per series, a legend and escaped labels") {
  TempDir t;
  const std::string path = t.path("plot.svg");
  Series train{"train <b>&amp;", {1, 2, 3, 4}, {-200, -150, -120, -110}};
  Series test{"test \"q\"", {1, 2, 3, 4}, {-210, -160, -130, -125}};
  vmc::images::write_svg_plot(path, "Bound <MNIST> & more", "epochs", "ELBO", {train, test});
  std::string s = slurp(path);
  check_svg_frame(s);
  CHECK(occurrences(s, "<polyline") == 2);
  CHECK(s.find("Bound &lt;MNIST&gt; &amp; more") != std::string::npos);
  CHECK(s.find("train &lt;b&gt;&amp;amp;") != std::string::npos);
  CHECK(s.find("test &quot;q&quot;") != std::string::npos);
  CHECK(s.find("<MNIST>") == std::string::npos);
  CHECK(s.find("class=\"legend\"") != std::string::npos);
  CHECK(s.find(">epochs</text>") != std::string::npos);
  CHECK(s.find(">ELBO</text>") != std::string::npos);
  // y from -210 to -110 in steps of 20: nice ticks that include both ends.
  CHECK(s.find(">-220</text>") != std::string::npos);
  CHECK(s.find(">-100</text>") != std::string::npos);
  CHECK(s.find("no data") == std::string::npos);
  CHECK(t.entries() == 1);

  SUBCASE("one series: no legend") {
    vmc::images::write_svg_plot(path, "t", "x", "y", {train});
    std::string one = slurp(path);
    check_svg_frame(one);
    CHECK(occurrences(one, "<polyline") == 1);
    CHECK(one.find("class=\"legend\"") == std::string::npos);
  }
  SUBCASE("bytes that are not UTF-8 or XML are replaced or dropped") {
    vmc::images::write_svg_plot(path, std::string("a\x01" "b\xff" "c\xc3\xa9"), "x", "y", {train});
    std::string odd = slurp(path);
    CHECK(odd.find("ab\xEF\xBF\xBD" "c\xc3\xa9</text>") != std::string::npos);
  }
}

TEST_CASE("images: SVG plots skip non-finite points and say when there is no data") {
  TempDir t;
  const std::string path = t.path("plot.svg");
  SUBCASE("a NaN breaks the line in two") {
    Series s{"bound", {1, 2, 3, 4, 5, 6}, {1, 2, NAN, 4, INFINITY, 6}};
    vmc::images::write_svg_plot(path, "t", "x", "y", {s});
    std::string svg = slurp(path);
    check_svg_frame(svg);
    CHECK(occurrences(svg, "<polyline") == 1);  // 1-2; 4 and 6 are lone points
    CHECK(occurrences(svg, "<circle") == 2);
  }
  SUBCASE("empty and all-non-finite series") {
    vmc::images::write_svg_plot(path, "nothing", "x", "y", {});
    std::string none = slurp(path);
    check_svg_frame(none);
    CHECK(none.find(">no data</text>") != std::string::npos);
    CHECK(occurrences(none, "<polyline") == 0);

    Series a{"a", {}, {}}, b{"b", {NAN, 1}, {1, INFINITY}};
    vmc::images::write_svg_plot(path, "nothing", "x", "y", {a, b});
    std::string empty = slurp(path);
    check_svg_frame(empty);
    CHECK(empty.find(">no data</text>") != std::string::npos);
    CHECK(empty.find("class=\"legend\"") != std::string::npos);
  }
  SUBCASE("a constant series still gets an axis") {
    Series c{"c", {0, 1, 2}, {3, 3, 3}};
    vmc::images::write_svg_plot(path, "flat", "x", "y", {c});
    std::string flat = slurp(path);
    check_svg_frame(flat);
    CHECK(occurrences(flat, "<polyline") == 1);
  }
  SUBCASE("x and y of different lengths") {
    Series bad{"bad", {1, 2}, {1}};
    CHECK_THROWS_AS(vmc::images::write_svg_plot(path, "t", "x", "y", {bad}),
                    std::invalid_argument);
    CHECK(t.entries() == 0);
  }
  SUBCASE("an unwritable path") {
    const std::string missing = t.path("no/dir/plot.svg");
    CHECK_THROWS_WITH_AS(vmc::images::write_svg_plot(missing, "t", "x", "y", {}),
                         (missing + ": cannot write: No such file or directory").c_str(),
                         std::runtime_error);
    CHECK(t.entries() == 0);
  }
}

TEST_CASE("images: SVG log-scale x has ticks at powers of ten") {
  TempDir t;
  const std::string path = t.path("fig2.svg");
  // Bound against training samples seen, as in the AEVB paper's Figure 2 (10^5 .. 10^8).
  Series s{"AEVB (train)", {}, {}};
  for (double n = 1e5; n <= 1e8; n *= 1.5) s.x.push_back(n), s.y.push_back(-150 + std::log(n));
  s.x.push_back(0);  // not drawable on a log axis: skipped
  s.y.push_back(0);
  vmc::images::write_svg_plot(path, "MNIST, N_z = 10", "# training samples evaluated", "L", {s},
                              true);
  std::string svg = slurp(path);
  check_svg_frame(svg);
  CHECK(occurrences(svg, "<polyline") == 1);
  CHECK(occurrences(svg, "<circle") == 0);
  for (const char* decade : {"5", "6", "7", "8"})
    CHECK_MESSAGE(svg.find(std::string("font-size=\"9\">") + decade + "</tspan>") !=
                      std::string::npos,
                  decade);
  CHECK(svg.find("font-size=\"9\">4</tspan>") == std::string::npos);
  CHECK(svg.find("font-size=\"9\">9</tspan>") == std::string::npos);
}

TEST_CASE("images: an SVG figure puts its panels side by side") {
  TempDir t;
  const std::string path = t.path("figure.svg");
  vmc::images::Panel left, right;
  left.title = "MNIST, N_z = 3";
  left.series = {Series{"AEVB", {1, 2, 3}, {-150, -130, -120}}};
  right.title = "Frey Face, N_z = 2";
  right.series = {Series{"wake-sleep", {1, 2, 3}, {500, 700, 800}}};
  vmc::images::write_svg_figure(path, {left, right});
  std::string s = slurp(path);
  check_svg_frame(s);
  CHECK(s.find("width=\"1280\" height=\"400\"") != std::string::npos);
  CHECK(s.find("viewBox=\"0 0 1280 400\"") != std::string::npos);
  CHECK(s.find(">MNIST, N_z = 3</text>") != std::string::npos);
  CHECK(s.find(">Frey Face, N_z = 2</text>") != std::string::npos);
  CHECK(occurrences(s, "<polyline") == 2);
  // The second panel's plot frame is the first's, 640 to the right.
  CHECK(s.find("<rect x=\"72.0\" y=\"40.0\"") != std::string::npos);
  CHECK(s.find("<rect x=\"712.0\" y=\"40.0\"") != std::string::npos);
  CHECK(t.entries() == 1);

  SUBCASE("one panel is what write_svg_plot writes") {
    vmc::images::write_svg_figure(path, {left});
    std::string figure = slurp(path);
    vmc::images::write_svg_plot(path, left.title, left.x_label, left.y_label, left.series);
    CHECK(figure == slurp(path));
    CHECK(figure.find("width=\"640\" height=\"400\"") != std::string::npos);
  }
}

TEST_CASE("images: SVG figure series can be dashed and unlabelled") {
  TempDir t;
  const std::string path = t.path("dashed.svg");
  vmc::images::Panel p;
  Series train{"train", {1, 2, 3}, {1, 2, 3}};
  train.dashed = true;
  Series test{"test", {1, 2, 3}, {2, 3, 4}};
  Series unlabelled{"", {1, 2, 3}, {3, 4, 5}};
  p.series = {train, test, unlabelled};
  vmc::images::write_svg_figure(path, {p});
  std::string s = slurp(path);
  check_svg_frame(s);
  CHECK(occurrences(s, "<polyline") == 3);
  CHECK(occurrences(s, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" "
                       "stroke-dasharray=\"6,4\"") == 1);
  CHECK(occurrences(s, "stroke-dasharray") == 2);  // the line and its legend sample
  REQUIRE(s.find("class=\"legend\"") != std::string::npos);
  const std::string legend = s.substr(s.find("class=\"legend\""));
  CHECK(occurrences(legend, "<text") == 2);  // train and test; the unlabelled one has no entry
  CHECK(legend.find(">train</text>") != std::string::npos);
  CHECK(legend.find(">test</text>") != std::string::npos);
  CHECK(legend.find("></text>") == std::string::npos);
  CHECK(occurrences(legend, "<line") == 2);

  SUBCASE("no labelled series: no legend") {
    Series a{"", {1, 2}, {1, 2}}, b{"", {1, 2}, {2, 1}};
    p.series = {a, b};
    vmc::images::write_svg_figure(path, {p});
    std::string none = slurp(path);
    check_svg_frame(none);
    CHECK(occurrences(none, "<polyline") == 2);
    CHECK(none.find("class=\"legend\"") == std::string::npos);
  }
}

TEST_CASE("images: SVG figure log-scale y skips y <= 0 and has ticks at powers of ten") {
  TempDir t;
  const std::string path = t.path("logy.svg");
  vmc::images::Panel p;
  p.log_y = true;
  Series s{"loss", {1, 2, 3, 4, 5, 6}, {1e-3, 1e-2, 0, 1e-1, 1, -5}};
  p.series = {s};
  vmc::images::write_svg_figure(path, {p});
  std::string svg = slurp(path);
  check_svg_frame(svg);
  // 0 breaks the line after 1e-3, 1e-2; 1e-1, 1 are a second run; -5 is skipped.
  CHECK(occurrences(svg, "<polyline") == 2);
  CHECK(occurrences(svg, "<circle") == 0);
  for (const char* decade : {"-3", "-2", "-1", "0"})
    CHECK_MESSAGE(svg.find(std::string("font-size=\"9\">") + decade + "</tspan>") !=
                      std::string::npos,
                  decade);
  CHECK(svg.find("font-size=\"9\">-4</tspan>") == std::string::npos);
  CHECK(svg.find("font-size=\"9\">1</tspan>") == std::string::npos);
  // x is still linear: plain tick labels, no powers of ten for it.
  CHECK(occurrences(svg, "<tspan") == 4);

  SUBCASE("log x and log y with nothing drawable") {
    p.log_x = true;
    p.series = {Series{"none", {-1, 0, 2}, {1, 1, -1}}};
    vmc::images::write_svg_figure(path, {p});
    std::string empty = slurp(path);
    check_svg_frame(empty);
    CHECK(empty.find(">no data</text>") != std::string::npos);
    CHECK(occurrences(empty, "<polyline") == 0);
  }
}

TEST_CASE("images: SVG figure series take explicit palette colours") {
  TempDir t;
  const std::string path = t.path("colours.svg");
  vmc::images::Panel p;
  Series a{"a", {1, 2}, {1, 2}}, b{"b", {1, 2}, {2, 1}}, c{"c", {1, 2}, {3, 3}};
  a.colour = 1;
  b.colour = 1;
  c.colour = 13;  // mod 10: the palette's fourth
  p.series = {a, b, c};
  vmc::images::write_svg_figure(path, {p});
  std::string s = slurp(path);
  check_svg_frame(s);
  CHECK(occurrences(s, "<polyline fill=\"none\" stroke=\"#ff7f0e\"") == 2);
  CHECK(occurrences(s, "<polyline fill=\"none\" stroke=\"#d62728\"") == 1);
  CHECK(s.find("stroke=\"#1f77b4\"") == std::string::npos);  // the default for the first
  CHECK(occurrences(s, "stroke=\"#ff7f0e\" stroke-width=\"2\"") == 2);  // legend samples
}

TEST_CASE("images: SVG figure argument errors create no file") {
  TempDir t;
  const std::string path = t.path("bad.svg");
  vmc::images::Panel ok, bad;
  ok.series = {Series{"fine", {1, 2}, {1, 2}}};
  bad.series = {Series{"bad", {1, 2, 3}, {1, 2}}};
  CHECK_THROWS_AS(vmc::images::write_svg_figure(path, {ok, bad}), std::invalid_argument);
  CHECK_THROWS_AS(vmc::images::write_svg_figure(path, {}), std::invalid_argument);
  CHECK(t.entries() == 0);
}

TEST_CASE("images: a panel's y range clips the lines beyond it and keeps its ticks") {
  const std::string path = (std::filesystem::temp_directory_path() / "vmc_clip_test.svg").string();
  vmc::images::Panel p;
  p.title = "clipped";
  p.series.push_back({"a", {1, 2, 3, 4}, {-5000, -300, -260, -250}});
  p.series.push_back({"b", {1, 2, 3, 4}, {-4000, -310, -270, -255}});
  p.y_min = -320;
  p.y_max = -250;
  vmc::images::write_svg_figure(path, {p});
  std::ifstream f(path);
  std::string svg((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(svg.find("<clipPath id=") != std::string::npos);
  CHECK(svg.find("clip-path=\"url(#") != std::string::npos);
  CHECK(svg.find(">-5000<") == std::string::npos);  // no tick reaches down to the plunge
  CHECK(svg.find(">-300<") != std::string::npos);
  std::filesystem::remove(path);
  // Without a range: every point is on the axis, and nothing is clipped.
  p.y_min = p.y_max = NAN;
  vmc::images::write_svg_figure(path, {p});
  std::ifstream g(path);
  std::string plain((std::istreambuf_iterator<char>(g)), std::istreambuf_iterator<char>());
  CHECK(plain.find("clipPath") == std::string::npos);
  CHECK(plain.find(">-5000<") != std::string::npos);
  std::filesystem::remove(path);
}

// Picture writers (include/vmc/images.hpp): image grids as PNG via libpng (line plots: svg.cpp).
#include "vmc/images.hpp"
#include "vmc/files.hpp"

#include "font5x7.hpp"

#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <stdexcept>

namespace vmc::images {
namespace {

// libpng's own default cap on either side (png_set_user_limits); over it, reading fails anyway.
constexpr int64_t kMaxSide = 1000000;
// Small images are enlarged until a tile is at least this tall (an MNIST digit's height).
constexpr int64_t kMinTile = 28;

[[noreturn]] void cannot_write(const std::string& path, const std::string& reason) {
  throw std::runtime_error(path + ": cannot write: " + reason);
}

// Writes a private temporary beside PATH with emit(FILE*) (which returns "" or what went wrong)
// and renames it onto PATH (files::AtomicFile); on any failure, or an exception from emit, the
// temporary is removed, so a failed write leaves nothing behind.
template <typename Emit>
void write_atomically(const std::string& path, Emit&& emit) {
  files::AtomicFile f(path);
  if (!f.file()) cannot_write(path, f.problem());
  std::string problem = emit(f.file());
  problem = f.commit(problem);
  if (!problem.empty()) cannot_write(path, problem);
}

std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// ---- PNG ----------------------------------------------------------------------------------

struct PngErrors {
  char message[256];
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* errors = static_cast<PngErrors*>(png_get_error_ptr(png));
  std::snprintf(errors->message, sizeof errors->message, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // nothing a caller could act on

// Fills one output row (width bytes); must not throw, as it runs between setjmp and longjmp.
using RowFill = void (*)(const void* ctx, int64_t y, unsigned char* row);

// Encodes a grayscale picture row by row (no whole-picture buffer). Returns nullptr or libpng's
// message. Only trivially destructible objects live here: a longjmp out of libpng would skip
// destructors.
const char* encode_png(FILE* f, png_uint_32 width, png_uint_32 height, RowFill fill,
                       const void* ctx, unsigned char* row, PngErrors* errors) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, errors, on_png_error, on_png_warning);
  if (!png) return "libpng initialisation failed";
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return "libpng initialisation failed";
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return errors->message;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (png_uint_32 y = 0; y < height; ++y) {
    fill(ctx, y, row);
    png_write_row(png, row);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return nullptr;
}

struct Grid {
  const double* values;
  int64_t count, height, width;  // of one image
  GridLayout at;
  double lo, hi;
  std::string title;     // as drawn: printable, cut to fit
  int64_t title_left;    // its first column of pixels
};

unsigned char grey(double v, double lo, double hi) {
  if (std::isnan(v)) return 128;
  double t = (v - lo) / (hi - lo) * 255.0;
  return static_cast<unsigned char>(std::lround(std::clamp(t, 0.0, 255.0)));
}

constexpr int64_t kTitleHeight = font::kGlyphHeight * kTitleScale;
constexpr int64_t kTitleAdvance = font::kAdvance * kTitleScale;

// The width in pixels of n letters of the title (no blank column after the last).
int64_t title_width(size_t n) {
  return n == 0 ? 0 : static_cast<int64_t>(n) * kTitleAdvance - (font::kAdvance - font::kGlyphWidth) * kTitleScale;
}

// Draws row y of the title (y from its top) into row[x0 ...].
void fill_title_row(const Grid& g, int64_t y, unsigned char* row) {
  const int64_t glyph_row = y / kTitleScale;
  for (size_t i = 0; i < g.title.size(); ++i) {
    const uint8_t bits = font::glyph(g.title[i])[glyph_row];
    const int64_t x0 = g.title_left + static_cast<int64_t>(i) * kTitleAdvance;
    for (int col = 0; col < font::kGlyphWidth; ++col) {
      if (!(bits & (1u << (font::kGlyphWidth - 1 - col)))) continue;
      std::memset(row + x0 + col * kTitleScale, 0, static_cast<size_t>(kTitleScale));
    }
  }
}

void fill_grid_row(const void* ctx, int64_t y, unsigned char* row) {
  const auto& g = *static_cast<const Grid*>(ctx);
  const GridLayout& at = g.at;
  std::memset(row, 255, static_cast<size_t>(at.width));
  if (!g.title.empty() && y >= at.title_top && y < at.title_top + kTitleHeight) {
    fill_title_row(g, y - at.title_top, row);
    return;
  }
  const int64_t cell_h = at.tile_height + at.gap, cell_w = at.tile_width + at.gap;
  if (y < at.top) return;
  const int64_t r = (y - at.top) / cell_h, in_y = (y - at.top) % cell_h;
  if (r >= at.rows || in_y >= at.tile_height) return;  // the bottom margin or a gap
  const int64_t src_y = in_y / at.scale;
  for (int64_t c = 0; c < at.columns; ++c) {
    const int64_t image = r * at.columns + c;
    if (image >= g.count) break;
    const double* src = g.values + (image * g.height + src_y) * g.width;
    unsigned char* dst = row + at.left + c * cell_w;
    for (int64_t x = 0; x < g.width; ++x)
      std::memset(dst + x * at.scale, grey(src[x], g.lo, g.hi), static_cast<size_t>(at.scale));
  }
}

// The title as the font draws it: one '?' per character it lacks (a UTF-8 sequence counts
// once).
std::string drawable_title(const std::string& title) {
  std::string out;
  for (unsigned char c : title) {
    if (c >= 0x80 && (c & 0xC0) == 0x80) continue;  // a UTF-8 continuation byte
    const bool printable = c >= static_cast<unsigned char>(font::kFirst) &&
                           c <= static_cast<unsigned char>(font::kLast);
    out += printable ? static_cast<char>(c) : '?';
  }
  return out;
}

// grid_layout's work for a drawable title: "" or why there is no picture.
std::string layout(int64_t count, ImageShape shape, int64_t columns, const std::string& title,
                   GridLayout& at) {
  const bool titled = !title.empty();
  if (count <= 0) return "no images (count " + std::to_string(count) + ")";
  if (columns <= 0) return "columns must be positive, not " + std::to_string(columns);
  if (shape.height <= 0 || shape.width <= 0 || shape.height > kMaxSide || shape.width > kMaxSide)
    return "bad image shape " + std::to_string(shape.height) + "x" + std::to_string(shape.width);
  at.columns = std::min(columns, count);
  at.rows = (count + at.columns - 1) / at.columns;
  at.gap = kGap;
  // Sides checked one factor at a time, so nothing overflows before the check.
  const std::string too_big = "the picture would exceed " + std::to_string(kMaxSide) + " pixels a side";
  if (at.columns > kMaxSide / shape.width || at.rows > kMaxSide / shape.height) return too_big;
  // The smallest whole factor that makes a tile at least kMinTile tall and the grid at least
  // the picture's width less its margins.
  at.scale = shape.height < kMinTile ? (kMinTile + shape.height - 1) / shape.height : 1;
  const int64_t inner = kMinPictureWidth - 2 * kMargin - (at.columns - 1) * kGap;
  const int64_t raw = at.columns * shape.width;
  if (inner > raw) at.scale = std::max(at.scale, (inner + raw - 1) / raw);
  at.tile_width = shape.width * at.scale;
  at.tile_height = shape.height * at.scale;
  if (at.tile_width > kMaxSide || at.tile_height > kMaxSide ||
      at.columns > (kMaxSide - 2 * kMargin) / (at.tile_width + kGap) ||
      at.rows > (kMaxSide - 3 * kMargin - kTitleHeight) / (at.tile_height + kGap))
    return too_big;
  const int64_t grid_w = at.columns * at.tile_width + (at.columns - 1) * kGap;
  const int64_t grid_h = at.rows * at.tile_height + (at.rows - 1) * kGap;
  // A long title widens the picture up to kMaxTitleWidth (it is cut short past that).
  const int64_t title_w = std::min(kMaxTitleWidth, title_width(title.size()));
  at.width = std::max({kMinPictureWidth, grid_w + 2 * kMargin, title_w + 2 * kMargin});
  at.left = (at.width - grid_w) / 2;
  at.title_top = kMargin;
  at.top = titled ? kMargin + kTitleHeight + kMargin : kMargin;
  at.height = at.top + grid_h + kMargin;
  return "";
}

}  // namespace

std::optional<ImageShape> image_shape(int64_t values_per_row) {
  if (values_per_row < 16) return std::nullopt;
  auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(values_per_row))));
  // sqrt of a large integer may be off by one either way.
  for (int64_t s = std::max<int64_t>(side - 1, 1); s <= side + 1; ++s)
    if (s <= INT64_MAX / s && s * s == values_per_row) return ImageShape{s, s};
  return std::nullopt;
}

GridLayout grid_layout(int64_t count, ImageShape shape, int64_t columns, const std::string& title) {
  GridLayout at{};
  if (std::string problem = layout(count, shape, columns, drawable_title(title), at); !problem.empty())
    throw std::invalid_argument("cannot lay out an image grid: " + problem);
  return at;
}

void write_png_grid(const std::string& path, const std::vector<double>& values, int64_t count,
                    ImageShape shape, int64_t columns, double lo, double hi,
                    const std::string& title) {
  auto bad = [&](const std::string& why) {
    throw std::invalid_argument(path + ": cannot write an image grid: " + why);
  };
  Grid g{values.data(), count, shape.height, shape.width, {}, lo, hi, drawable_title(title), 0};
  if (std::string problem = layout(count, shape, columns, g.title, g.at); !problem.empty())
    bad(problem);
  const int64_t per_image = shape.height * shape.width;  // <= 10^12: no overflow
  if (static_cast<uint64_t>(count) > values.size() / static_cast<uint64_t>(per_image))
    bad(std::to_string(count) + " images of " + std::to_string(per_image) + " values need " +
        "more than the " + std::to_string(values.size()) + " given");
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
    bad("the value range [" + shortest(lo) + ", " + shortest(hi) + "] is empty");
  // The title cut short with "..." when wider than the picture less its margins.
  const int64_t room = g.at.width - 2 * kMargin;
  if (title_width(g.title.size()) > room) {
    size_t keep = 0;
    while (title_width(keep + 4) <= room) ++keep;
    g.title = g.title.substr(0, keep) + "...";
  }
  g.title_left = (g.at.width - title_width(g.title.size())) / 2;

  std::vector<unsigned char> row(static_cast<size_t>(g.at.width));
  write_atomically(path, [&](FILE* f) -> std::string {
    PngErrors errors{};
    const char* problem =
        encode_png(f, static_cast<png_uint_32>(g.at.width), static_cast<png_uint_32>(g.at.height),
                   fill_grid_row, &g, row.data(), &errors);
    return problem ? problem : "";
  });
}


}  // namespace vmc::images

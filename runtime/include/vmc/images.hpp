// Picture writers: a titled grid of images as a PNG (samples, reconstructions, learned filters)
// and a line plot as an SVG (the bound against datapoints seen, as in the AEVB paper's Figure 2).
// No LLVM, no compiler, no font library: plain C++ over libpng (linked privately) and a 5x7
// bitmap font of our own.
//
// Every writer is atomic: it writes PATH.tmp.<pid> and renames it onto PATH, so a reader never
// sees half a file and a failed write leaves the old PATH (if any) untouched. A failure to write
// throws std::runtime_error("PATH: cannot write: REASON") and removes the temporary file; bad
// arguments throw std::invalid_argument before any file is created.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmc::images {

struct ImageShape {
  int64_t height, width;
};

// The shape of an image stored as a row of `values_per_row` values: a perfect square of at least
// 16 (784 -> 28x28, 64 -> 8x8). Anything else (including 4 or 9, too small to be a picture) is
// not an image: nullopt.
std::optional<ImageShape> image_shape(int64_t values_per_row);

// Where write_png_grid puts things, in pixels (x to the right, y down from the top left).
struct GridLayout {
  int64_t width, height;      // the picture
  int64_t scale;              // each image pixel is a scale x scale block (nearest neighbour)
  int64_t columns, rows;      // of tiles
  int64_t tile_width, tile_height, gap;  // a tile (the image times scale), white between tiles
  int64_t left, top;          // the first tile's top-left corner
  int64_t title_top;          // the title's first row of pixels (when there is a title)
};

// The picture is at least kMinPictureWidth pixels wide: people look at these (and paste them
// into papers), and a 231-pixel grid of 8x8 digits is a smudge.
inline constexpr int64_t kMinPictureWidth = 600;
// The white border around the grid and the title, and between tiles.
inline constexpr int64_t kMargin = 10, kGap = 2;
// The title's 5x7 font is drawn at this scale: each letter is 10x14 pixels
// (16 with descenders), 12 apart. A title
// wider than the grid widens the picture, up to kMaxTitleWidth pixels of title (83 letters).
inline constexpr int64_t kTitleScale = 2, kMaxTitleWidth = 1000;

// The layout of `count` images of `shape`, `columns` to a row (fewer when count < columns),
// with `title` (when not empty) on a line above the grid. Each image is enlarged by a whole factor
// (nearest neighbour, so pixels stay crisp) until a tile is at least 28 pixels tall and the
// grid fills kMinPictureWidth (less the margins); a wide grid is never shrunk. The grid is
// centred. Throws std::invalid_argument for count <= 0, columns <= 0, a non-positive shape, or a
// picture over libpng's 1,000,000-pixel side limit.
GridLayout grid_layout(int64_t count, ImageShape shape, int64_t columns,
                       const std::string& title = {});

// `count` images, each shape.height * shape.width values in row-major order, back to back in
// `values` (extra values are ignored), tiled left to right, top to bottom as grid_layout says,
// as an 8-bit grayscale PNG on white. A value maps linearly from [lo, hi] to black..white and is
// clamped; NaN is mid-grey. Cells past the last image are white. A non-empty `title` is drawn in
// black above the grid, centred, in a 5x7 bitmap font (with descenders) at 2x (printable ASCII; any other byte is
// drawn as '?'; a title wider than kMaxTitleWidth is cut short with "...").
// Throws std::invalid_argument for count <= 0, columns <= 0, a non-positive shape, too few
// values, !(lo < hi), or a picture over libpng's 1,000,000-pixel side limit.
void write_png_grid(const std::string& path, const std::vector<double>& values, int64_t count,
                    ImageShape shape, int64_t columns, double lo = 0, double hi = 1,
                    const std::string& title = {});

// One line of a plot: points (x[i], y[i]) in order; x and y must be the same length.
struct Series {
  std::string label;  // its legend entry; an empty label has none
  std::vector<double> x, y;
  // Index into the palette (mod its size); -1: the series' position in its panel.
  int colour = -1;
  // Drawn dashed (stroke-dasharray), e.g. training curves against solid test curves.
  bool dashed = false;
};

// One plot of a figure: title, axis labels and its lines, each axis linear or log10.
struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  // log10 axes with ticks at powers of ten; points <= 0 are skipped on a log axis.
  bool log_x = false, log_y = false;
  // When both are finite (y_min < y_max), the y axis covers at least [y_min, y_max] (rounded out
  // to ticks) instead of every point, and lines beyond it are clipped at the frame: a transient
  // (a first step's plunge) then does not flatten the curves that matter.
  double y_min = NAN, y_max = NAN;
};

// A 640x400 SVG 1.1 line plot: title, axis labels, 5-6 ticks per axis at 1/2/5 x 10^k steps, one
// colour per series and, when there is more than one series and at least one has a label, a
// legend of the labelled ones. A non-finite point (or, with log_x, one with x <= 0) is skipped
// and breaks its line, so a series is drawn as one <polyline> per unbroken run (a run of one
// point is a dot). With no drawable point at all the plot still has its axes, and says "no
// data". log_x puts x on a log scale with ticks at powers of ten. The same as a one-panel
// write_svg_figure.
// Throws std::invalid_argument when a series' x and y differ in length.
void write_svg_plot(const std::string& path, const std::string& title, const std::string& x_label,
                    const std::string& y_label, const std::vector<Series>& series,
                    bool log_x = false);

// Panels side by side (each 640 wide, 400 high) in one SVG 1.1 file, written atomically like the
// other writers. Each panel is drawn as write_svg_plot draws its one, with log_y doing for y what
// log_x does for x; a series is coloured by its `colour` and dashed when asked.
// Throws std::invalid_argument as write_svg_plot does (x/y length mismatch), or for no panels.
void write_svg_figure(const std::string& path, const std::vector<Panel>& panels);

}  // namespace vmc::images

// Picture writers: a grid of images as a PNG (samples, reconstructions, learned filters) and a
// line plot as an SVG (the bound against datapoints seen, as in the AEVB paper's Figure 2). No
// LLVM, no compiler: plain C++ over libpng (linked privately).
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

// `count` images, each shape.height * shape.width values in row-major order, back to back in
// `values` (extra values are ignored), tiled left to right, top to bottom, `columns` to a row
// (fewer when count < columns) with a 1-pixel white line between tiles, as an 8-bit grayscale
// PNG. A value maps linearly from [lo, hi] to black..white and is clamped; NaN is mid-grey.
// Images under 28 pixels tall are enlarged by a whole factor (nearest neighbour) to at least 28,
// so 8x8 digits become 32x32 tiles. Cells past the last image are white.
// Throws std::invalid_argument for count <= 0, columns <= 0, a non-positive shape, too few
// values, !(lo < hi), or a picture over libpng's 1,000,000-pixel side limit.
void write_png_grid(const std::string& path, const std::vector<double>& values, int64_t count,
                    ImageShape shape, int64_t columns, double lo = 0, double hi = 1);

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

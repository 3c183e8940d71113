// Line plots as SVG (include/vmc/images.hpp): panels of series on linear or log axes, with
// ticks, labels and a legend; text escaped for XML whatever its encoding.
#include "vmc/files.hpp"
#include "vmc/images.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace vmc::images {
namespace {

// Text safe inside an XML element or attribute: markup characters escaped, control characters
// XML 1.0 forbids dropped, and bytes that are not UTF-8 replaced by U+FFFD (a label may come
// from a file name or a model in any encoding, and one bad byte makes the whole SVG unreadable).
std::string xml_text(const std::string& s) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
          if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A well-formed multi-byte sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    bool ok = len != 0 && i + len <= n && p[i + 1] >= lo && p[i + 1] <= hi;
    for (size_t k = 2; ok && k < len; ++k) ok = p[i + k] >= 0x80 && p[i + k] <= 0xBF;
    // U+FFFE and U+FFFF are not XML characters either.
    if (ok && len == 3 && c == 0xEF && p[i + 1] == 0xBF && p[i + 2] >= 0xBE) ok = false;
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// An axis over [lo, hi] in drawing units: the values themselves, or their log10 on a log axis.
struct Axis {
  double lo, hi;
  std::vector<double> ticks;  // in drawing units
  bool log = false;
  double unit(double v) const { return log ? std::log10(v) : v; }
};

// 1, 2 or 5 x 10^k steps, choosing the one that gives closest to 5-6 ticks; the axis then runs
// from tick to tick so the data fills it.
Axis linear_axis(double lo, double hi) {
  if (lo == hi) {  // a constant: centre it
    double pad = lo != 0 ? std::fabs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  const double span = hi - lo;
  if (!std::isfinite(span)) return {lo, hi, {lo, hi}};  // values near DBL_MAX: no nice steps
  Axis best{lo, hi, {lo, hi}};
  double best_score = 1e300;
  const int k0 = static_cast<int>(std::floor(std::log10(span / 6)));
  for (int k = k0 + 2; k >= k0 - 1; --k) {
    for (double m : {5.0, 2.0, 1.0}) {
      const double step = m * std::pow(10.0, k);
      // The tolerance keeps 0.3 / 0.1 = 2.9999999999999996 from adding a tick.
      const double a = std::floor(lo / step + 1e-9), b = std::ceil(hi / step - 1e-9);
      const double n = b - a + 1;
      const double score = std::fabs(n - 5.5);
      if (!(score <= best_score) || n > 50) continue;  // a tie goes to the finer step
      best_score = score;
      best = {a * step, b * step, {}};
      // Counted, not stepped: a + 1 == a once a passes 2^53.
      for (int i = 0; i < static_cast<int>(n); ++i) best.ticks.push_back((a + i) * step);
    }
  }
  return best;
}

// Decades, every one while there are at most 6 of them, else every 2nd, 3rd, ...
Axis log_axis(double lo, double hi) {
  double a = std::floor(std::log10(lo) + 1e-9), b = std::ceil(std::log10(hi) - 1e-9);
  if (a >= b) b = a + 1;
  const double every = std::max(1.0, std::ceil((b - a) / 6));
  a = std::floor(a / every) * every;
  b = std::ceil(b / every) * every;
  Axis axis{a, b, {}, true};
  for (double t = a; t <= b; t += every) axis.ticks.push_back(t);
  return axis;
}

std::string tick_label(const Axis& axis, double t) {
  if (axis.log)
    return "10<tspan dy=\"-5\" font-size=\"9\">" + fmt("%.0f", t) + "</tspan>";
  const double step = axis.ticks.size() > 1 ? axis.ticks[1] - axis.ticks[0] : 1;
  if (std::fabs(t) < step * 1e-9) t = 0;  // not "-0" or "5.55e-17"
  return fmt("%.6g", t);
}

constexpr double kWidth = 640, kHeight = 400;  // one panel
constexpr double kLeft = 72, kRight = 620, kTop = 40, kBottom = 345;  // its plot area
// Tableau's ten: distinct for the usual colour blindness, and on white.
constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr const char* kDashes = " stroke-dasharray=\"6,4\"";

struct Point {
  double x, y;
};

// A series' colour: its own palette index, or else its position in the panel.
const char* series_colour(const Series& s, size_t index) {
  const size_t i = s.colour >= 0 ? static_cast<size_t>(s.colour) : index;
  return kColours[i % std::size(kColours)];
}

// Appends panel p to o, every x coordinate shifted right by dx (the panel's place in the figure).
void svg_panel(std::string& o, const Panel& p, double dx) {
  const std::vector<Series>& series = p.series;
  // Which points are drawable, and their range.
  auto drawable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!p.log_x || x > 0) && (!p.log_y || y > 0);
  };
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (drawable(s.x[i], s.y[i])) {
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
        y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      }
  const bool empty = !(x_lo <= x_hi);
  if (empty) {
    x_lo = p.log_x ? 1 : 0, x_hi = p.log_x ? 10 : 1;
    y_lo = p.log_y ? 1 : 0, y_hi = p.log_y ? 10 : 1;
  }
  const bool clipped = std::isfinite(p.y_min) && std::isfinite(p.y_max) && p.y_min < p.y_max &&
                       (!p.log_y || p.y_min > 0);
  if (clipped) y_lo = p.y_min, y_hi = p.y_max;
  const Axis xa = p.log_x ? log_axis(x_lo, x_hi) : linear_axis(x_lo, x_hi);
  const Axis ya = p.log_y ? log_axis(y_lo, y_hi) : linear_axis(y_lo, y_hi);
  const double left = dx + kLeft, right = dx + kRight;
  auto px = [&](double u) { return left + (u - xa.lo) / (xa.hi - xa.lo) * (kRight - kLeft); };
  auto py = [&](double u) { return kBottom - (u - ya.lo) / (ya.hi - ya.lo) * (kBottom - kTop); };

  o += "<text x=\"" + fmt("%.1f", (left + right) / 2) +
       "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" + xml_text(p.title) + "</text>\n";

  // Grid lines and ticks, then the frame over them.
  o += "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double t : xa.ticks)
    o += "<line x1=\"" + fmt("%.1f", px(t)) + "\" y1=\"" + fmt("%.1f", kTop) + "\" x2=\"" +
         fmt("%.1f", px(t)) + "\" y2=\"" + fmt("%.1f", kBottom) + "\"/>\n";
  for (double t : ya.ticks)
    o += "<line x1=\"" + fmt("%.1f", left) + "\" y1=\"" + fmt("%.1f", py(t)) + "\" x2=\"" +
         fmt("%.1f", right) + "\" y2=\"" + fmt("%.1f", py(t)) + "\"/>\n";
  o += "</g>\n<g fill=\"black\">\n";
  for (double t : xa.ticks)
    o += "<text x=\"" + fmt("%.1f", px(t)) + "\" y=\"" + fmt("%.1f", kBottom + 17) +
         "\" text-anchor=\"middle\">" + tick_label(xa, t) + "</text>\n";
  for (double t : ya.ticks)
    o += "<text x=\"" + fmt("%.1f", left - 6) + "\" y=\"" + fmt("%.1f", py(t) + 4) +
         "\" text-anchor=\"end\">" + tick_label(ya, t) + "</text>\n";
  o += "</g>\n";
  o += "<rect x=\"" + fmt("%.1f", left) + "\" y=\"" + fmt("%.1f", kTop) + "\" width=\"" +
       fmt("%.1f", kRight - kLeft) + "\" height=\"" + fmt("%.1f", kBottom - kTop) +
       "\" fill=\"none\" stroke=\"black\"/>\n";
  o += "<text x=\"" + fmt("%.1f", (left + right) / 2) + "\" y=\"" + fmt("%.1f", kHeight - 14) +
       "\" text-anchor=\"middle\" font-size=\"13\">" + xml_text(p.x_label) + "</text>\n";
  const std::string mid_y = fmt("%.1f", (kTop + kBottom) / 2);
  const std::string label_x = fmt("%.0f", dx + 16);
  o += "<text x=\"" + label_x + "\" y=\"" + mid_y + "\" transform=\"rotate(-90 " + label_x + " " +
       mid_y + ")\" text-anchor=\"middle\" font-size=\"13\">" + xml_text(p.y_label) + "</text>\n";

  // The lines: a polyline per unbroken run, a dot for a lone point (a one-point polyline draws
  // nothing).
  std::vector<Point> drawn;  // for placing the legend
  const std::string clip_id = "plot" + fmt("%.0f", dx);
  if (clipped) {
    o += "<defs><clipPath id=\"" + clip_id + "\"><rect x=\"" + fmt("%.1f", left) + "\" y=\"" + fmt("%.1f", kTop) +
         "\" width=\"" + fmt("%.1f", kRight - kLeft) + "\" height=\"" + fmt("%.1f", kBottom - kTop) +
         "\"/></clipPath></defs>\n<g clip-path=\"url(#" + clip_id + ")\">\n";
  }
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    const std::string colour = series_colour(s, si);
    o += "<g class=\"series\">\n";
    std::vector<Point> run;
    auto flush = [&] {
      if (run.size() == 1) {
        o += "<circle cx=\"" + fmt("%.2f", run[0].x) + "\" cy=\"" + fmt("%.2f", run[0].y) +
             "\" r=\"2\" fill=\"" + colour + "\"/>\n";
      } else if (run.size() > 1) {
        o += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.5\"" +
             (s.dashed ? kDashes : "") + " stroke-linejoin=\"round\" points=\"";
        for (size_t i = 0; i < run.size(); ++i) {
          if (i) o += ' ';
          o += fmt("%.2f", run[i].x);
          o += ',';
          o += fmt("%.2f", run[i].y);
        }
        o += "\"/>\n";
      }
      drawn.insert(drawn.end(), run.begin(), run.end());
      run.clear();
    };
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (drawable(s.x[i], s.y[i]))
        run.push_back({px(xa.unit(s.x[i])), py(ya.unit(s.y[i]))});
      else
        flush();
    }
    flush();
    o += "</g>\n";
  }
  if (clipped) {
    o += "</g>\n";
    // Only the points inside the frame count when placing the legend.
    std::erase_if(drawn, [](const Point& q) { return q.y < kTop || q.y > kBottom; });
  }
  if (empty)
    o += "<text x=\"" + fmt("%.1f", (left + right) / 2) + "\" y=\"" + mid_y +
         "\" text-anchor=\"middle\" font-size=\"14\" fill=\"#808080\">no data</text>\n";

  // The legend, of the labelled series, when there is more than one series: in whichever corner
  // of the plot area covers the fewest points.
  std::vector<size_t> listed;
  for (size_t si = 0; si < series.size(); ++si)
    if (!series[si].label.empty()) listed.push_back(si);
  if (series.size() > 1 && !listed.empty()) {
    size_t longest = 0;
    for (size_t si : listed) longest = std::max(longest, series[si].label.size());
    const double h = 16.0 * static_cast<double>(listed.size()) + 8;
    const double w = std::min(kRight - kLeft - 16, 40 + 6.5 * static_cast<double>(longest));
    const double xs[] = {right - 8 - w, right - 8 - w, left + 8, left + 8};
    const double ys[] = {kTop + 8, kBottom - 8 - h, kTop + 8, kBottom - 8 - h};
    size_t corner = 0, fewest = SIZE_MAX;
    for (size_t c = 0; c < 4; ++c) {
      size_t inside = 0;
      for (const Point& q : drawn)
        inside += q.x >= xs[c] && q.x <= xs[c] + w && q.y >= ys[c] && q.y <= ys[c] + h;
      if (inside < fewest) fewest = inside, corner = c;
    }
    const double lx = xs[corner], ly = ys[corner];
    o += "<g class=\"legend\">\n<rect x=\"" + fmt("%.1f", lx) + "\" y=\"" + fmt("%.1f", ly) +
         "\" width=\"" + fmt("%.1f", w) + "\" height=\"" + fmt("%.1f", h) +
         "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#b0b0b0\"/>\n";
    for (size_t li = 0; li < listed.size(); ++li) {
      const Series& s = series[listed[li]];
      const double y = ly + 12 + 16.0 * static_cast<double>(li);
      o += "<line x1=\"" + fmt("%.1f", lx + 8) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" +
           fmt("%.1f", lx + 28) + "\" y2=\"" + fmt("%.1f", y) + "\" stroke=\"" +
           series_colour(s, listed[li]) + "\" stroke-width=\"2\"" + (s.dashed ? kDashes : "") +
           "/>\n";
      o += "<text x=\"" + fmt("%.1f", lx + 34) + "\" y=\"" + fmt("%.1f", y + 4) + "\">" +
           xml_text(s.label) + "</text>\n";
    }
    o += "</g>\n";
  }
}

// The panels side by side, one kWidth x kHeight cell each.
std::string svg_figure(const std::vector<Panel>& panels) {
  const std::string width = fmt("%.0f", kWidth * static_cast<double>(panels.size()));
  const std::string height = fmt("%.0f", kHeight);
  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + width +
       "\" height=\"" + height + "\" viewBox=\"0 0 " + width + " " + height +
       "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o += "<rect width=\"" + width + "\" height=\"" + height + "\" fill=\"white\"/>\n";
  for (size_t k = 0; k < panels.size(); ++k)
    svg_panel(o, panels[k], kWidth * static_cast<double>(k));
  o += "</svg>\n";
  return o;
}

}  // namespace

void write_svg_plot(const std::string& path, const std::string& title, const std::string& x_label,
                    const std::string& y_label, const std::vector<Series>& series, bool log_x) {
  Panel panel;
  panel.title = title;
  panel.x_label = x_label;
  panel.y_label = y_label;
  panel.series = series;
  panel.log_x = log_x;
  write_svg_figure(path, {panel});
}

void write_svg_figure(const std::string& path, const std::vector<Panel>& panels) {
  if (panels.empty()) throw std::invalid_argument(path + ": cannot plot a figure of no panels");
  for (const Panel& p : panels)
    for (const Series& s : p.series)
      if (s.x.size() != s.y.size())
        throw std::invalid_argument(path + ": cannot plot series \"" + s.label + "\": " +
                                    std::to_string(s.x.size()) + " x values but " +
                                    std::to_string(s.y.size()) + " y values");
  const std::string svg = svg_figure(panels);
  std::string problem = files::write_atomic(path, svg);
  if (!problem.empty()) throw std::runtime_error(path + ": cannot write: " + problem);
}

}  // namespace vmc::images

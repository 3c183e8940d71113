// compare.svg of `vmc compare`, drawn from the comparison's own files (compare.json,
// compare.csv, gradients.csv): after a run, and again by `vmc compare --replot DIR`.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "driver/binding.hpp"
#include "driver/compare.hpp"
#include "driver/outputs.hpp"
#include "vmc/images.hpp"

namespace vmc::driver {

double mean_of(const std::vector<double>& v) {
  double s = 0;
  std::size_t n = 0;
  for (double x : v) {
    if (std::isfinite(x)) s += x, ++n;
  }
  return n ? s / static_cast<double>(n) : NAN;
}

namespace {

// One CSV line's cells; a cell in double quotes may hold commas and "" for a quote.
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cells.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else cells.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

// The rows of a CSV file with a header, as column → cell maps; throws naming the file.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot read");
  std::string line;
  std::vector<std::map<std::string, std::string>> rows;
  if (!std::getline(f, line)) throw std::runtime_error(path + ": empty");
  std::vector<std::string> head = csv_cells(line);
  for (int n = 2; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    std::vector<std::string> cells = csv_cells(line);
    if (cells.size() != head.size()) throw std::runtime_error(path + ":" + std::to_string(n) + ": " +
                                                              std::to_string(cells.size()) + " cells, the header has " +
                                                              std::to_string(head.size()));
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < head.size(); ++i) row[head[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

double cell_number(const std::map<std::string, std::string>& row, const std::string& column) {
  auto it = row.find(column);
  if (it == row.end() || it->second.empty()) return NAN;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  return *end ? NAN : v;
}

}  // namespace

bool draw_compare(const std::string& dir) {
  try {
    Json summary;
    {
      std::ifstream f(dir + "/compare.json");
      if (!f) throw std::runtime_error(dir + "/compare.json: cannot read (is this a vmc compare directory?)");
      summary = Json::parse(f);
    }
    auto curve = read_csv(dir + "/compare.csv");
    auto grads = read_csv(dir + "/gradients.csv");
    std::vector<std::string> labels;
    for (const auto& r : summary.at("runs")) labels.push_back(r.at("label").get<std::string>());
    const bool have_test = summary.at("eval").at("test").get<bool>();
    // Figure 2's layout (bound against datapoints, log x, train dashed, test solid, a colour per
    // run, repeats averaged) beside the gradient variance of the guide's params (solid) and the
    // model's (dashed).
    std::vector<images::Series> bounds, variances;
    for (std::size_t si = 0; si < labels.size(); ++si) {
      std::map<double, std::vector<double>> tr, te;
      std::map<double, std::map<std::string, std::vector<double>>> va;
      for (const auto& r : curve) {
        if (r.at("run") != labels[si]) continue;
        double x = cell_number(r, "datapoints");
        tr[x].push_back(cell_number(r, "train_elbo"));
        te[x].push_back(cell_number(r, "test_elbo"));
      }
      for (const auto& g : grads) {
        if (g.at("run") == labels[si]) va[cell_number(g, "datapoints")][g.at("group")].push_back(cell_number(g, "variance"));
      }
      if (tr.empty()) continue;
      const int colour = static_cast<int>(si);
      images::Series train{labels[si] + " train", {}, {}, colour, true}, test{labels[si] + " test", {}, {}, colour, false};
      for (const auto& [x, v] : tr) train.x.push_back(x), train.y.push_back(mean_of(v));
      for (const auto& [x, v] : te) test.x.push_back(x), test.y.push_back(mean_of(v));
      bounds.push_back(train);
      if (have_test) bounds.push_back(test);
      images::Series guide{labels[si] + " guide", {}, {}, colour, false}, gen{labels[si] + " model", {}, {}, colour, true};
      for (const auto& [x, groups] : va) {
        if (groups.count("guide")) guide.x.push_back(x), guide.y.push_back(mean_of(groups.at("guide")));
        if (groups.count("model")) gen.x.push_back(x), gen.y.push_back(mean_of(groups.at("model")));
      }
      if (!guide.x.empty()) variances.push_back(guide);
      if (!gen.x.empty()) variances.push_back(gen);
    }
    // A first steps' plunge (an optimizer's first steps may be large) would flatten every curve that
    // matters: when the whole range is over three times that of the last two decades of
    // datapoints, the axis shows the latter (and half as much again below) and clips the rest.
    double lo_all = INFINITY, hi_all = -INFINITY, lo_late = INFINITY, x_max = 0;
    for (const images::Series& s : bounds) {
      for (double x : s.x) x_max = std::max(x_max, x);
    }
    for (const images::Series& s : bounds) {
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.y[i]) || s.x[i] <= 0) continue;
        lo_all = std::min(lo_all, s.y[i]);
        hi_all = std::max(hi_all, s.y[i]);
        if (s.x[i] >= x_max / 100) lo_late = std::min(lo_late, s.y[i]);
      }
    }
    double y_min = NAN, y_max = NAN;
    if (std::isfinite(lo_late) && hi_all > lo_late && hi_all - lo_all > 3 * (hi_all - lo_late)) {
      y_min = lo_late - 0.5 * (hi_all - lo_late);
      y_max = hi_all;
    }
    const Json& eval = summary.at("eval");
    std::vector<images::Panel> panels;
    panels.push_back({summary.at("model").get<std::string>() + ": bound per datapoint (" +
                          eval.at("estimator").get<std::string>() + ", L = " + std::to_string(eval.at("samples").get<int>()) +
                          ")",
                      "training datapoints evaluated",
                      have_test ? "bound per datapoint (train dashed, test solid)" : "bound per datapoint (train)", bounds,
                      true, false, y_min, y_max});
    if (!grads.empty()) {
      panels.push_back({"gradient variance per datapoint (trace)", "training datapoints evaluated",
                        "variance (guide solid, model dashed)", variances, true, true, NAN, NAN});
    }
    images::write_svg_figure(dir + "/compare.svg", panels);
  } catch (const std::bad_alloc&) {
    throw;  // main says it ran out of memory, not that the directory is at fault
  } catch (const std::exception& e) {
    error(dir, e.what());
    return false;
  }
  return true;
}

}  // namespace vmc::driver

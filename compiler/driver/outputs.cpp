#include "driver/outputs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "vmc/abi.h"
#include "vmc/images.hpp"
#include "vmc/psis.hpp"

namespace vmc::driver {

Json nested(const std::vector<double>& flat, const std::vector<std::int64_t>& shape, std::size_t dim,
            std::size_t offset) {
  if (dim == shape.size()) return flat[offset];
  Json arr = Json::array();
  std::size_t stride = 1;
  for (std::size_t d = dim + 1; d < shape.size(); ++d) stride *= static_cast<std::size_t>(shape[d]);
  for (std::int64_t i = 0; i < shape[dim]; ++i) arr.push_back(nested(flat, shape, dim + 1, offset + i * stride));
  return arr;
}

std::vector<std::string> element_names(const std::string& name, const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (std::int64_t e : shape) count *= e;
  std::vector<std::string> out;
  for (std::int64_t k = 0; k < count; ++k) {
    std::string s = name;
    std::int64_t rest = k;
    std::vector<std::int64_t> idx(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
      idx[d] = rest % shape[d];
      rest /= shape[d];
    }
    for (std::int64_t i : idx) s += "." + std::to_string(i);
    out.push_back(s);
  }
  return out;
}

std::string draws_csv(const runtime::Draws& d, const std::vector<std::size_t>& keep) {
  std::string header;
  for (std::size_t k : keep) {
    for (const std::string& n : element_names(d.names[k], d.shapes[k])) header += (header.empty() ? "" : ",") + n;
  }
  std::string out = header + "\n";
  char buf[40];
  for (std::int64_t c = 0; c < d.count; ++c) {
    std::string line;
    for (std::size_t k : keep) {
      std::size_t per = d.values[k].size() / static_cast<std::size_t>(d.count);
      for (std::size_t e = 0; e < per; ++e) {
        std::snprintf(buf, sizeof buf, "%.9g", d.values[k][c * per + e]);
        line += (line.empty() ? "" : ",") + std::string(buf);
      }
    }
    out += line + "\n";
  }
  return out;
}

bool has_kernel(const vmc_model_info& info, const std::string& name) {
  for (int i = 0; i < info.n_kernels; ++i) {
    if (info.kernels[i].name == name) return true;
  }
  return false;
}

// The global latents' guide draws, and the generated block's quantities at each of them:
// moments for the summary, draws.csv.
Posterior posterior(runtime::Trainer& trainer, const sema::Model& m) {
  Posterior p;
  // The generated kernel outputs the global latents' draws too, so each row of draws.csv is one
  // posterior draw and the quantities computed from it.
  const char* kernel = has_kernel(trainer.info(), "generated") ? "generated" : "sample_guide";
  const std::int64_t batch = std::min<std::int64_t>(trainer.batch_size() > 0 ? trainer.batch_size() : 1, 100);
  auto kept = [&](const runtime::Draws& d) {
    std::vector<std::size_t> out;
    for (std::size_t k = 0; k < d.names.size(); ++k) {
      const sema::Variable* v = m.find_variable(d.names[k]);
      bool quantity = std::any_of(m.generated.begin(), m.generated.end(),
                                  [&](const sema::GeneratedQuantity& q) { return q.name == d.names[k]; });
      if ((v && v->role == sema::Role::Latent && !v->local) || quantity) out.push_back(k);
    }
    return out;
  };
  // One draw first: the quantities' sizes may depend on the data's.
  runtime::Draws one = trainer.sample(kernel, 1, batch, kStreamPosterior);
  std::size_t per_draw = 0;
  for (std::size_t k : kept(one)) per_draw += one.values[k].size();
  const std::int64_t draws = std::clamp<std::int64_t>(1000000 / std::max<std::int64_t>(static_cast<std::int64_t>(per_draw), 1),
                                                      1000, 10000);
  p.draws = draws;
  runtime::Draws d = trainer.sample(kernel, draws, batch, kStreamPosterior);
  std::vector<std::size_t> globals = kept(d);
  // The table: one row per element, at most kRows of them.
  constexpr std::size_t kRows = 40;
  std::size_t rows = 0, elements = 0;
  char line[200];
  std::snprintf(line, sizeof line, "%-24s %10s %10s %10s %10s %10s\n", "", "mean", "sd", "5%", "50%", "95%");
  p.table = line;
  for (std::size_t k : globals) {
    std::size_t per = d.values[k].size() / static_cast<std::size_t>(draws);
    std::vector<double> mean(per, 0.0), sd(per, 0.0), q5(per), q50(per), q95(per), column(static_cast<std::size_t>(draws));
    for (std::int64_t c = 0; c < draws; ++c) {
      for (std::size_t e = 0; e < per; ++e) mean[e] += d.values[k][c * per + e];
    }
    for (double& x : mean) x /= static_cast<double>(draws);
    for (std::int64_t c = 0; c < draws; ++c) {
      for (std::size_t e = 0; e < per; ++e) {
        double dx = d.values[k][c * per + e] - mean[e];
        sd[e] += dx * dx;
      }
    }
    for (double& x : sd) x = std::sqrt(x / static_cast<double>(std::max<std::int64_t>(1, draws - 1)));
    // Quantiles as R's type 7 (linear between order statistics), as stansummary's.
    auto quantile = [&](double q) {
      double h = q * static_cast<double>(draws - 1);
      auto lo = static_cast<std::size_t>(std::floor(h));
      std::size_t hi = std::min(lo + 1, column.size() - 1);
      return column[lo] + (h - static_cast<double>(lo)) * (column[hi] - column[lo]);
    };
    std::vector<std::string> names = element_names(d.names[k], d.shapes[k]);
    for (std::size_t e = 0; e < per; ++e) {
      for (std::int64_t c = 0; c < draws; ++c) column[static_cast<std::size_t>(c)] = d.values[k][c * per + e];
      std::sort(column.begin(), column.end());
      q5[e] = quantile(0.05), q50[e] = quantile(0.5), q95[e] = quantile(0.95);
      ++elements;
      if (rows < kRows) {
        std::string name = names[e];
        if (d.shapes[k].size() > 0) {  // w.0.1 → w[0, 1]
          std::string base = d.names[k], idx = name.substr(base.size() + 1);
          for (char& ch : idx) {
            if (ch == '.') ch = ',';
          }
          name = base + "[" + idx + "]";
        }
        std::snprintf(line, sizeof line, "%-24s %10.4g %10.4g %10.4g %10.4g %10.4g\n", name.c_str(), mean[e], sd[e],
                      q5[e], q50[e], q95[e]);
        p.table += line;
        ++rows;
      }
    }
    const sema::Variable* v = m.find_variable(d.names[k]);
    (v ? p.moments : p.generated)[d.names[k]] = {{"mean", nested(mean, d.shapes[k])}, {"sd", nested(sd, d.shapes[k])},
                             {"q5", nested(q5, d.shapes[k])}, {"q50", nested(q50, d.shapes[k])},
                             {"q95", nested(q95, d.shapes[k])}};
  }
  if (elements > rows) {
    p.table += "... " + std::to_string(elements - rows) + " more elements in summary.json (posterior) and draws.csv\n";
  }
  if (!globals.empty()) p.csv = draws_csv(d, globals);
  return p;
}

// PSIS k̂ of the fitted guide: importance log-weights log p(x, z) − log q(z) at guide draws,
// from the same model lowered with the plain sampled estimator and one sample over the whole data.
std::optional<double> psis(const FitArgs& args, const Bound& b, const runtime::Trainer& trainer,
                           std::int64_t draws) {
  ModelArgs a = args.model;
  a.estimator = lower::default_estimator().name;
  a.samples = 1;
  a.kernels = {"elbo"};
  a.errors_only = true;
  for (const auto& [name, arr] : b.train) a.data_shapes[name] = arr.shape;
  FrontEnd fe;
  if (!compile_model(fe, a, Stage::Native)) return std::nullopt;
  std::map<std::string, std::vector<double>> params;
  for (const std::string& n : trainer.param_names()) params[n] = trainer.param(n);
  runtime::TrainerOptions o = trainer.options();
  o.collective = nullptr;  // after a fit on ranks: rank 0 alone, on the whole data
  runtime::Trainer weights(fe.compiled->info(), b.train, params, o);
  std::vector<double> lw = weights.whole_data_draws("elbo", draws, kStreamPsis);
  return psis_khat(lw).k;
}

// Real data of rank 2 whose rows are square images with values in [0, 1].
std::optional<std::string> image_data(const Bound& b) {
  for (const DataDecl& d : b.decls) {
    auto it = b.train.find(d.name);
    if (d.is_int || d.rank != 2 || it == b.train.end()) continue;
    const data::Array& a = it->second;
    if (!images::image_shape(a.shape[1])) continue;
    auto [lo, hi] = std::minmax_element(a.values.begin(), a.values.end());
    if (*lo >= 0 && *hi <= 1) return d.name;
  }
  return std::nullopt;
}

const std::vector<double>* output(const runtime::Draws& d, const std::string& name) {
  for (std::size_t k = 0; k < d.names.size(); ++k) {
    if (d.names[k] == name) return &d.values[k];
  }
  return nullptr;
}

// samples.png, reconstructions.png and (for a 2-D local latent) manifold.png.
Preview preview(const data::Array& a, std::int64_t rows) {
  Preview p;
  p.n = a.shape[0];
  std::int64_t keep = std::min(rows, a.shape[0]);
  std::int64_t per = a.shape[0] > 0 ? static_cast<std::int64_t>(a.values.size()) / a.shape[0] : 0;
  p.rows.name = a.name;
  p.rows.shape = a.shape;
  p.rows.shape[0] = keep;
  p.rows.integer = a.integer;
  p.rows.values.assign(a.values.begin(), a.values.begin() + keep * per);
  return p;
}

std::vector<std::string> pictures(runtime::Trainer& trainer, const Bound& b, const std::string& dir,
                                  const std::string& x, const Preview& train_rows) {
  std::vector<std::string> written;
  const data::Array& a = train_rows.rows;
  std::int64_t n = train_rows.n, D = a.shape[1];
  images::ImageShape shape = *images::image_shape(D);
  const vmc_model_info& info = trainer.info();
  auto has = [&](const char* k) { return has_kernel(info, k); };
  std::string mean = "mean." + x;
  // Each picture's title: what it shows, of which model, after how many steps.
  const std::string model = b.fe.model->name;
  const std::string after = ", step " + std::to_string(trainer.steps_done());
  if (has("sample_model")) {
    std::int64_t rows = std::min<std::int64_t>(64, n);
    runtime::Draws d = trainer.sample("sample_model", 1, rows, kStreamPictures);
    const std::vector<double>* v = output(d, mean) ? output(d, mean) : output(d, x);
    if (v) {
      images::write_png_grid(dir + "/samples.png", *v, rows, shape, 8, 0, 1,
                             model + ": " + std::to_string(rows) + " samples from the model" + after);
      written.push_back("samples.png");
    }
    // The AEVB paper's Figure 4: decoder means over a grid of a 2-D latent, through the
    // inverse normal CDF so the grid covers the prior's mass evenly.
    for (const sema::Variable& v : b.fe.model->latents) {
      if (!v.local || v.type.shape.size() != 2) continue;
      std::int64_t per = -1;
      for (const ir::Output& o : b.fe.lowered->guide_draws) {
        if (o.name == v.name && o.node->shape().size() == 2 && o.node->shape()[1].is_constant()) per = o.node->shape()[1].size;
      }
      if (per != 2) continue;
      std::int64_t side = std::min<std::int64_t>(20, static_cast<std::int64_t>(std::sqrt(static_cast<double>(n))));
      if (side < 2) continue;
      std::vector<double> grid;
      for (std::int64_t i = 0; i < side; ++i) {
        for (std::int64_t j = 0; j < side; ++j) {
          double u1 = (j + 0.5) / static_cast<double>(side), u2 = 1 - (i + 0.5) / static_cast<double>(side);
          grid.push_back(vmc_ndtri(0.05 + 0.9 * u1));
          grid.push_back(vmc_ndtri(0.05 + 0.9 * u2));
        }
      }
      runtime::Draws m = trainer.sample("sample_model", 1, side * side, kStreamPictures, nullptr,
                                        {{"gen." + v.name, grid}});
      if (const std::vector<double>* mv = output(m, mean)) {
        const std::string grid = std::to_string(side) + "x" + std::to_string(side);
        images::write_png_grid(dir + "/manifold.png", *mv, side * side, shape, side, 0, 1,
                               model + ": decoder means over a " + grid + " grid of " + v.name + after);
        written.push_back("manifold.png");
      }
      break;
    }
  }
  if (has("reconstruct")) {
    const runtime::Arrays* source = b.have_test && b.test.count(x) ? &b.test : nullptr;
    const data::Array& orig = source ? b.test.at(x) : a;
    std::int64_t rows = std::min<std::int64_t>(32, orig.shape[0]);
    runtime::Draws d = trainer.sample("reconstruct", 1, rows, kStreamPictures, source);
    if (const std::vector<double>* v = output(d, mean)) {
      // Pairs of rows: 8 originals above their 8 reconstructions.
      std::vector<double> tiles;
      std::int64_t count = 0;
      for (std::int64_t start = 0; start < rows; start += 8) {
        std::int64_t k = std::min<std::int64_t>(8, rows - start);
        tiles.insert(tiles.end(), orig.values.begin() + start * D, orig.values.begin() + (start + k) * D);
        tiles.resize(static_cast<std::size_t>((count + 8) * D), 1.0);
        tiles.insert(tiles.end(), v->begin() + start * D, v->begin() + (start + k) * D);
        tiles.resize(static_cast<std::size_t>((count + 16) * D), 1.0);
        count += 16;
      }
      images::write_png_grid(dir + "/reconstructions.png", tiles, count, shape, 8, 0, 1,
                             model + ": " + (source ? "test" : "training") +
                                 " data (odd rows), reconstructions (even rows)" + after);
      written.push_back("reconstructions.png");
    }
  }
  return written;
}

void elbo_svg(const std::string& path, const std::string& model, const runtime::FitHistory& h) {
  images::Series raw{"estimate", {}, {}}, smooth{"smoothed", {}, {}}, test{"test", {}, {}};
  // The thinned curve of the whole fit (FitHistory::curve), and its last step.
  std::vector<runtime::TraceRow> rows = h.curve;
  if (!h.trace.empty() && (rows.empty() || rows.back().step != h.trace.back().step)) rows.push_back(h.trace.back());
  for (const runtime::TraceRow& r : rows) {
    raw.x.push_back(static_cast<double>(r.step));
    raw.y.push_back(r.elbo);
    smooth.x.push_back(static_cast<double>(r.step));
    smooth.y.push_back(r.smoothed);
  }
  for (const runtime::TestPoint& t : h.tests) {
    test.x.push_back(static_cast<double>(t.step));
    test.y.push_back(t.elbo);
  }
  std::vector<images::Series> series{raw, smooth};
  if (!test.x.empty()) series.push_back(test);
  images::Panel whole;
  whole.title = model + ": bound per datapoint";
  whole.x_label = "step";
  whole.y_label = "ELBO per datapoint";
  whole.series = series;
  // Beside it, the last half of the fit, the smoothed bound alone with its axis fitted to it: a
  // bound still rising by nats shows there, where the whole fit's axis (set by its first steps)
  // draws it flat (issue 24).
  images::Panel last;
  last.title = "the last half of the fit (smoothed)";
  last.x_label = "step";
  last.y_label = "smoothed ELBO per datapoint";
  images::Series tail{"smoothed", {}, {}};
  const double half = rows.empty() ? 0 : static_cast<double>(rows.back().step) / 2;
  for (const runtime::TraceRow& r : rows) {
    if (static_cast<double>(r.step) < half) continue;
    tail.x.push_back(static_cast<double>(r.step));
    tail.y.push_back(r.smoothed);
  }
  last.series = {tail};
  images::write_svg_figure(path, {whole, last});
}

Json shape_json(const std::vector<std::int64_t>& s) {
  Json a = Json::array();
  for (std::int64_t e : s) a.push_back(e);
  return a;
}

Json number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

}  // namespace vmc::driver

// `vmc fit`, `vmc eval` and `vmc sample`: a compiled model bound to data and run by the
// runtime (runtime/include/vmc/trainer.hpp, fit.hpp).
#include "driver/run.hpp"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "driver/frontend.hpp"
#include "ir/rewriter.hpp"
#include "lower/synthetic.hpp"
#include "sema/distributions.hpp"
#include "vmc/abi.h"
#include "vmc/data.hpp"
#include "vmc/fit.hpp"
#include "vmc/images.hpp"
#include "vmc/psis.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {
namespace {

namespace fs = std::filesystem;
using runtime::Arrays;
using runtime::RuntimeError;
using Json = nlohmann::ordered_json;

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

// Evaluation streams (never a training step's noise).
constexpr std::uint64_t kStreamTest = 1, kStreamPosterior = 2, kStreamPsis = 3, kStreamPictures = 4,
                        kStreamEval = 5, kStreamSample = 6;

void error(const std::string& where, const std::string& message) {
  std::cerr << where << ": error: " << message << '\n';
}

// ---- the model's data declarations (known before any data is loaded) ----

struct DataDecl {
  std::string name;
  std::size_t rank = 0;
  bool is_int = false;
  sema::Constraint constraint;
  std::vector<std::string> families;  // the distributions `~` gives it in the model block
  std::vector<sema::Support> supports;
};

std::vector<DataDecl> data_decls(const sema::Model& m) {
  std::vector<DataDecl> out;
  for (const sema::Variable& v : m.data) {
    DataDecl d;
    d.name = v.name;
    d.rank = v.type.shape.size();
    d.is_int = v.type.is_int();
    d.constraint = v.type.constraint;
    for (const sema::SampleSite& s : m.samples) {
      if (s.block == ast::BlockKind::Model && s.variable == v.name && s.dist) {
        d.families.emplace_back(s.dist->name);
        d.supports.push_back(s.dist->support);
      }
    }
    out.push_back(d);
  }
  return out;
}

const DataDecl* find_decl(const std::vector<DataDecl>& decls, const std::string& name) {
  for (const DataDecl& d : decls) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string names_of(const std::vector<DataDecl>& decls) {
  std::string s;
  for (const DataDecl& d : decls) s += (s.empty() ? "" : ", ") + d.name;
  return s.empty() ? "none" : s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Loads `--data` (or `--test-data`) specs into arrays shaped as the data block declares them.
// Reports problems and returns false.
bool load_arrays(const std::vector<std::string>& specs, const std::vector<DataDecl>& decls, bool raw,
                 const std::string& flag, Arrays& out, std::map<std::string, std::string>& files) {
  bool ok = true;
  for (const std::string& spec : specs) {
    auto eq = spec.find('=');
    try {
      if (eq == std::string::npos) {
        if (!ends_with(spec, ".json")) {
          error(flag, "expected NAME=PATH (or a .json file of named arrays), got '" + spec + "'");
          ok = false;
          continue;
        }
        bool any = false;
        for (data::Array& a : data::load_json(spec)) {
          if (!find_decl(decls, a.name)) continue;
          files[a.name] = spec;
          out[a.name] = std::move(a);
          any = true;
        }
        if (!any) {
          error(spec, "no array named as the model's data (" + names_of(decls) + ")");
          ok = false;
        }
        continue;
      }
      std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
      if (!find_decl(decls, name)) {
        error(flag, "the model has no data named '" + name + "' (its data: " + names_of(decls) + ")");
        ok = false;
        continue;
      }
      if (path.empty()) {
        error(flag, "no file given for '" + name + "'");
        ok = false;
        continue;
      }
      out[name] = data::load(path, name, raw);
      files[name] = path;
    } catch (const data::DataError& e) {
      std::string what = e.what();
      std::string problem = what.substr(std::min(what.size(), e.path().size() + 2));
      error(e.path(), problem);
      ok = false;
    }
  }
  // Images stored as [N, rows, cols] for a data block that reads them as [N, D].
  for (auto& [name, a] : out) {
    const DataDecl* d = find_decl(decls, name);
    if (d && d->rank == 2 && a.shape.size() > 2) a = data::flatten_rows(std::move(a));
  }
  return ok;
}

std::string value_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The values of each array must lie where the model says they can: its declared bounds, the
// integers for int data, and the support of the distributions it is drawn from.
bool check_supports(const Arrays& arrays, const std::vector<DataDecl>& decls,
                    const std::map<std::string, std::string>& files) {
  for (const auto& [name, a] : arrays) {
    const DataDecl* d = find_decl(decls, name);
    if (!d) continue;
    const std::string& file = files.count(name) ? files.at(name) : name;
    auto fail = [&](std::size_t k, const std::string& why) {
      error(file, "data '" + name + "' element " + std::to_string(k) + " is " + value_text(a.values[k]) + ": " + why);
      return false;
    };
    for (std::size_t k = 0; k < a.values.size(); ++k) {
      double v = a.values[k];
      if (!std::isfinite(v)) return fail(k, "data must be finite");
      if (d->is_int && v != std::trunc(v)) return fail(k, "'" + name + "' is declared int");
      if (d->constraint.lower && v < *d->constraint.lower) {
        return fail(k, "below the declared lower bound " + value_text(*d->constraint.lower));
      }
      if (d->constraint.upper && v > *d->constraint.upper) {
        return fail(k, "above the declared upper bound " + value_text(*d->constraint.upper));
      }
      for (std::size_t s = 0; s < d->supports.size(); ++s) {
        const std::string& fam = d->families[s];
        switch (d->supports[s]) {
          case sema::Support::Binary:
            // {0, 1}; real data in [0, 1] (grey pixels) is the usual relaxation of the VAE papers.
            if (d->is_int ? (v != 0 && v != 1) : (v < 0 || v > 1)) {
              return fail(k, "outside the support of " + fam + (d->is_int ? " ({0, 1})" : " ([0, 1])"));
            }
            break;
          case sema::Support::Positive:
            if (!(v > 0)) return fail(k, "outside the support of " + fam + " ((0, inf))");
            break;
          case sema::Support::UnitInterval:
            if (!(v > 0 && v < 1)) return fail(k, "outside the support of " + fam + " ((0, 1))");
            break;
          case sema::Support::Count:
          case sema::Support::BoundedCount:
          case sema::Support::Categorical:
            if (v < 0 || v != std::trunc(v)) return fail(k, "outside the support of " + fam + " (integers >= 0)");
            break;
          default: break;
        }
      }
    }
  }
  return true;
}

// Int data used as an index must stay inside what it indexes: generated code does not check.
bool check_indices(const lower::Lowered& l, const sema::Model& m, const Arrays& arrays,
                   const std::map<std::string, std::string>& files) {
  const ir::Graph& g = *l.function.graph;
  std::vector<const ir::Node*> roots;
  for (const ir::Output& o : l.function.outputs) roots.push_back(o.node);
  bool ok = true;
  ir::visit(roots, [&](const ir::Node& n) {
    if (!ok || (n.op() != ir::Op::Gather && n.op() != ir::Op::ScatterAdd)) return;
    const ir::Node* index = n.arg(1);
    if (index->op() != ir::Op::Input || index->attrs().input != ir::InputKind::Data) return;
    const std::string& name = index->attrs().name;
    auto it = arrays.find(name);
    if (it == arrays.end()) return;
    const ir::Shape& table = n.op() == ir::Op::Gather ? n.arg(0)->shape() : n.shape();
    if (table.empty()) return;
    std::int64_t limit = -1;
    if (table[0].is_constant()) {
      limit = table[0].size;
    } else {
      const std::string& sym = g.symbol_name(table[0].symbol);
      auto dim = l.sizes.find(sym);
      const sema::Dim* d = m.find_dim(dim != l.sizes.end() ? dim->second : sym);
      if (d && d->value) limit = *d->value;
    }
    if (limit < 0) return;
    const data::Array& a = it->second;
    for (std::size_t k = 0; k < a.values.size(); ++k) {
      if (a.values[k] < 0 || a.values[k] >= static_cast<double>(limit)) {
        error(files.count(name) ? files.at(name) : name,
              "data '" + name + "' element " + std::to_string(k) + " is " + value_text(a.values[k]) +
                  ", but it indexes an array of " + std::to_string(limit) + " (valid: 0 to " +
                  std::to_string(limit - 1) + ")");
        ok = false;
        return;
      }
    }
  });
  return ok;
}

// A model bound to its data: both passes of the front end, the arrays, the compiled kernels.
struct Bound {
  FrontEnd fe;
  Arrays train, test;
  bool have_test = false;
  bool embedded = false;
  std::map<std::string, std::string> files, test_files;
  std::vector<DataDecl> decls;
};

bool bind_model(Bound& b, ModelArgs args, const DataArgs& data, bool need_train) {
  {
    FrontEnd first;
    if (!compile_model(first, args, Stage::Check)) return false;
    b.decls = data_decls(*first.model);
  }
  bool ok = load_arrays(data.data, b.decls, data.raw_pixels, "--data", b.train, b.files);
  std::map<std::string, std::string>& test_files = b.test_files;
  ok = load_arrays(data.test_data, b.decls, data.raw_pixels, "--test-data", b.test, test_files) && ok;
  if (!ok) return false;
  b.have_test = !data.test_data.empty();
  // The embedded default: a model whose data block is just x : real[N, D].
  if (data.data.empty() && need_train) {
    if (b.decls.size() == 1 && b.decls[0].name == "x" && !b.decls[0].is_int && b.decls[0].rank == 2) {
      b.train["x"] = data::embedded_digits("x", data.raw_pixels);
      b.files["x"] = "<embedded digits>";
      b.embedded = true;
    } else if (!b.decls.empty()) {
      error(args.model_path, "no data given: bind the model's data (" + names_of(b.decls) +
                                 ") with --data NAME=PATH or --data FILE.json");
      return false;
    }
  }
  if (!check_supports(b.train, b.decls, b.files) || !check_supports(b.test, b.decls, test_files)) return false;
  for (const auto& [name, a] : b.train) args.data_shapes[name] = a.shape;
  if (!need_train && b.train.empty()) {
    for (const auto& [name, a] : b.test) args.data_shapes[name] = a.shape;
  }
  if (!compile_model(b.fe, args, Stage::Native)) return false;
  if (!check_indices(*b.fe.lowered, *b.fe.model, b.train, b.files)) return false;
  if (!check_indices(*b.fe.lowered, *b.fe.model, b.test, test_files)) return false;
  return true;
}

bool parse_batch(const std::vector<std::string>& items, runtime::TrainerOptions& o) {
  for (const std::string& item : items) {
    auto eq = item.find('=');
    std::string value = eq == std::string::npos ? item : item.substr(eq + 1);
    char* end = nullptr;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end || v <= 0) {
      error("--batch", "expected a positive integer M or DIM=M, got '" + item + "'");
      return false;
    }
    if (eq == std::string::npos) o.default_batch = v;
    else o.batch[item.substr(0, eq)] = v;
  }
  return true;
}

// ---- outputs ----

Json nested(const std::vector<double>& flat, const std::vector<std::int64_t>& shape, std::size_t dim = 0,
            std::size_t offset = 0) {
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

// The global latents' guide draws: moments for the summary, draws.csv.
struct Posterior {
  Json moments = Json::object();
  std::string csv;
};

Posterior posterior(runtime::Trainer& trainer, const sema::Model& m, std::int64_t draws) {
  Posterior p;
  runtime::Draws d = trainer.sample("sample_guide", draws, std::min<std::int64_t>(trainer.batch_size() > 0 ? trainer.batch_size() : 1, 100),
                                    kStreamPosterior);
  std::vector<std::size_t> globals;
  for (std::size_t k = 0; k < d.names.size(); ++k) {
    const sema::Variable* v = m.find_variable(d.names[k]);
    if (v && !v->local) globals.push_back(k);
  }
  std::string header;
  for (std::size_t k : globals) {
    std::size_t per = d.values[k].size() / static_cast<std::size_t>(draws);
    std::vector<double> mean(per, 0.0), sd(per, 0.0);
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
    p.moments[d.names[k]] = {{"mean", nested(mean, d.shapes[k])}, {"sd", nested(sd, d.shapes[k])}};
    for (const std::string& n : element_names(d.names[k], d.shapes[k])) header += (header.empty() ? "" : ",") + n;
  }
  if (globals.empty()) return p;
  p.csv = header + "\n";
  char buf[40];
  for (std::int64_t c = 0; c < draws; ++c) {
    std::string line;
    for (std::size_t k : globals) {
      std::size_t per = d.values[k].size() / static_cast<std::size_t>(draws);
      for (std::size_t e = 0; e < per; ++e) {
        std::snprintf(buf, sizeof buf, "%.9g", d.values[k][c * per + e]);
        line += (line.empty() ? "" : ",") + std::string(buf);
      }
    }
    p.csv += line + "\n";
  }
  return p;
}

// PSIS k̂ of the fitted guide: importance log-weights log p(x, z) − log q(z) at guide draws,
// from the same model lowered with estimator A and one sample over the whole data.
std::optional<double> psis(const FitArgs& args, const Bound& b, const runtime::Trainer& trainer,
                           std::int64_t draws) {
  ModelArgs a = args.model;
  a.estimator = "A";
  a.samples = 1;
  a.kernels = {"elbo"};
  for (const auto& [name, arr] : b.train) a.data_shapes[name] = arr.shape;
  FrontEnd fe;
  if (!compile_model(fe, a, Stage::Native)) return std::nullopt;
  std::map<std::string, std::vector<double>> params;
  for (const std::string& n : trainer.param_names()) params[n] = trainer.param(n);
  runtime::TrainerOptions o = trainer.options();
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
// The first rows of an array (what the reconstructions picture shows), and its full row count.
struct Preview {
  data::Array rows;
  std::int64_t n = 0;
};

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
  auto has = [&](const char* k) {
    for (int i = 0; i < info.n_kernels; ++i) {
      if (std::string(info.kernels[i].name) == k) return true;
    }
    return false;
  };
  std::string mean = "mean." + x;
  if (has("sample_model")) {
    std::int64_t rows = std::min<std::int64_t>(64, n);
    runtime::Draws d = trainer.sample("sample_model", 1, rows, kStreamPictures);
    const std::vector<double>* v = output(d, mean) ? output(d, mean) : output(d, x);
    if (v) {
      images::write_png_grid(dir + "/samples.png", *v, rows, shape, 8);
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
        images::write_png_grid(dir + "/manifold.png", *mv, side * side, shape, side);
        written.push_back("manifold.png");
      }
      break;
    }
  }
  if (has("reconstruct")) {
    const Arrays* source = b.have_test && b.test.count(x) ? &b.test : nullptr;
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
      images::write_png_grid(dir + "/reconstructions.png", tiles, count, shape, 8);
      written.push_back("reconstructions.png");
    }
  }
  return written;
}

void elbo_svg(const std::string& path, const std::string& model, const runtime::FitHistory& h) {
  images::Series raw{"estimate", {}, {}}, smooth{"smoothed", {}, {}}, test{"test", {}, {}};
  std::size_t stride = std::max<std::size_t>(1, h.trace.size() / 2000);
  for (std::size_t i = 0; i < h.trace.size(); i += stride) {
    raw.x.push_back(static_cast<double>(h.trace[i].step));
    raw.y.push_back(h.trace[i].elbo);
    smooth.x.push_back(static_cast<double>(h.trace[i].step));
    smooth.y.push_back(h.trace[i].smoothed);
  }
  for (const runtime::TestPoint& t : h.tests) {
    test.x.push_back(static_cast<double>(t.step));
    test.y.push_back(t.elbo);
  }
  std::vector<images::Series> series{raw, smooth};
  if (!test.x.empty()) series.push_back(test);
  images::write_svg_plot(path, model + ": bound per datapoint", "step", "ELBO per datapoint", series);
}

Json shape_json(const std::vector<std::int64_t>& s) {
  Json a = Json::array();
  for (std::int64_t e : s) a.push_back(e);
  return a;
}

Json number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

}  // namespace

// ----------------------------------------------------------------------------------------------

int run_fit(const FitArgs& args) {
  runtime::TrainerOptions topt;
  if (!parse_batch(args.batch, topt)) return 1;
  try {
    topt.optimizer = runtime::parse_optimizer(args.optimizer);
  } catch (const std::invalid_argument& e) {
    error("--optimizer", e.what());
    return 1;
  }
  if (args.lr && !(*args.lr > 0 && std::isfinite(*args.lr))) {
    error("--lr", "the learning rate must be a positive number");
    return 1;
  }
  topt.seed = args.seed;
  topt.threads = args.threads;
  topt.clip_grad = args.clip_grad;

  Bound b;
  ModelArgs margs = args.model;
  margs.kernels = {"elbo_grad", "sample_guide", "sample_model", "reconstruct"};
  if (!args.data.test_data.empty()) margs.kernels.push_back("elbo");
  if (!bind_model(b, margs, args.data, true)) return 1;
  const sema::Model& model = *b.fe.model;
  double compile_ms = b.fe.times.total();
  // The default step size: the optimizer's own for minibatch fits (Adam's 1e-3, as the AEVB
  // peer); ten times that when every step sees the whole data set, whose gradient is exact up
  // to the guide's noise (a global-latent model such as a regression, Stan ADVI's territory).
  bool subsampled = !b.fe.lowered->sizes.empty() &&
                    std::any_of(b.fe.lowered->sizes.begin(), b.fe.lowered->sizes.end(),
                                [](const auto& kv) { return kv.first != kv.second; });
  topt.lr = args.lr.value_or(runtime::default_learning_rate(topt.optimizer) * (subsampled ? 1 : 10));

  // The output directory must take files before any time is spent training.
  const std::string dir = args.out;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    error(dir, "cannot create the output directory: " + (ec ? ec.message() : "not a directory"));
    return 1;
  }
  {
    std::string probe = dir + "/.vmc-write-test." + std::to_string(::getpid());
    std::FILE* f = std::fopen(probe.c_str(), "wb");
    if (!f) {
      error(dir, std::string("cannot write in the output directory: ") + std::strerror(errno));
      return 1;
    }
    std::fclose(f);
    std::remove(probe.c_str());
  }
  const std::string checkpoint = dir + "/checkpoint.bin";

  // What the pictures need of the training data, taken now: the trainer then holds the only
  // copy of it (in the model's precision), unless PSIS needs the arrays again (global latents).
  std::optional<std::string> image = image_data(b);
  Preview image_rows = image ? preview(b.train.at(*image), 64) : Preview{};
  const bool globals =
      std::any_of(model.latents.begin(), model.latents.end(), [](const sema::Variable& v) { return !v.local; });
  std::unique_ptr<runtime::Trainer> trainer;
  runtime::FitHistory history;
  try {
    auto init = lower::initial_params(*b.fe.lowered, args.seed);
    if (globals) trainer = std::make_unique<runtime::Trainer>(b.fe.compiled->info(), b.train, init, topt);
    else trainer = std::make_unique<runtime::Trainer>(b.fe.compiled->info(), std::move(b.train), init, topt);
    if (args.resume) {
      if (!fs::exists(checkpoint)) {
        error(checkpoint, "no checkpoint to resume from (run without --resume first)");
        return 1;
      }
      runtime::read_checkpoint(checkpoint, *trainer, history);
    }
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  }
  if (b.have_test) {
    try {
      trainer->check_data(b.test);
    } catch (const RuntimeError& e) {
      std::string files;
      for (const auto& [name, path] : b.test_files) files += (files.empty() ? "" : ", ") + path;
      error(files, e.what());
      return 1;
    }
  }

  std::int64_t steps = args.steps;
  if (steps <= 0) {
    steps = args.epochs > 0 ? static_cast<std::int64_t>(std::ceil(args.epochs * static_cast<double>(trainer->steps_per_epoch())))
                            : 2000;
  }
  bool terminal = ::isatty(STDOUT_FILENO) && !args.quiet;
  if (!args.quiet) {
    std::printf("fit %s: %s, estimator %s (L = %d), %s, lr %g, seed %llu, %d thread%s\n",
                model.name.c_str(), b.embedded ? "embedded digits (1797 x 64)" : "data bound",
                args.model.estimator.c_str(), args.model.samples, runtime::to_string(topt.optimizer), topt.lr,
                static_cast<unsigned long long>(args.seed), args.threads, args.threads == 1 ? "" : "s");
    std::string batching = trainer->primary_dim().empty()
                               ? std::string("every step sees all the data")
                               : "minibatch " + std::to_string(trainer->batch_size()) + " (" +
                                     std::to_string(trainer->steps_per_epoch()) + " steps per epoch)";
    std::printf("  %lld datapoints, %s, %lld steps; compiled in %.0f ms%s\n",
                static_cast<long long>(trainer->datapoints()), batching.c_str(), static_cast<long long>(steps),
                compile_ms, b.fe.compiled->timing().from_cache ? " (object cache)" : "");
    if (args.resume) {
      std::printf("  resuming at step %lld\n", static_cast<long long>(trainer->steps_done()));
    }
    std::fflush(stdout);
  }

  runtime::LoopOptions lo;
  lo.steps = steps;
  lo.tol_rel_obj = args.tol_rel_obj;
  lo.eval_every = args.eval_every;
  lo.test = b.have_test ? &b.test : nullptr;
  lo.quiet = args.quiet;
  lo.terminal = terminal;
  lo.checkpoint_path = checkpoint;
  lo.interrupt = &g_interrupted;
  g_interrupted.store(false);
  auto previous = std::signal(SIGINT, on_interrupt);
  runtime::LoopResult r;
  Json summary;
  std::vector<std::string> warnings;
  try {
    r = runtime::run_fit(*trainer, history, lo, std::cout);
    if (r.stop_reason == "steps" && args.steps <= 0 && args.epochs > 0) r.stop_reason = "epochs";
    std::signal(SIGINT, previous);
    if (r.stop_reason == "interrupted") std::cout << "interrupted: writing the results so far\n";

    std::optional<double> test_elbo;
    if (b.have_test) test_elbo = trainer->evaluate(b.test, "elbo", kStreamTest);
    runtime::write_trace_csv(dir + "/trace.csv", history);

    summary["model"] = model.name;
    summary["model_file"] = args.model.model_path;
    summary["estimator"] = args.model.estimator;
    summary["samples"] = args.model.samples;
    // Without a subsampled plate every step is one pass over all the data.
    summary["batch"] = trainer->primary_dim().empty() ? trainer->datapoints() : trainer->batch_size();
    summary["steps"] = trainer->steps_done();
    summary["epochs"] = static_cast<double>(trainer->steps_done()) / static_cast<double>(trainer->steps_per_epoch());
    summary["datapoints"] = trainer->datapoints();
    summary["datapoints_seen"] = trainer->datapoints_seen();
    summary["seed"] = trainer->options().seed;
    summary["threads"] = args.threads;
    summary["precision"] = args.model.precision;
    summary["optimizer"] = runtime::to_string(topt.optimizer);
    summary["lr"] = topt.lr;
    summary["compile_ms"] = compile_ms;
    summary["fit_s"] = history.wall_s;
    summary["steps_per_s"] = r.fit_s > 0 ? static_cast<double>(r.steps_this_session) / r.fit_s : 0.0;
    summary["datapoints_per_s"] = r.fit_s > 0 ? static_cast<double>(r.datapoints_this_session) / r.fit_s : 0.0;
    summary["final_elbo_per_datapoint"] = number(r.final_smoothed);
    if (test_elbo) summary["test_elbo_per_datapoint"] = number(*test_elbo);
    summary["stop_reason"] = r.stop_reason;
    summary["nonfinite_steps"] = r.nonfinite_steps;
    if (!r.problem.empty()) summary["last_nonfinite_problem"] = r.problem;
    if (!history.tests.empty()) {
      Json t = Json::array();
      for (const runtime::TestPoint& p : history.tests) t.push_back({{"step", p.step}, {"elbo_per_datapoint", number(p.elbo)}});
      summary["test_trace"] = t;
    }
    Json params = Json::object();
    for (const std::string& n : trainer->param_names()) params[n] = shape_json(trainer->param_shape(n));
    summary["params"] = params;

    std::vector<std::string> files = {"summary.json", "trace.csv", "checkpoint.bin"};
    if (globals) {
      Posterior p = posterior(*trainer, model, 1000);
      summary["posterior"] = p.moments;
      runtime::write_file_atomic(dir + "/draws.csv", p.csv);
      files.push_back("draws.csv");
      std::optional<double> k = psis(args, b, *trainer, 1000);
      if (k) {
        summary["psis_khat"] = number(*k);
        if (!(*k <= 0.7)) {
          char buf[200];
          std::snprintf(buf, sizeof buf, "PSIS k-hat of the guide is %.2f (> 0.7): the guide is a poor fit to the "
                        "posterior, so its moments may be unreliable", *k);
          warnings.emplace_back(buf);
        }
      }
    }
    if (image) {
      for (const std::string& f : pictures(*trainer, b, dir, *image, image_rows)) files.push_back(f);
    }
    elbo_svg(dir + "/elbo.svg", model.name, history);
    files.push_back("elbo.svg");
    if (r.stop_reason == "nonfinite") warnings.push_back("stopped after repeated non-finite steps: " + r.problem);
    summary["warnings"] = warnings;
    summary["files"] = files;
    runtime::write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");

    for (const std::string& w : warnings) std::cerr << "warning: " << w << '\n';
    if (!args.quiet) {
      std::printf("done: %lld steps (%s), smoothed elbo per datapoint %.6g", static_cast<long long>(trainer->steps_done()),
                  r.stop_reason.c_str(), r.final_smoothed);
      if (test_elbo) std::printf(", test %.6g", *test_elbo);
      std::printf(", %.2f s, %.0f datapoints/s\n  results in %s/:", r.fit_s,
                  summary["datapoints_per_s"].get<double>(), dir.c_str());
      for (const std::string& f : files) std::printf(" %s", f.c_str());
      std::printf("\n");
    }
  } catch (const RuntimeError& e) {
    std::signal(SIGINT, previous);
    error(args.model.model_path, e.what());
    return 1;
  } catch (const std::exception& e) {
    std::signal(SIGINT, previous);
    error(dir, e.what());
    return 1;
  }
  if (r.stop_reason == "nonfinite") {
    error(args.model.model_path, "the fit stopped: " + r.problem + " on " + std::to_string(lo.max_nonfinite) +
                                     " steps in a row (try a smaller --lr or --clip-grad)");
    return 1;
  }
  return r.stop_reason == "interrupted" ? 130 : 0;
}

// ----------------------------------------------------------------------------------------------

namespace {

// A trainer over `arrays` with the params of a fit's checkpoint.
std::unique_ptr<runtime::Trainer> from_checkpoint(const Bound& b, const Arrays& arrays, const std::string& path,
                                                  const runtime::TrainerOptions& o) {
  auto t = std::make_unique<runtime::Trainer>(b.fe.compiled->info(), arrays,
                                              lower::initial_params(*b.fe.lowered, 1), o);
  runtime::FitHistory ignored;
  runtime::read_checkpoint(path, *t, ignored, /*params_only=*/true);
  return t;
}

}  // namespace

int run_eval(const EvalArgs& args) {
  // iwae over local latents: per-datapoint log-weights (estimator A, one sample) averaged K
  // times in the runtime, so K = 5000 costs time, not a graph of 5000 copies of the model.
  bool iwae = args.model.estimator == "iwae";
  auto b = std::make_unique<Bound>();
  ModelArgs margs = args.model;
  if (iwae) {
    margs.estimator = "A";
    margs.samples = 1;
    margs.kernels = {"log_weights"};
  } else {
    margs.kernels = {"elbo"};
  }
  if (!bind_model(*b, margs, args.data, true)) return 1;
  bool per_row = iwae && b->fe.compiled->kernel("log_weights");
  if (iwae && !per_row) {
    // Global latents: the bound's log-mean-exp is over the whole data; lowered K times.
    constexpr int kMaxCopies = 200;
    if (args.model.samples > kMaxCopies) {
      error(args.model.model_path, "iwae with global latents unrolls the model once per sample; --samples " +
                                       std::to_string(args.model.samples) + " is more than " +
                                       std::to_string(kMaxCopies));
      return 1;
    }
    b = std::make_unique<Bound>();
    margs = args.model;
    margs.kernels = {"elbo"};
    if (!bind_model(*b, margs, args.data, true)) return 1;
  }
  runtime::TrainerOptions o;
  o.seed = args.seed;
  o.threads = args.threads;
  // The graph's copies of the model per row (iwae unrolled) need a smaller batch.
  int copies = iwae && !per_row ? args.model.samples : args.model.samples;
  o.default_batch = args.batch > 0 ? args.batch : std::max<std::int64_t>(1, 100 / std::max(1, copies / 10));
  if (per_row && args.batch <= 0) o.default_batch = 100;
  try {
    const Arrays& data = b->have_test ? b->test : b->train;
    auto t = from_checkpoint(*b, data, args.params, o);
    double v = per_row ? t->importance_weighted(data, "log_weights", args.model.samples, kStreamEval, o.default_batch)
                       : t->evaluate(data, "elbo", kStreamEval, o.default_batch);
    std::printf("%s estimator %s (%s %d): %.9g per datapoint over %lld datapoints\n", b->fe.model->name.c_str(),
                args.model.estimator.c_str(), iwae ? "K =" : "L =", args.model.samples, v,
                static_cast<long long>(t->datapoints()));
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  }
  return 0;
}

int run_sample(const SampleArgs& args) {
  Bound b;
  ModelArgs margs = args.model;
  std::string kernel = args.from == "model" ? "sample_model" : "sample_guide";
  margs.kernels = {kernel};
  if (!bind_model(b, margs, args.data, true)) return 1;
  if (!b.fe.compiled->kernel(kernel)) {
    error(args.model.model_path, "this model cannot be sampled forwards: " + b.fe.lowered->sample_model_problem);
    return 1;
  }
  std::string out = args.out.empty() ? (args.from == "model" ? "model_draws.csv" : "draws.csv") : args.out;
  try {
    runtime::TrainerOptions o;
    o.seed = args.seed;
    auto t = from_checkpoint(b, b.train, args.params, o);
    // Guide draws: the global latents per draw (a local latent's draws are per datapoint of the
    // first rows); model draws: the first data array's rows.
    runtime::Draws d = t->sample(kernel, args.draws, std::max<std::int64_t>(1, std::min<std::int64_t>(t->batch_size(), 100)),
                                 kStreamSample);
    std::string header, body;
    std::vector<std::size_t> keep;
    for (std::size_t k = 0; k < d.names.size(); ++k) {
      if (kernel == "sample_model" && d.names[k].rfind("mean.", 0) == 0) continue;
      keep.push_back(k);
      for (const std::string& n : element_names(d.names[k], d.shapes[k])) header += (header.empty() ? "" : ",") + n;
    }
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
      body += line + "\n";
    }
    runtime::write_file_atomic(out, header + "\n" + body);
    std::printf("%lld draws from the %s to %s\n", static_cast<long long>(d.count), args.from.c_str(), out.c_str());
    if (std::optional<std::string> x = image_data(b); x && kernel == "sample_model") {
      std::string mean = "mean." + *x;
      if (const std::vector<double>* v = output(d, mean)) {
        std::int64_t rows = static_cast<std::int64_t>(v->size()) / b.train.at(*x).shape[1];
        std::string png = out.substr(0, out.rfind('.')) + ".png";
        images::write_png_grid(png, *v, rows, *images::image_shape(b.train.at(*x).shape[1]), 10);
        std::printf("decoder means as images to %s\n", png.c_str());
      }
    }
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  } catch (const std::exception& e) {
    error(out, e.what());
    return 1;
  }
  return 0;
}

}  // namespace vmc::driver

// ----------------------------------------------------------------------------------------------

namespace vmc::driver {
namespace {

// FLOPs of one evaluation of `roots` at the given sizes, counted from the IR: 2·m·n·k per
// product, one per element for elementwise operations and reductions' inputs, none for
// structure (broadcasts, transposes, slices, gathers).
double ir_flops(const std::vector<const ir::Node*>& roots, const ir::Bindings& sizes) {
  double total = 0;
  auto count = [&](const ir::Node* n) {
    double c = 1;
    for (std::int64_t e : ir::concrete_shape(n->shape(), n->graph(), sizes)) c *= static_cast<double>(e);
    return c;
  };
  ir::visit(roots, [&](const ir::Node& n) {
    switch (n.op()) {
#define VMC_OP(name, text, arity, kind) case ir::Op::name: kind##_flops(n); break;
#define Leaf_flops(n)
#define Structure_flops(n)
#define Unary_flops(n) total += count(&n)
#define Binary_flops(n) total += count(&n)
#define Select_flops(n) total += count(&n)
#define Reduce_flops(n) total += count(n.arg(0))
#define Linalg_flops(n)                                                                   \
  if (n.op() == ir::Op::MatMul || n.op() == ir::Op::TriSolve) {                          \
    double a = count(n.arg(0)), b = count(n.arg(1)), c = count(&n);                      \
    total += 2 * a * b / std::max(1.0, std::sqrt(a * b / std::max(1.0, c)));             \
  } else {                                                                                \
    total += count(&n);                                                                   \
  }
#include "ir/ops.def"
#undef VMC_OP
#undef Leaf_flops
#undef Structure_flops
#undef Unary_flops
#undef Binary_flops
#undef Select_flops
#undef Reduce_flops
#undef Linalg_flops
    }
  });
  return total;
}

// Resident memory now (Linux /proc/self/statm), in MB.
double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

}  // namespace

int run_bench(const BenchArgs& args) {
  runtime::TrainerOptions topt;
  if (!parse_batch(args.batch, topt)) return 1;
  topt.seed = args.seed;
  topt.threads = args.threads;
  Bound b;
  ModelArgs margs = args.model;
  margs.kernels = {"elbo_grad"};
  if (!bind_model(b, margs, args.data, true)) return 1;
  const double compile_ms = b.fe.times.total();
  try {
    // FLOPs of one step from the IR at the minibatch's sizes (a whole batch on one thread).
    ir::Bindings sizes;
    const vmc_model_info& info = b.fe.compiled->info();
    for (int i = 0; i < info.n_inputs; ++i) {
      const vmc_buffer_info& in = info.inputs[i];
      if (in.kind != VMC_DATA || !b.train.count(in.name)) continue;
      for (int k = 0; k < in.rank; ++k) {
        if (in.extents[k] >= 0) continue;
        int sym = static_cast<int>(-in.extents[k] - 1);
        sizes.sizes[info.size_dims[sym]] = b.train.at(in.name).shape[k];
      }
    }
    for (int sym = 0; sym < info.n_sizes; ++sym) {
      bool batch = std::string(info.sizes[sym]) != info.size_dims[sym];
      std::int64_t full = sizes.sizes.count(info.size_dims[sym]) ? sizes.sizes.at(info.size_dims[sym]) : 1;
      std::int64_t m = topt.batch.count(info.size_dims[sym]) ? topt.batch.at(info.size_dims[sym]) : topt.default_batch;
      sizes.sizes[info.sizes[sym]] = batch ? std::min(m, full) : full;
    }
    // The trainer holds the only copy of the data from here (the steady memory a fit needs).
    runtime::Trainer trainer(b.fe.compiled->info(), std::move(b.train), lower::initial_params(*b.fe.lowered, args.seed),
                             topt);
    if (trainer.primary_dim().empty()) topt.lr = 1e-2;
    for (std::int64_t s = 0; s < args.warmup; ++s) trainer.step();
    runtime::GemmProfile gemms = trainer.record_step();
    auto start = std::chrono::steady_clock::now();
    std::int64_t rows = 0;
    for (std::int64_t s = 0; s < args.steps; ++s) rows += trainer.step().rows;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double steps_per_s = static_cast<double>(args.steps) / seconds;
    const double steady_mb = current_rss_mb();  // while training, before the bound's buffers
    double bound_s = trainer.replay_gemms(gemms, static_cast<int>(std::max<std::int64_t>(20, args.steps / 2)));
    double bound = 1 / bound_s;

    std::vector<const ir::Node*> roots;
    for (const ir::Output& o : b.fe.lowered->function.outputs) roots.push_back(o.node);
    double flops = ir_flops(roots, sizes);
    double per_row = trainer.batch_size() > 0 ? flops / static_cast<double>(trainer.batch_size()) : flops;

    Json out;
    out["model"] = b.fe.model->name;
    out["precision"] = args.model.precision;
    out["estimator"] = args.model.estimator;
    out["batch"] = trainer.primary_dim().empty() ? trainer.datapoints() : trainer.batch_size();
    out["threads"] = args.threads;
    out["steps"] = args.steps;
    out["compile_ms"] = compile_ms;
    out["from_cache"] = b.fe.compiled->timing().from_cache;
    Json stages = Json::object();
    for (const auto& [stage, ms] : b.fe.times.all()) stages[stage] = ms;
    out["compile_stages_ms"] = stages;
    out["steps_per_s"] = steps_per_s;
    out["datapoints_per_s"] = static_cast<double>(rows) / seconds;
    out["flops_per_step"] = flops;
    out["gflops"] = flops * steps_per_s / 1e9;
    out["gemm_flops_per_step"] = gemms.flops();
    out["gemm_calls_per_step"] = gemms.calls();
    out["gemm_bound_steps_per_s"] = bound;
    out["percent_of_gemm_bound"] = 100 * steps_per_s / bound;
    out["peak_rss_mb"] = peak_rss_mb();
    out["steady_rss_mb"] = steady_mb;
    if (args.json) {
      std::cout << out.dump(2) << '\n';
      return 0;
    }
    std::printf("vmc bench %s: %s, estimator %s, %s %lld, %d thread%s, %lld steps after %lld warm-up\n",
                b.fe.model->name.c_str(), args.model.precision.c_str(), args.model.estimator.c_str(),
                trainer.primary_dim().empty() ? "all data, N =" : "M =",
                static_cast<long long>(out["batch"].get<std::int64_t>()), args.threads, args.threads == 1 ? "" : "s",
                static_cast<long long>(args.steps), static_cast<long long>(args.warmup));
    std::printf("  compile        %9.1f ms%s\n", compile_ms, b.fe.compiled->timing().from_cache ? " (object cache)" : "");
    if (args.stages) {
      for (const auto& [stage, ms] : b.fe.times.all()) std::printf("    %-14s %9.2f ms\n", stage.c_str(), ms);
    }
    std::printf("  steps/s        %9.1f\n", steps_per_s);
    std::printf("  datapoints/s   %9.0f\n", static_cast<double>(rows) / seconds);
    std::printf("  GFLOP/s        %9.1f   (%.2f MFLOP per step, %.3f per datapoint; %.0f %% in products)\n",
                flops * steps_per_s / 1e9, flops / 1e6, per_row / 1e6, 100 * gemms.flops() / std::max(1.0, flops));
    std::printf("  GEMM bound     %9.1f steps/s   (the step's %zu products alone, same shapes and threads)\n", bound,
                gemms.calls());
    std::printf("  of the bound   %9.1f %%\n", 100 * steps_per_s / bound);
    std::printf("  memory         %9.0f MB resident while training (peak %.0f MB, when the data loaded)\n",
                steady_mb, peak_rss_mb());
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  }
  return 0;
}

}  // namespace vmc::driver

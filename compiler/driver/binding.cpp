#include "driver/binding.hpp"
#include "driver/memory.hpp"
#include "driver/out_of_memory.hpp"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

#include <unistd.h>

#include "ir/rewriter.hpp"
#include "vmc/data.hpp"
#include "vmc/philox.hpp"

namespace vmc::driver {

using runtime::Arrays;

void error(const std::string& where, const std::string& message) {
  std::cerr << where << ": error: " << message << '\n';
}

namespace {

std::vector<DataDecl> data_decls(const sema::Model& m) {
  std::vector<DataDecl> out;
  for (const sema::Variable& v : m.data) {
    DataDecl d;
    d.name = v.name;
    d.type = sema::to_string(v.type);
    d.rank = v.type.shape.size();
    d.is_int = v.type.is_int();
    d.constraint = v.type.constraint;
    for (const sema::SampleSite& s : m.samples) {
      if (s.block == ast::BlockKind::Model && s.variable == v.name && s.dist && s.whole) {
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
      // NAME=FILE.csv:COLUMN binds the column the header names COLUMN (a file of that very
      // name, colon included, is read whole).
      std::string column;
      if (auto colon = path.rfind(':');
          colon != std::string::npos && ends_with(path.substr(0, colon), ".csv") && !std::filesystem::exists(path)) {
        column = path.substr(colon + 1);
        path.resize(colon);
        if (column.empty()) {
          error(flag, "no column named after the ':' in '" + spec + "' (NAME=FILE.csv:COLUMN)");
          ok = false;
          continue;
        }
      }
      out[name] = column.empty() ? data::load(path, name, raw) : data::load_csv(path, name, column);
      files[name] = column.empty() ? path : path + ":" + column;
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

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

std::string value_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Each array must have as many dimensions as its declaration (sema compares the extents later):
// checked before its values, so a matrix bound to a vector is named a shape problem.
bool check_ranks(const Arrays& arrays, const std::vector<DataDecl>& decls,
                 const std::map<std::string, std::string>& files) {
  bool ok = true;
  for (const auto& [name, a] : arrays) {
    const DataDecl* d = find_decl(decls, name);
    if (!d || d->rank == a.shape.size()) continue;
    const std::string& file = files.count(name) ? files.at(name) : name;
    std::string hint;
    if (d->rank == 1 && a.shape.size() == 2 && ends_with(file, ".csv")) {
      hint = "; bind one of its " + std::to_string(a.shape[1]) +
             " columns by its header's name: --data " + name + "=" + file + ":COLUMN";
    }
    error(file, "data '" + name + "' has shape " + shape_text(a.shape) + ", but '" + name +
                    "' is declared " + d->type + " (" + std::to_string(d->rank) + " dimension" +
                    (d->rank == 1 ? "" : "s") + ")" + hint);
    ok = false;
  }
  return ok;
}

// The values of each array must lie where the model says they can: its declared bounds, the
// integers for int data, the support of the distributions it is drawn from, and the range of
// the precision the model runs in (f32 stops at 3.4e38: beyond, the value is infinite and the
// fit fails at run time).
bool check_supports(const Arrays& arrays, const std::vector<DataDecl>& decls,
                    const std::map<std::string, std::string>& files, bool f32) {
  for (const auto& entry : arrays) {
    // Named, not a structured binding: Clang 14 (the fuzz build) cannot capture those.
    const std::string& name = entry.first;
    const auto& a = entry.second;
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
      if (f32 && std::abs(v) > std::numeric_limits<float>::max()) {
        return fail(k, "beyond the range of f32 (magnitude at most 3.4e38), the model's precision; "
                       "rescale the data or use --precision f64");
      }
      if (d->is_int && v != std::trunc(v)) return fail(k, "'" + name + "' is declared int");
      if (d->constraint.lower && v < *d->constraint.lower) {
        return fail(k, "below the declared lower bound " + value_text(*d->constraint.lower));
      }
      if (d->constraint.upper && v > *d->constraint.upper) {
        return fail(k, "above the declared upper bound " + value_text(*d->constraint.upper));
      }
      for (std::size_t s = 0; s < d->supports.size(); ++s) {
        if (std::optional<std::string> support = dist::outside(d->supports[s], v, d->is_int)) {
          return fail(k, "outside the support of " + d->families[s] + " (" + *support + ")");
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



}  // namespace


bool bind_model(Bound& b, ModelArgs args, const DataArgs& data, bool need_train) {
  {
    FrontEnd first;
    if (!compile_model(first, args, Stage::Check)) return false;
    b.decls = data_decls(*first.model);
  }
  std::map<std::string, std::string>& test_files = b.test_files;
  bool ok = while_doing("loading the data", [&] {
    bool loaded = load_arrays(data.data, b.decls, data.raw_pixels, "--data", b.train, b.files);
    return load_arrays(data.test_data, b.decls, data.raw_pixels, "--test-data", b.test, test_files) && loaded;
  });
  if (!ok) return false;
  b.have_test = !data.test_data.empty();
  // The embedded default: a model whose data block is just x : real[N, D].
  if (data.data.empty() && need_train) {
    if (b.decls.size() == 1 && b.decls[0].name == "x" && !b.decls[0].is_int && b.decls[0].rank == 2) {
      b.train["x"] = data::embedded_digits("x", data.raw_pixels);
      b.files["x"] = "<embedded digits>";
      b.embedded = true;
      // Said every time: a model silently trained on the digits then puzzles sample, eval and
      // --resume with other data (issue 21).
      std::cerr << "note: no --data: using the embedded 8x8 digits (1797 x 64) for 'x'\n";
    } else if (!b.decls.empty()) {
      error(args.model_path, "no data given: bind the model's data (" + names_of(b.decls) +
                                 ") with --data NAME=PATH or --data FILE.json");
      return false;
    }
  }
  if (!check_ranks(b.train, b.decls, b.files) || !check_ranks(b.test, b.decls, test_files)) return false;
  const bool f32 = args.precision == "f32";
  if (!check_supports(b.train, b.decls, b.files, f32) || !check_supports(b.test, b.decls, test_files, f32)) {
    return false;
  }
  for (const auto& [name, a] : b.train) args.data_shapes[name] = a.shape;
  if (!need_train && b.train.empty()) {
    for (const auto& [name, a] : b.test) args.data_shapes[name] = a.shape;
  }
  args.errors_only = true;  // the first compile showed the model's warnings and notes
  if (!while_doing("compiling " + args.model_path, [&] { return compile_model(b.fe, args, Stage::Native); }))
    return false;
  if (!fits_in_memory(b, args.model_path, args.threads, args.optimizer_slots)) return false;
  if (!check_indices(*b.fe.lowered, *b.fe.model, b.train, b.files)) return false;
  if (!check_indices(*b.fe.lowered, *b.fe.model, b.test, test_files)) return false;
  return true;
}

bool load_data(ModelArgs& args, const DataArgs& data, runtime::Arrays& out) {
  std::vector<DataDecl> decls;
  {
    FrontEnd first;
    if (!compile_model(first, args, Stage::Check)) return false;
    decls = data_decls(*first.model);
  }
  std::map<std::string, std::string> files;
  if (!load_arrays(data.data, decls, data.raw_pixels, "--data", out, files)) return false;
  if (!check_ranks(out, decls, files) || !check_supports(out, decls, files, false)) return false;
  for (const auto& [name, a] : out) args.data_shapes[name] = a.shape;
  return true;
}

double learning_rate(const Bound& b, const runtime::Optimizer& optimizer, std::optional<double> given) {
  const auto& sizes = b.fe.lowered->sizes;
  bool subsampled = std::any_of(sizes.begin(), sizes.end(), [](const auto& kv) { return kv.first != kv.second; });
  return given.value_or(optimizer.default_lr * (subsampled ? 1 : 10));
}

std::unique_ptr<files::OutputLock> prepare_output_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    error(dir, "cannot create the output directory: " + (ec ? ec.message() : "not a directory"));
    return nullptr;
  }
  {
    // A probe through the same path the results take (a private temporary, never committed).
    files::AtomicFile probe(dir + "/write-test");
    if (!probe.file()) {
      error(dir, "cannot write in the output directory: " + probe.problem());
      return nullptr;
    }
  }
  auto lock = std::make_unique<files::OutputLock>(dir);
  if (lock->contended()) {
    error(dir, lock->problem());
    return nullptr;
  }
  // A file system that cannot lock does not stop the run: it only loses the guard.
  if (!lock->held()) std::cerr << "warning: " << dir << ": " << lock->problem() << " (the run goes on unguarded)\n";
  // Ours alone now: what a killed run left half-written goes (the files it replaced are whole).
  files::remove_stale_temporaries(dir);
  return lock;
}

bool budget_steps(std::int64_t steps, double epochs, double steps_per_epoch, std::int64_t& out, bool report) {
  if (steps > 0) {
    out = steps;
    return true;
  }
  if (!(epochs > 0)) {
    out = 2000;
    return true;
  }
  const double total = std::ceil(epochs * steps_per_epoch);
  if (!(total <= static_cast<double>(vmc::kNoiseMaxStep))) {
    if (report) {
      char text[200];
      std::snprintf(text, sizeof text, "%g epochs of %g step%s are %.3g steps, more than the 2^38 = %llu a fit can take",
                    epochs, steps_per_epoch, steps_per_epoch == 1 ? "" : "s", total,
                    static_cast<unsigned long long>(vmc::kNoiseMaxStep));
      error("--epochs", text);
    }
    return false;
  }
  out = std::max<std::int64_t>(1, static_cast<std::int64_t>(total));
  return true;
}

void note_batch_ignored(const std::vector<std::string>& batch, const std::string& primary_dim,
                        std::int64_t datapoints) {
  if (batch.empty() || !primary_dim.empty()) return;
  std::string given;
  for (const std::string& b : batch) given += (given.empty() ? "" : " ") + b;
  std::cerr << "note: --batch " << given << " is ignored: the model has no subsampled plate, so every step takes all "
            << datapoints << " datapoints\n";
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

}  // namespace vmc::driver

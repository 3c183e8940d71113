// The host API (compiler/api/include/vmc/vmc.hpp) over the compiler's stages and the runtime.
#include "vmc/vmc.hpp"

#include <sstream>

#include "lower/synthetic.hpp"
#include "pipeline/pipeline.hpp"
#include "vmc/fit.hpp"
#include "vmc/philox.hpp"
#include "vmc/trainer.hpp"

namespace vmc {
namespace {

// vmc::Estimator's values are the registry's entries in order (lower/estimator.hpp); any other
// value is an error, never a silent default.
const lower::Estimator& lowered(Estimator e) {
  const std::vector<lower::Estimator>& all = lower::estimators();
  auto i = static_cast<std::size_t>(e);
  if (i >= all.size()) {
    throw Error("unknown estimator (vmc::Estimator value " + std::to_string(i) + "); the estimators are " +
                lower::estimator_list());
  }
  return all[i];
}

[[noreturn]] void fail(const Diagnostics& diags) {
  std::ostringstream out;
  render(out, diags);
  throw Error(out.str());
}

// Images stored as [N, rows, cols] for a data block that reads [N, D].
std::map<std::string, data::Array> shaped(const Data& d, const sema::Model& m) {
  std::map<std::string, data::Array> out = d.arrays;
  for (const sema::Variable& v : m.data) {
    auto it = out.find(v.name);
    if (it != out.end() && v.type.shape.size() == 2 && it->second.shape.size() > 2) {
      it->second = data::flatten_rows(std::move(it->second));
    }
  }
  return out;
}

}  // namespace

struct Model::Impl {
  pipeline::Compilation checked;  // without data: names, roles
  CompileOptions options;
  // One compilation of the parsed program (shared) per estimator, samples, kernels and data shapes.
  std::map<std::string, std::unique_ptr<pipeline::Compilation>> cache;

  pipeline::Compilation& compile(const std::map<std::string, data::Array>& arrays, Estimator estimator, int samples,
                                 const std::vector<std::string>& kernels) {
    std::string key = std::to_string(static_cast<int>(estimator)) + "/" + std::to_string(samples);
    for (const std::string& k : kernels) key += "/" + k;
    pipeline::Request r = request(options);
    r.estimator = &lowered(estimator);
    r.samples = samples;
    r.kernels = kernels;
    for (const auto& [name, a] : arrays) {
      r.data_shapes[name] = a.shape;
      for (std::int64_t e : a.shape) key += "," + std::to_string(e);
      key += ";" + name;
    }
    auto& slot = cache[key];
    if (slot) return *slot;
    auto c = std::make_unique<pipeline::Compilation>();
    c->source = checked.source;
    if (!pipeline::compile(*c, r, pipeline::Stage::Native)) fail(c->diags);
    slot = std::move(c);
    return *slot;
  }

  // The compile options as the pipeline's request (estimator and kernels aside).
  static pipeline::Request request(const CompileOptions& o) {
    pipeline::Request r;
    r.dims = o.dims;
    r.auto_guide = o.guide;
    r.precision = o.f64 ? codegen::Precision::F64 : codegen::Precision::F32;
    return r;
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const std::string& Model::name() const { return impl_->checked.model->name; }

static Model make(std::unique_ptr<Model::Impl> impl, const CompileOptions& options) {
  impl->options = options;
  if (!pipeline::compile(impl->checked, Model::Impl::request(options), pipeline::Stage::Check)) fail(impl->checked.diags);
  return Model(std::move(impl));
}

Model compile_file(const std::string& path, const CompileOptions& options) {
  auto impl = std::make_unique<Model::Impl>();
  if (!pipeline::load_file(impl->checked, path)) fail(impl->checked.diags);
  return make(std::move(impl), options);
}

Model compile_string(const std::string& source, const std::string& name, const CompileOptions& options) {
  auto impl = std::make_unique<Model::Impl>();
  pipeline::load_text(impl->checked, name, source);
  return make(std::move(impl), options);
}

Data load_idx(const std::string& path, const std::string& name, bool raw) { return data::load_idx(path, name, raw); }
Data load_csv(const std::string& path, const std::string& name) { return data::load_csv(path, name); }
Data load_npy(const std::string& path, const std::string& name, bool raw) { return data::load_npy(path, name, raw); }
Data embedded_digits(const std::string& name) { return data::embedded_digits(name); }
Data load_json(const std::string& path) {
  Data d;
  for (data::Array& a : data::load_json(path)) d.add(std::move(a));
  return d;
}

Values Model::initial_params(const Data& data, std::uint64_t seed) {
  auto arrays = shaped(data, *impl_->checked.model);
  auto& c = impl_->compile(arrays, impl_->options.estimator, impl_->options.samples, {"elbo_grad"});
  return lower::initial_params(*c.lowered, seed);
}

static ir::Bindings bindings(const pipeline::Compilation& c, const std::map<std::string, data::Array>& arrays,
                             const Values& params, const Values* noise, std::uint64_t seed, std::uint64_t step) {
  ir::Bindings b;
  const vmc_model_info& info = c.compiled->info();
  // Sizes from the data: every run-time dim; each minibatch is the whole batch given.
  for (int i = 0; i < info.n_inputs; ++i) {
    const vmc_buffer_info& in = info.inputs[i];
    if (in.kind != VMC_DATA) continue;
    auto it = arrays.find(in.name);
    if (it == arrays.end()) throw Error(std::string("no data named '") + in.name + "' given");
    if (static_cast<int>(it->second.shape.size()) != in.rank) throw Error(std::string("data '") + in.name + "' has the wrong rank");
    for (int k = 0; k < in.rank; ++k) {
      if (in.extents[k] < 0) {
        const std::string sym = info.sizes[-in.extents[k] - 1];
        b.sizes[sym] = it->second.shape[k];
        b.sizes[info.size_dims[-in.extents[k] - 1]] = it->second.shape[k];
      }
    }
  }
  for (int s = 0; s < info.n_sizes; ++s) {
    if (!b.sizes.count(info.sizes[s])) b.sizes[info.sizes[s]] = b.sizes.count(info.size_dims[s]) ? b.sizes[info.size_dims[s]] : 1;
  }
  std::uint32_t site = 0;
  for (int i = 0; i < info.n_inputs; ++i) {
    const vmc_buffer_info& in = info.inputs[i];
    std::vector<std::int64_t> shape;
    for (int k = 0; k < in.rank; ++k) shape.push_back(in.extents[k] >= 0 ? in.extents[k] : b.sizes.at(info.sizes[-in.extents[k] - 1]));
    ir::Tensor t{shape, {}};
    std::size_t count = static_cast<std::size_t>(t.size());
    switch (in.kind) {
      case VMC_PARAM: {
        auto it = params.find(in.name);
        if (it == params.end() || it->second.size() != count) throw Error(std::string("param '") + in.name + "' missing or of the wrong size");
        t.values = it->second;
        break;
      }
      case VMC_DATA: t.values = arrays.at(in.name).values; break;
      case VMC_INDEX: {
        t.values.resize(count);
        for (std::size_t k = 0; k < count; ++k) t.values[k] = static_cast<double>(k);
        break;
      }
      case VMC_SIZE: t.values = {static_cast<double>(b.sizes.count(in.name) ? b.sizes.at(in.name) : 1)}; break;
      default: {  // noise
        std::uint32_t my_site = site++;
        if (noise) {
          auto it = noise->find(in.name);
          if (it == noise->end() || it->second.size() != count) throw Error(std::string("noise '") + in.name + "' missing or of the wrong size");
          t.values = it->second;
        } else {
          t.values.resize(count);
          if (count > 0) {
            if (in.kind == VMC_UNIFORM) fill_uniform(seed, step, my_site, 0, 1, static_cast<std::int64_t>(count), t.values.data());
            else fill_normal(seed, step, my_site, 0, 1, static_cast<std::int64_t>(count), t.values.data());
          }
        }
      }
    }
    b.inputs[in.name] = std::move(t);
  }
  return b;
}

Values Model::draw_noise(const Data& batch, std::uint64_t seed, std::uint64_t step) {
  auto arrays = shaped(batch, *impl_->checked.model);
  auto& c = impl_->compile(arrays, impl_->options.estimator, impl_->options.samples, {"elbo_grad"});
  Values out;
  ir::Bindings b = bindings(c, arrays, lower::initial_params(*c.lowered, 1), nullptr, seed, step);
  for (const lower::NoiseInput& n : c.lowered->noise) out[n.node->attrs().name] = b.inputs.at(n.node->attrs().name).values;
  return out;
}

double Model::elbo_and_grad(const Values& params, const Data& batch, const Values& noise, Values& grad) {
  auto arrays = shaped(batch, *impl_->checked.model);
  auto& c = impl_->compile(arrays, impl_->options.estimator, impl_->options.samples, {"elbo_grad"});
  std::vector<ir::Tensor> out = c.compiled->run("elbo_grad", bindings(c, arrays, params, &noise, 0, 0));
  grad.clear();
  for (std::size_t k = 0; k < c.lowered->params.size(); ++k) grad[c.lowered->params[k].name] = out[k + 1].values;
  return out[0].item();
}

struct FitAccess {
  static Model::Impl& impl(Model& m) { return *m.impl_; }
};

FitResult fit(Model& model, const Data& data, const FitOptions& o) {
  Model::Impl& impl = FitAccess::impl(model);
  auto arrays = shaped(data, *impl.checked.model);
  auto& c = impl.compile(arrays, o.estimator, o.samples, {"elbo_grad"});
  runtime::TrainerOptions t;
  t.seed = o.seed;
  t.threads = o.threads;
  t.default_batch = o.batch;
  t.lr = o.lr;
  t.clip_grad = o.clip_grad;
  try {
    t.optimizer = o.optimizer.empty() ? &runtime::default_optimizer() : &runtime::optimizer_named(o.optimizer);
    runtime::Trainer trainer(c.compiled->info(), arrays, lower::initial_params(*c.lowered, o.seed), t);
    runtime::FitHistory history;
    runtime::LoopOptions lo;
    lo.steps = o.steps;
    lo.quiet = true;
    std::ostringstream log;
    runtime::LoopResult r = runtime::run_fit(trainer, history, lo, log);
    FitResult result;
    result.steps = trainer.steps_done();
    result.final_elbo_per_datapoint = r.final_smoothed;
    result.fit_s = r.fit_s;
    result.datapoints_per_s = r.fit_s > 0 ? static_cast<double>(r.datapoints_this_session) / r.fit_s : 0;
    for (const runtime::TraceRow& row : history.trace) result.trace.push_back(row.elbo);
    for (const std::string& n : trainer.param_names()) result.params[n] = trainer.param(n);
    return result;
  } catch (const runtime::RuntimeError& e) {
    throw Error(e.what());
  } catch (const std::invalid_argument& e) {
    throw Error(e.what());
  }
}

}  // namespace vmc

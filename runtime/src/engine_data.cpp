// Engine<T>: construction, binding data to the model's inputs, one kernel call.
#include "engine.hpp"

#include <optional>

namespace vmc::runtime::detail {

template <typename T>
Engine<T>::Engine(const vmc_model_info& model, Arrays data, const std::map<std::string, std::vector<double>>& init,
                  const TrainerOptions& o)
    : pool_(std::max(1, o.threads)) {
  info = &model;
  options = o;
  options.threads = std::max(1, o.threads);
  const vmc_model_info& m = *info;
  // Subsampled dims: the dims some size symbol is the minibatch of.
  for (int s = 0; s < m.n_sizes; ++s) {
    if (!is_batch_symbol(m, s)) continue;
    Minibatches::Plate sub;
    sub.dim = m.size_dims[s];
    sub.symbol = s;
    batches_.plates.push_back(sub);
  }
  train_ = bind(data, "");
  for (Minibatches::Plate& sub : batches_.plates) {
    // A dim no data input gives (a kernel set that reads no data, such as sample_model's)
    // has no rows to train on; sampling gives it its own rows.
    sub.n = train_.dims.count(sub.dim) ? train_.dims.at(sub.dim) : 0;
    auto b = options.batch.find(sub.dim);
    std::int64_t want = b != options.batch.end() ? b->second : options.default_batch;
    if (want <= 0) throw RuntimeError("--batch " + sub.dim + "=" + std::to_string(want) + ": must be positive");
    sub.m = std::min(want, sub.n);
    sub.batches = sub.m > 0 ? (sub.n + sub.m - 1) / sub.m : 1;
    sub.site = static_cast<std::uint64_t>(fnv1a(sub.dim, 0x5eed));
  }
  for (const auto& entry : options.batch) {
    const std::string& dim = entry.first;  // a named variable, not a binding: lambdas capture it (Clang < 16)
    const std::int64_t m = entry.second;
    bool known = std::any_of(batches_.plates.begin(), batches_.plates.end(), [&](const Minibatches::Plate& sub) { return sub.dim == dim; });
    if (!known) {
      std::string dims;
      for (const Minibatches::Plate& sub : batches_.plates) dims += (dims.empty() ? "" : ", ") + sub.dim;
      throw RuntimeError("--batch " + dim + "=" + std::to_string(m) + ": the model has no subsampled plate over '" +
                         dim + "' (" + (dims.empty() ? std::string("it has none") : "its subsampled dims: " + dims) + ")");
    }
  }
  // The primary plate: the largest (its rows are split across threads; the bound is per its
  // datapoints).
  batches_.primary = -1;
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    if (batches_.primary < 0 || batches_.plates[j].n > batches_.plates[batches_.primary].n) batches_.primary = static_cast<int>(j);
  }
  if (batches_.primary >= 0) {
    const Minibatches::Plate& p = batches_.plates[batches_.primary];
    primary = p.dim;
    primary_batch = p.m;
    steps_per_epoch = p.batches;
    datapoints = p.n;
  } else {
    // No subsampled plate: per row of the largest data array (an HMM's observations, not its
    // first small array), named so that the fit can say what the bound is divided by.
    datapoints = 1;
    std::int64_t largest = 0;
    for (int i = 0; i < m.n_inputs; ++i) {
      const vmc_buffer_info& b = m.inputs[i];
      if (b.kind != VMC_DATA || b.rank == 0) continue;
      const std::vector<std::int64_t>& shape = train_.shapes.at(b.name);
      std::int64_t size = 1;
      for (std::int64_t e : shape) size *= e;
      if (size > largest) {
        largest = size;
        datapoints = std::max<std::int64_t>(1, shape[0]);
        datapoints_of = b.name;
      }
    }
  }
  // Params and the optimizer's state.
  params_.resize(m.n_inputs);
  moments_.resize(m.n_inputs);
  for (int i = 0; i < m.n_inputs; ++i) {
    const vmc_buffer_info& b = m.inputs[i];
    if (b.kind != VMC_PARAM) continue;
    std::size_t count = 1;
    std::vector<std::int64_t> shape;
    for (int k = 0; k < b.rank; ++k) {
      if (b.extents[k] < 0) throw RuntimeError(std::string("param '") + b.name + "' has a run-time extent");
      count *= static_cast<std::size_t>(b.extents[k]);
      shape.push_back(b.extents[k]);
    }
    auto it = init.find(b.name);
    if (it == init.end()) throw RuntimeError(std::string("no initial values for param '") + b.name + "'");
    if (it->second.size() != count) {
      throw RuntimeError(std::string("initial values for param '") + b.name + "': " +
                         std::to_string(it->second.size()) + " values for shape " + shape_text(shape));
    }
    params_[i].resize(count);
    for (std::size_t k = 0; k < count; ++k) params_[i].data[k] = static_cast<T>(it->second[k]);
    moments_[i].resize(static_cast<std::size_t>(options.optimizer->slots));
    for (Aligned<T>& mom : moments_[i]) {
      mom.resize(count);
      mom.zero();
    }
    param_inputs_.push_back(i);
  }
  grad_kernel_ = find_kernel("elbo_grad");
  if (grad_kernel_) {
    for (int o = 1; o < grad_kernel_->n_outputs; ++o) {
      std::string name = grad_kernel_->outputs[o].name;
      int input = -1;
      for (int i : param_inputs_) {
        if (name == std::string("grad.") + m.inputs[i].name) input = i;
      }
      if (input < 0) throw RuntimeError("elbo_grad output '" + name + "' names no param");
      grad_of_.push_back(input);
    }
  }
  slots_.resize(options.threads + 1);  // one per thread, one for the rows-free part
  step_specs_.resize(options.threads + 1);
  barrier_.set_size(options.threads);
  step_sumsq_.assign(options.threads, 0.0);
  step_bad_.resize(options.threads);
  deferred_.resize(options.threads + 1);
  plans_.resize(options.threads);
  step_errors_.resize(options.threads);
  part_bounds_.resize(options.threads);
  step_terms_.resize(options.threads);
  step_blocks_.resize(options.threads);
  for (auto& terms : step_terms_) terms.reserve(static_cast<std::size_t>(options.threads));
  if (options.collective && options.collective->size() > 1) setup_ranks();
  if (batches_.primary >= 0 && !shards_.distributed) {
    const std::string& dim = batches_.plates[static_cast<std::size_t>(batches_.primary)].dim;
    for (int i = 0; i < m.n_inputs; ++i) {
      const vmc_buffer_info& b = m.inputs[i];
      auto it = train_.reals.find(b.name);
      if (b.kind != VMC_DATA || b.is_int || dim != b.role || it == train_.reals.end()) continue;
      const std::vector<std::int64_t>& shape = train_.shapes.at(b.name);
      std::size_t row = 1;
      for (std::size_t d = 1; d < shape.size(); ++d) row *= static_cast<std::size_t>(shape[d]);
      prefetch_.push_back({it->second.data(), row});
    }
  }
}

template <typename T>
Dataset<T> Engine<T>::bind(const Arrays& arrays, const std::string& what) const {
  const vmc_model_info& m = *info;
  Dataset<T> ds;
  auto set_dim = [&](const std::string& dim, std::int64_t v, const std::string& array) {
    auto [it, fresh] = ds.dims.emplace(dim, v);
    if (!fresh && it->second != v) {
      throw RuntimeError(what + "data '" + array + "' has " + std::to_string(v) + " along dim " + dim +
                         ", but other data give " + dim + " = " + std::to_string(it->second));
    }
  };
  for (int i = 0; i < m.n_inputs; ++i) {
    const vmc_buffer_info& b = m.inputs[i];
    if (b.kind != VMC_DATA) continue;
    auto found = arrays.find(b.name);
    if (found == arrays.end()) {
      throw RuntimeError(what + "the model reads data '" + std::string(b.name) +
                         "' but none was given (bind it with --data " + b.name + "=PATH)");
    }
    const data::Array& a = found->second;
    std::string declared = "[";
    for (int k = 0; k < b.rank; ++k) {
      std::int64_t e = b.extents[k];
      declared += (k ? ", " : "") + (e >= 0 ? std::to_string(e) : std::string(m.size_dims[-e - 1]));
    }
    declared += "]";
    if (static_cast<int>(a.shape.size()) != b.rank) {
      throw RuntimeError(what + "data '" + a.name + "' has shape " + shape_text(a.shape) +
                         " but the model declares " + declared);
    }
    for (int k = 0; k < b.rank; ++k) {
      std::int64_t e = b.extents[k];
      if (e >= 0 && a.shape[k] != e) {
        throw RuntimeError(what + "data '" + a.name + "' has shape " + shape_text(a.shape) +
                           " but the model declares " + declared);
      }
      if (e < 0) set_dim(m.size_dims[-e - 1], a.shape[k], a.name);
    }
    ds.shapes[a.name] = a.shape;
    if (b.is_int) {
      std::vector<std::int64_t>& v = ds.ints[a.name];
      v.resize(a.values.size());
      for (std::size_t k = 0; k < v.size(); ++k) {
        double x = a.values[k];
        if (x != std::trunc(x) || std::abs(x) > 9.0e15) {
          throw RuntimeError(what + "data '" + a.name + "' must hold integers; element " +
                             std::to_string(k) + " is " + std::to_string(x));
        }
        v[k] = static_cast<std::int64_t>(x);
      }
    } else {
      std::vector<T>& v = ds.reals[a.name];
      v.resize(a.values.size());
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (!std::isfinite(a.values[k])) {
          throw RuntimeError(what + "data '" + a.name + "' element " + std::to_string(k) + " is not finite");
        }
        v[k] = static_cast<T>(a.values[k]);
      }
    }
  }
  return ds;
}

template <typename T>
void Engine<T>::call(const vmc_kernel_info& k, Slot& slot, const Dataset<T>& ds, const CallSpec& spec,
                     vmc_context* context) const {
  const vmc_model_info& m = *info;
  StepObserver* const observer = context ? context->observer : nullptr;
  const int thread = context ? context->thread : 0;
  std::optional<PhaseTimer> gathering;
  gathering.emplace(observer, thread, StepPhases::Gather);
  slot.sizes.resize(m.n_sizes);
  for (int s = 0; s < m.n_sizes; ++s) {
    int j = batches_.of_symbol(s);
    slot.sizes[s] = j >= 0 ? static_cast<std::int64_t>(spec.rows[j].size()) : dim_value(ds, m.size_dims[s]);
  }
  slot.inputs.resize(m.n_inputs);
  slot.reals.resize(m.n_inputs);
  slot.ints.resize(m.n_inputs);
  std::uint32_t noise_site = 0;
  for (int i = 0; i < m.n_inputs; ++i) {
    const vmc_buffer_info& b = m.inputs[i];
    if (k.reads && !k.reads[i]) {
      // Not read by this kernel (another kernel's noise, data a sampler does not need): no
      // buffer, no draws. The site number stays the input's own.
      if (b.kind == VMC_NOISE || b.kind == VMC_UNIFORM) ++noise_site;
      slot.inputs[i] = nullptr;
      continue;
    }
    switch (b.kind) {
      case VMC_PARAM: slot.inputs[i] = params_[i].data; break;
      case VMC_DATA: {
        int j = *b.role ? sub_of_dim(b.role) : -1;
        if (j < 0) {
          slot.inputs[i] = b.is_int ? static_cast<const void*>(ds.ints.at(b.name).data())
                                    : static_cast<const void*>(ds.reals.at(b.name).data());
          break;
        }
        const std::vector<std::int64_t>& shape = ds.shapes.at(b.name);
        std::size_t row = 1;
        for (std::size_t d = 1; d < shape.size(); ++d) row *= static_cast<std::size_t>(shape[d]);
        // A rank's slice of the minibatch was fetched into spec.local: gather from there.
        const bool fetched = spec.local && j == batches_.primary;
        const Dataset<T>& from = fetched ? *spec.local : ds;
        std::span<const std::int64_t> rows = fetched ? spec.local_rows : spec.rows[j];
        if (b.is_int) {
          const std::vector<std::int64_t>& src = from.ints.at(b.name);
          std::vector<std::int64_t>& dst = slot.ints[i];
          dst.resize(std::max<std::size_t>(1, rows.size() * row));
          for (std::size_t r = 0; r < rows.size(); ++r) {
            std::copy_n(src.data() + rows[r] * row, row, dst.data() + r * row);
          }
          slot.inputs[i] = dst.data();
        } else {
          const std::vector<T>& src = from.reals.at(b.name);
          Aligned<T>& dst = slot.reals[i];
          dst.resize(rows.size() * row);
          for (std::size_t r = 0; r < rows.size(); ++r) {
            std::memcpy(dst.data + r * row, src.data() + rows[r] * row, row * sizeof(T));
          }
          slot.inputs[i] = dst.data;
        }
        break;
      }
      case VMC_INDEX: {
        int j = sub_of_dim(b.role);
        std::vector<std::int64_t>& dst = slot.ints[i];
        dst.assign(spec.rows[j].begin(), spec.rows[j].end());
        if (dst.empty()) dst.push_back(0);
        slot.inputs[i] = dst.data();
        break;
      }
      case VMC_SIZE: {
        Aligned<T>& dst = slot.reals[i];
        dst.resize(1);
        int s = symbol_named(b.name);
        int j = s >= 0 ? batches_.of_symbol(s) : -1;
        std::int64_t v = j >= 0 ? spec.batch[j] : dim_value(ds, s >= 0 ? m.size_dims[s] : b.name);
        dst.data[0] = static_cast<T>(v);
        slot.inputs[i] = dst.data;
        break;
      }
      case VMC_WEIGHT: {
        std::size_t count = 1;
        for (int d = 0; d < b.rank; ++d) count *= static_cast<std::size_t>(extent(b.extents[d], slot.sizes));
        if (!spec.weights || spec.n_weights != count) {
          throw RuntimeError(std::string("the importance weights '") + b.name + "' were not given for " +
                             std::to_string(count) + " rows");
        }
        slot.inputs[i] = spec.weights;
        break;
      }
      case VMC_NOISE:
      case VMC_UNIFORM: {
        std::uint32_t site = noise_site++;
        Aligned<T>& dst = slot.reals[i];
        std::size_t count = 1;
        for (int d = 0; d < b.rank; ++d) count *= static_cast<std::size_t>(extent(b.extents[d], slot.sizes));
        dst.resize(count);
        slot.inputs[i] = dst.data;
        if (spec.fixed) {
          auto f = spec.fixed->find(b.name);
          if (f != spec.fixed->end()) {
            if (f->second.size() != count) {
              throw RuntimeError(std::string("fixed values for '") + b.name + "': " +
                                 std::to_string(f->second.size()) + " given, " + std::to_string(count) + " needed");
            }
            for (std::size_t e = 0; e < count; ++e) dst.data[e] = static_cast<T>(f->second[e]);
            break;
          }
        }
        fill_noise(b, site, spec, slot.sizes, dst.data, count);
        break;
      }
      default: throw RuntimeError(std::string("input '") + b.name + "' has an unknown kind");
    }
  }
  slot.outputs.resize(k.n_outputs);
  slot.outs.resize(k.n_outputs);
  slot.out_shapes.resize(k.n_outputs);
  for (int o = 0; o < k.n_outputs; ++o) {
    const vmc_buffer_info& b = k.outputs[o];
    std::size_t count = 1;
    slot.out_shapes[o].clear();
    for (int d = 0; d < b.rank; ++d) {
      std::int64_t e = extent(b.extents[d], slot.sizes);
      slot.out_shapes[o].push_back(e);
      count *= static_cast<std::size_t>(e);
    }
    slot.outs[o].resize(count);
    slot.outputs[o] = slot.outs[o].data;
  }
  slot.workspace.resize(static_cast<std::size_t>(k.workspace_bytes(slot.sizes.data())));
  gathering.reset();
  // The kernel's time, its products' included (time_step_phases takes them out of it).
  PhaseTimer kernel(observer, thread, StepPhases::Elementwise);
  k.entry(slot.inputs.data(), slot.sizes.data(), slot.outputs.data(), slot.workspace.data, context);
}

template <typename T>
void Engine<T>::fill_noise(const vmc_buffer_info& b, std::uint32_t site, const CallSpec& spec,
                           const std::vector<std::int64_t>& sizes, T* out, std::size_t count) const {
  const std::uint64_t seed = sample_seed(options.seed, spec.noise_sample);
  bool uniform = b.kind == VMC_UNIFORM;
  int j = -1;
  if (b.rank > 0 && b.extents[0] < 0) j = batches_.of_symbol(static_cast<int>(-b.extents[0] - 1));
  if (j >= 0) {
    // One row per datapoint, keyed by its index in the data: the same noise whichever
    // thread or batch position draws it.
    std::span<const std::int64_t> rows = spec.rows[j];
    std::size_t row = rows.empty() ? 0 : count / rows.size();
    for (std::size_t r = 0; r < rows.size(); ++r) {
      auto index = static_cast<std::uint64_t>(rows[r]);
      if (uniform) fill_uniform(seed, spec.noise_step, site, index, 1, static_cast<std::int64_t>(row), out + r * row);
      else fill_normal(seed, spec.noise_step, site, index, 1, static_cast<std::int64_t>(row), out + r * row);
    }
    return;
  }
  std::int64_t rows = b.rank > 0 ? extent(b.extents[0], sizes) : 1;
  std::int64_t row = rows > 0 ? static_cast<std::int64_t>(count) / rows : 0;
  if (rows == 0 || row == 0) return;
  if (uniform) fill_uniform(seed, spec.noise_step, site, 0, rows, row, out);
  else fill_normal(seed, spec.noise_step, site, 0, rows, row, out);
}

template <typename T>
void Engine<T>::prefetch_next_rows(int t, int parts) {
  // The next step's rows of the data batched over the primary plate are scattered over the
  // whole array (a shuffled epoch): asked for at the end of this step, they are on their way
  // before the next step's gather reads them (it took 75 us a step without, ~65 with, at 1
  // thread: vmc bench -v). Only within the epoch (the next one's shuffle
  // is drawn when it starts) and in one process (ranks fetch theirs from other ranks).
  if (batches_.primary < 0 || shards_.distributed || prefetch_.empty()) return;
  const Minibatches::Plate& s = batches_.plates[static_cast<std::size_t>(batches_.primary)];
  const std::int64_t next = steps + 1;
  if (s.batches <= 0 || next / s.batches != s.perm_epoch || s.perm.empty()) return;
  const std::int64_t begin = next % s.batches * s.m, end = std::min(s.n, begin + s.m);
  if (end <= begin) return;
  auto [lo, hi] = part(static_cast<std::size_t>(end - begin), parts, std::min(t, parts - 1));
  if (t >= parts) return;
  for (std::size_t r = lo; r < hi; ++r) {
    const std::int64_t row = s.perm[static_cast<std::size_t>(begin) + r];
    for (const Prefetch& in : prefetch_) {
      // Every cache line the row touches, from the one its first byte is in (a row need not
      // start on a line: every 64 bytes from its start would miss the last one).
      const auto at = reinterpret_cast<std::uintptr_t>(in.data + static_cast<std::size_t>(row) * in.row);
      for (std::uintptr_t line = at & ~std::uintptr_t{63}; line < at + in.row * sizeof(T); line += 64) {
        __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 2);
      }
    }
  }
}

// The members defined here, for both precisions.
template Engine<float>::Engine(const vmc_model_info& model, Arrays data, const std::map<std::string, std::vector<double>>& init,
                               const TrainerOptions& o);
template Engine<double>::Engine(const vmc_model_info& model, Arrays data, const std::map<std::string, std::vector<double>>& init,
                                const TrainerOptions& o);
template Dataset<float> Engine<float>::bind(const Arrays& arrays, const std::string& what) const;
template Dataset<double> Engine<double>::bind(const Arrays& arrays, const std::string& what) const;
template void Engine<float>::call(const vmc_kernel_info& k, Slot& slot, const Dataset<float>& ds,
                                    const CallSpec& spec, vmc_context* context) const;
template void Engine<double>::call(const vmc_kernel_info& k, Slot& slot, const Dataset<double>& ds,
                                    const CallSpec& spec, vmc_context* context) const;
template void Engine<float>::fill_noise(const vmc_buffer_info& b, std::uint32_t site, const CallSpec& spec,
                                        const std::vector<std::int64_t>& sizes, float* out, std::size_t count) const;
template void Engine<double>::fill_noise(const vmc_buffer_info& b, std::uint32_t site, const CallSpec& spec,
                                         const std::vector<std::int64_t>& sizes, double* out, std::size_t count) const;

template void Engine<float>::prefetch_next_rows(int t, int parts);
template void Engine<double>::prefetch_next_rows(int t, int parts);

}  // namespace vmc::runtime::detail

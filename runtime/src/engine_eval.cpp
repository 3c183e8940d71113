// Engine<T>: evaluation on held-out data, importance weighting, gradient noise and sampling
// kernels (vmc bench's timings are engine_bench.cpp).
#include <algorithm>

#include "engine.hpp"

namespace vmc::runtime::detail {

template <typename T>
double Engine<T>::evaluate(const Arrays& arrays, const std::string& name, std::uint64_t stream,
                           std::int64_t batch) {
  const vmc_kernel_info& k = kernel(name);
  Dataset<T> ds = bind(arrays, "test ");
  const int threads = options.threads;
  std::vector<std::vector<std::int64_t>> all(batches_.plates.size());
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    all[j] = first_rows(dim_value(ds, batches_.plates[j].dim));
  }
  std::int64_t n = batches_.primary >= 0 ? static_cast<std::int64_t>(all[batches_.primary].size()) : 1;
  std::int64_t per = batches_.primary >= 0 ? (batch > 0 ? batch : primary_batch) : 1;
  std::int64_t batches = batches_.primary >= 0 ? (n + per - 1) / per : 1;
  if (n == 0) throw RuntimeError("test data has no rows");
  std::vector<double> values(static_cast<std::size_t>(batches), 0.0);
  std::vector<Slot> slots(threads);
  pool_.run([&](int t) {
    for (std::int64_t b = t; b < batches; b += threads) {
      CallSpec spec;
      spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(b));
      for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
        std::span<const std::int64_t> rows(all[j]);
        if (static_cast<int>(j) == batches_.primary) {
          std::int64_t begin = b * per, end = std::min(n, begin + per);
          rows = rows.subspan(begin, end - begin);
        }
        spec.rows.push_back(rows);
        spec.batch.push_back(static_cast<std::int64_t>(rows.size()));
      }
      vmc_context context_t = context(t);
      call_estimate(k, slots[t], ds, spec, &context_t);
      // Each batch estimates the whole bound (scaled N/M_b): weight by its share of rows.
      double share = batches_.primary >= 0 ? static_cast<double>(spec.batch[batches_.primary]) / n : 1.0;
      values[b] = share * static_cast<double>(slots[t].outs[0].data[0]);
    }
  });
  double total = 0;
  for (double v : values) total += v;
  std::int64_t per_datapoint = batches_.primary >= 0 ? n : test_datapoints(ds);
  return total / static_cast<double>(per_datapoint);
}

template <typename T>
std::int64_t Engine<T>::test_datapoints(const Dataset<T>& ds) const {
  for (int i = 0; i < info->n_inputs; ++i) {
    const vmc_buffer_info& b = info->inputs[i];
    if (b.kind == VMC_DATA && b.rank > 0) return std::max<std::int64_t>(1, ds.shapes.at(b.name)[0]);
  }
  return 1;
}

template <typename T>
std::vector<double> Engine<T>::whole_data_draws(const std::string& name, std::int64_t count,
                                                std::uint64_t stream) {
  require_whole_data("drawing the bound on all of the data");
  const vmc_kernel_info& k = kernel(name);
  const int threads = options.threads;
  std::vector<std::vector<std::int64_t>> all(batches_.plates.size());
  CallSpec base;
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    all[j] = first_rows(batches_.plates[j].n);
    base.rows.push_back(all[j]);
    base.batch.push_back(batches_.plates[j].n);
  }
  std::vector<double> out(static_cast<std::size_t>(count));
  std::vector<Slot> slots(threads);
  pool_.run([&](int t) {
    for (std::int64_t c = t; c < count; c += threads) {
      CallSpec spec = base;
      spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(c));
      vmc_context context_t = context(t);
      call_estimate(k, slots[t], train_, spec, &context_t);
      out[c] = static_cast<double>(slots[t].outs[0].data[0]);
    }
  });
  return out;
}

template <typename T>
std::vector<GradientNoise> Engine<T>::gradient_noise(std::int64_t draws, std::uint64_t stream) {
  require_whole_data("measuring the gradient noise");
  if (draws < 2) throw RuntimeError("the gradient's variance needs at least 2 draws");
  const vmc_kernel_info& k = kernel("elbo_grad");
  const int threads = options.threads;
  CallSpec base;
  std::vector<std::vector<std::int64_t>> first(batches_.plates.size());
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    first[j] = first_rows(std::min(batches_.plates[j].m, batches_.plates[j].n));
    base.rows.push_back(first[j]);
    base.batch.push_back(static_cast<std::int64_t>(first[j].size()));
  }
  const int n_out = k.n_outputs;
  const double scale = 1.0 / static_cast<double>(datapoints);
  // Per thread and gradient output: Σ g and Σ g² over that thread's draws, in double.
  std::vector<std::vector<std::vector<double>>> sum(threads), sumsq(threads);
  std::vector<Slot> slots(threads);
  pool_.run([&](int t) {
    sum[t].resize(n_out);
    sumsq[t].resize(n_out);
    for (std::int64_t d = t; d < draws; d += threads) {
      CallSpec spec = base;
      spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(d));
      vmc_context context_t = context(t);
      call_estimate(k, slots[t], train_, spec, &context_t);
      for (int o = 1; o < n_out; ++o) {
        const Aligned<T>& g = slots[t].outs[o];
        sum[t][o].resize(g.size, 0.0);
        sumsq[t][o].resize(g.size, 0.0);
        for (std::size_t i = 0; i < g.size; ++i) {
          double v = static_cast<double>(g.data[i]) * scale;
          sum[t][o][i] += v;
          sumsq[t][o][i] += v * v;
        }
      }
    }
  });
  std::vector<GradientNoise> out;
  const double n = static_cast<double>(draws);
  for (int o = 1; o < n_out; ++o) {
    GradientNoise r;
    r.param = info->inputs[grad_of_[o - 1]].name;
    std::size_t size = sum[0][o].size();
    r.size = static_cast<std::int64_t>(size);
    double snr = 0;
    for (std::size_t i = 0; i < size; ++i) {
      double s = 0, ss = 0;
      for (int t = 0; t < threads; ++t) {
        if (sum[t][o].empty()) continue;
        s += sum[t][o][i];
        ss += sumsq[t][o][i];
      }
      double mean = s / n;
      double var = std::max(0.0, (ss - s * mean) / (n - 1));
      r.variance += var;
      r.mean_norm2 += mean * mean;
      if (var > 0) {
        snr += std::abs(mean) / std::sqrt(var);
        ++r.snr_elements;
      }
    }
    r.snr = r.snr_elements > 0 ? snr / static_cast<double>(r.snr_elements) : 0.0;
    out.push_back(std::move(r));
  }
  return out;
}

template <typename T>
Draws Engine<T>::sample(const std::string& name, std::int64_t count, std::int64_t rows, std::uint64_t stream,
                        const Arrays* arrays, const std::map<std::string, std::vector<double>>& noise,
                        std::int64_t chunk) {
  const vmc_kernel_info& k = kernel(name);
  if (!arrays) {
    // Only a kernel that reads the plate's data needs its rows (sample_model draws them).
    bool reads = false;
    for (const typename Shards<T>::Input& s : shards_.inputs) reads |= !k.reads || k.reads[s.input];
    if (reads) require_whole_data("sampling on the training data", rows);
  }
  // The training data as it is when it gives every dim (no copy); otherwise a dataset whose
  // subsampled dims have just the rows drawn.
  bool own = arrays != nullptr;
  for (const Minibatches::Plate& sub : batches_.plates) own |= !train_.dims.count(sub.dim);
  Dataset<T> copy;
  if (own) {
    copy = arrays ? bind(*arrays, "") : train_;
    for (const Minibatches::Plate& sub : batches_.plates) copy.dims.emplace(sub.dim, rows);
  }
  const Dataset<T>& ds = own ? copy : train_;
  std::vector<std::vector<std::int64_t>> all(batches_.plates.size());
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    all[j] = first_rows(std::min(rows, ds.dims.at(batches_.plates[j].dim)));
  }
  // One subsampled plate: its rows `chunk` at a time, each output batched over it (a local
  // latent's codes) put back together; the rest (global latents) is the same in every chunk,
  // as the noise is keyed by draw and datapoint, not by the call. The kernel's workspace is then
  // that of `chunk` rows, not of the whole data.
  const bool chunked = chunk > 0 && all.size() == 1 && static_cast<std::int64_t>(all[0].size()) > chunk;
  const std::int64_t total = chunked ? static_cast<std::int64_t>(all[0].size()) : 0;
  std::vector<bool> per_row(static_cast<std::size_t>(k.n_outputs), false);
  for (int o = 0; o < k.n_outputs; ++o) {
    const vmc_buffer_info& b = k.outputs[o];
    per_row[static_cast<std::size_t>(o)] =
        chunked && b.rank > 0 && b.extents[0] < 0 && batches_.of_symbol(static_cast<int>(-b.extents[0] - 1)) == 0;
  }
  CallSpec spec;
  spec.fixed = &noise;
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    spec.rows.push_back(all[j]);
    spec.batch.push_back(static_cast<std::int64_t>(all[j].size()));
  }
  Draws d;
  d.count = count;
  Slot slot;
  for (std::int64_t c = 0; c < count; ++c) {
    spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(c));
    for (std::int64_t begin = 0; begin == 0 || begin < total; begin += chunk) {
      if (chunked) {
        const std::int64_t n = std::min(chunk, total - begin);
        spec.rows[0] = std::span<const std::int64_t>(all[0]).subspan(static_cast<std::size_t>(begin),
                                                                     static_cast<std::size_t>(n));
        spec.batch[0] = n;
      }
      vmc_context context_0 = context(0);
      call(k, slot, ds, spec, &context_0);
      if (c == 0 && begin == 0) {
        for (int o = 0; o < k.n_outputs; ++o) {
          d.names.push_back(k.outputs[o].name);
          d.shapes.push_back(slot.out_shapes[o]);
          std::size_t per_draw = slot.outs[o].size;
          if (per_row[o]) {
            d.shapes.back()[0] = total;
            per_draw = per_draw / static_cast<std::size_t>(slot.out_shapes[o][0]) * static_cast<std::size_t>(total);
          }
          d.values.emplace_back().reserve(per_draw * static_cast<std::size_t>(count));
        }
      }
      for (int o = 0; o < k.n_outputs; ++o) {
        if (begin > 0 && !per_row[o]) continue;  // the same in every chunk
        for (std::size_t e = 0; e < slot.outs[o].size; ++e) d.values[o].push_back(static_cast<double>(slot.outs[o].data[e]));
      }
      if (!chunked) break;
    }
  }
  return d;
}

// The members defined here, for both precisions.
template double Engine<float>::evaluate(const Arrays& arrays, const std::string& name, std::uint64_t stream,
                                        std::int64_t batch);
template double Engine<double>::evaluate(const Arrays& arrays, const std::string& name, std::uint64_t stream,
                                         std::int64_t batch);
template std::int64_t Engine<float>::test_datapoints(const Dataset<float>&) const;
template std::int64_t Engine<double>::test_datapoints(const Dataset<double>&) const;
template std::vector<double> Engine<float>::whole_data_draws(const std::string& name, std::int64_t count,
                                                             std::uint64_t stream);
template std::vector<double> Engine<double>::whole_data_draws(const std::string& name, std::int64_t count,
                                                              std::uint64_t stream);
template <typename T>
double Engine<T>::bound_and_gradient(std::uint64_t stream, std::uint64_t draw, std::vector<double>& grad) {
  require_whole_data("evaluating the gradient");
  const vmc_kernel_info& k = kernel("elbo_grad");
  CallSpec spec;
  std::vector<std::vector<std::int64_t>> first(batches_.plates.size());
  for (std::size_t j = 0; j < batches_.plates.size(); ++j) {
    first[j] = first_rows(std::min(batches_.plates[j].m, batches_.plates[j].n));
    spec.rows.push_back(first[j]);
    spec.batch.push_back(static_cast<std::int64_t>(first[j].size()));
  }
  spec.noise_step = eval_step(stream, draw);
  if (eval_slots_.empty()) eval_slots_.resize(1);
  vmc_context context_0 = context(0);
  call_estimate(k, eval_slots_[0], train_, spec, &context_0);
  const double scale = 1.0 / static_cast<double>(datapoints);
  std::map<int, std::size_t> offset;  // input index → its place in all_params order
  std::size_t total = 0;
  for (int i : param_inputs_) {
    offset[i] = total;
    total += static_cast<std::size_t>(params_[i].size);
  }
  grad.assign(total, 0.0);
  for (int o = 1; o < k.n_outputs; ++o) {
    const Aligned<T>& g = eval_slots_[0].outs[o];
    std::size_t at = offset.at(grad_of_[o - 1]);
    for (std::size_t i = 0; i < g.size; ++i) grad[at + i] = static_cast<double>(g.data[i]) * scale;
  }
  return static_cast<double>(eval_slots_[0].outs[0].data[0]) * scale;
}

template double Engine<float>::bound_and_gradient(std::uint64_t, std::uint64_t, std::vector<double>&);
template double Engine<double>::bound_and_gradient(std::uint64_t, std::uint64_t, std::vector<double>&);
template std::vector<GradientNoise> Engine<float>::gradient_noise(std::int64_t, std::uint64_t);
template std::vector<GradientNoise> Engine<double>::gradient_noise(std::int64_t, std::uint64_t);
template Draws Engine<float>::sample(const std::string& name, std::int64_t count, std::int64_t rows, std::uint64_t stream,
                                     const Arrays* arrays, const std::map<std::string, std::vector<double>>& noise,
                                     std::int64_t chunk);
template Draws Engine<double>::sample(const std::string& name, std::int64_t count, std::int64_t rows, std::uint64_t stream,
                                      const Arrays* arrays, const std::map<std::string, std::vector<double>>& noise,
                                      std::int64_t chunk);

}  // namespace vmc::runtime::detail

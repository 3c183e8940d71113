// Engine<T>: the samples of an estimate drawn at run time (abi.h, vmc_model_info::samples): a
// mean estimator's calls averaged, an importance-weighted bound's two passes.
#include "engine.hpp"

#include <algorithm>
#include <cmath>

namespace vmc::runtime::detail {

namespace {

// slot.sums = slot.outs (first) or += slot.outs: the running sums of a kernel's outputs over samples.
template <typename T, typename Slot>
void add_outputs(Slot& slot, int n_outputs, bool first) {
  slot.sums.resize(static_cast<std::size_t>(n_outputs));
  for (int o = 0; o < n_outputs; ++o) {
    const Aligned<T>& out = slot.outs[o];
    Aligned<T>& sum = slot.sums[o];
    if (first) {
      sum.resize(out.size);
      std::copy_n(out.data, out.size, sum.data);
    } else {
      for (std::size_t i = 0; i < out.size; ++i) sum.data[i] += out.data[i];
    }
  }
}

}  // namespace

template <typename T>
void Engine<T>::call_estimate(const vmc_kernel_info& k, Slot& slot, const Dataset<T>& ds, CallSpec& spec,
                              vmc_context* context) const {
  if (info->importance_weighted) {
    call_importance_weighted(k, slot, ds, spec, context);
    return;
  }
  const int samples = std::max(1, info->samples);
  if (samples == 1) {
    call(k, slot, ds, spec, context);
    return;
  }
  for (int l = 0; l < samples; ++l) {
    spec.noise_sample = static_cast<std::uint32_t>(l);
    call(k, slot, ds, spec, context);
    add_outputs<T>(slot, k.n_outputs, l == 0);
  }
  spec.noise_sample = 0;
  const T mean = T(1) / static_cast<T>(samples);
  for (int o = 0; o < k.n_outputs; ++o) {
    for (std::size_t i = 0; i < slot.outs[o].size; ++i) slot.outs[o].data[i] = slot.sums[o].data[i] * mean;
  }
}

// The two passes of an importance-weighted bound's K samples: the log-weights w_k of every sample
// (per row of the subsampled plate, or one), then the kernel once per sample with the weight
// c_k = softmax_k(w) per row. The kernel's bound is then Σ_k Σ_rows (N/M) c_k w_k + the part
// outside the weights, and it is put right to Σ_rows (N/M) (log Σ_k e^{w_k} − log K) + that part;
// its gradients, summed over k, are the bound's. An elbo kernel (a value, no gradients) needs
// only that part: one call with every weight 0, times K.
template <typename T>
void Engine<T>::call_importance_weighted(const vmc_kernel_info& k, Slot& slot, const Dataset<T>& ds, CallSpec& spec,
                                         vmc_context* context) const {
  const vmc_kernel_info& lw = kernel("log_weights");
  const std::size_t K = static_cast<std::size_t>(std::max(1, info->samples));
  std::size_t m = 0;
  for (std::size_t s = 0; s < K; ++s) {
    spec.noise_sample = static_cast<std::uint32_t>(s);
    call(lw, slot, ds, spec, context);
    const Aligned<T>& w = slot.outs[0];
    if (s == 0) {
      m = w.size;
      slot.log_weights.resize(K * m);
      slot.weights.resize(K * m);
    }
    for (std::size_t r = 0; r < m; ++r) slot.log_weights[s * m + r] = static_cast<double>(w.data[r]);
  }
  // The kernel's N/M: the plate's datapoints in `ds` over the whole minibatch (one, global).
  double scale = 1;
  const vmc_buffer_info& per_row = lw.outputs[0];
  if (per_row.rank > 0 && per_row.extents[0] < 0) {
    const int j = batches_.of_symbol(static_cast<int>(-per_row.extents[0] - 1));
    if (j < 0) throw RuntimeError("the log-weights are not per datapoint of a subsampled plate");
    scale = static_cast<double>(dim_value(ds, batches_.plates[static_cast<std::size_t>(j)].dim)) /
            static_cast<double>(spec.batch[static_cast<std::size_t>(j)]);
  }
  double correction = 0;
  for (std::size_t r = 0; r < m; ++r) {
    double top = -INFINITY;
    for (std::size_t s = 0; s < K; ++s) top = std::max(top, slot.log_weights[s * m + r]);
    double sum = 0;
    for (std::size_t s = 0; s < K; ++s) sum += std::exp(slot.log_weights[s * m + r] - top);
    const double lse = top + std::log(sum);
    for (std::size_t s = 0; s < K; ++s) slot.weights[s * m + r] = std::exp(slot.log_weights[s * m + r] - lse);
    correction += scale * (lse - std::log(static_cast<double>(K)));
  }
  Aligned<T>& c = slot.importance;
  c.resize(std::max<std::size_t>(m, 1));
  spec.n_weights = m;
  spec.weights = c.data;
  const bool value_only = k.n_outputs == 1;
  if (value_only) {
    std::fill_n(c.data, c.size, T(0));
    spec.noise_sample = 0;
    call(k, slot, ds, spec, context);
    slot.outs[0].data[0] = static_cast<T>(static_cast<double>(K) * static_cast<double>(slot.outs[0].data[0]) + correction);
  } else {
      for (std::size_t s = 0; s < K; ++s) {
      spec.noise_sample = static_cast<std::uint32_t>(s);
      for (std::size_t r = 0; r < m; ++r) {
        c.data[r] = static_cast<T>(slot.weights[s * m + r]);
        correction -= scale * slot.weights[s * m + r] * slot.log_weights[s * m + r];
      }
      call(k, slot, ds, spec, context);
      add_outputs<T>(slot, k.n_outputs, s == 0);
    }
    for (int o = 0; o < k.n_outputs; ++o) std::copy_n(slot.sums[o].data, slot.outs[o].size, slot.outs[o].data);
    slot.outs[0].data[0] = static_cast<T>(static_cast<double>(slot.outs[0].data[0]) + correction);
  }
  spec.noise_sample = 0;
  spec.weights = nullptr;
  spec.n_weights = 0;
}

// The members defined here, for both precisions.
template void Engine<float>::call_estimate(const vmc_kernel_info& k, Slot& slot, const Dataset<float>& ds,
                                           CallSpec& spec, vmc_context* context) const;
template void Engine<double>::call_estimate(const vmc_kernel_info& k, Slot& slot, const Dataset<double>& ds,
                                            CallSpec& spec, vmc_context* context) const;
template void Engine<float>::call_importance_weighted(const vmc_kernel_info& k, Slot& slot,
                                                      const Dataset<float>& ds, CallSpec& spec,
                                                      vmc_context* context) const;
template void Engine<double>::call_importance_weighted(const vmc_kernel_info& k, Slot& slot,
                                                       const Dataset<double>& ds, CallSpec& spec,
                                                       vmc_context* context) const;

}  // namespace vmc::runtime::detail

// Engine<T>: the optimizer's update of a step (each thread its blocks and slices), and the last
// good state it copies every kGoodEvery-th step and puts back.
#include "engine.hpp"

#include "optimizers.hpp"

namespace vmc::runtime::detail {

template <typename T>
void Engine<T>::prepare_good() {
  good_.resize(params_.size());
  for (int i : param_inputs_) {
    Good& g = good_[static_cast<std::size_t>(i)];
    g.param.resize(params_[i].size);
    g.moments.resize(moments_[i].size());
    for (std::size_t j = 0; j < moments_[i].size(); ++j) g.moments[j].resize(moments_[i][j].size);
    // A param with no gradient is never updated (update_slice copies the others): copied here.
    if (std::find(grad_of_.begin(), grad_of_.end(), i) == grad_of_.end()) {
      std::memcpy(g.param.data, params_[i].data, params_[i].size * sizeof(T));
    }
  }
}

template <typename T>
void Engine<T>::keep_current_as_good() {
  prepare_good();
  auto copy = [](Aligned<T>& to, const Aligned<T>& from) { std::memcpy(to.data, from.data, to.size * sizeof(T)); };
  for (int i : param_inputs_) {
    Good& g = good_[static_cast<std::size_t>(i)];
    copy(g.param, params_[i]);
    for (std::size_t j = 0; j < moments_[i].size(); ++j) copy(g.moments[j], moments_[i][j]);
  }
  good_step_ = steps;
  good_updates_ = updates;
}

template <typename T>
std::int64_t Engine<T>::restore_last_good() {
  if (good_step_ < 0) return -1;
  auto put_back = [](Aligned<T>& to, const Aligned<T>& from) { std::memcpy(to.data, from.data, to.size * sizeof(T)); };
  for (int i : param_inputs_) {
    const Good& g = good_[static_cast<std::size_t>(i)];
    put_back(params_[i], g.param);
    for (std::size_t j = 0; j < moments_[i].size(); ++j) put_back(moments_[i][j], g.moments[j]);
  }
  updates = good_updates_;
  return good_step_;
}

template <typename T>
void Engine<T>::update_slice(const vmc_kernel_info& k, int th, const Update* u, bool keep, bool owned) {
  // Pieces of 4096 elements (16 KB of float32 per array): the copy's reads stay in L1 and L2
  // for the update after it.
  constexpr std::size_t kPiece = 4096;
  auto range = [&](int o, std::size_t b, std::size_t e) {
    const int i = grad_of_[o - 1];
    if (!keep) {
      if (u) update_range(o, b, e, *u);
      return;
    }
    Good& g = good_[static_cast<std::size_t>(i)];
    auto copy = [](Aligned<T>& to, const Aligned<T>& from, std::size_t x, std::size_t n) {
      std::memcpy(to.data + x, from.data + x, n * sizeof(T));
    };
    for (std::size_t x = b; x < e;) {
      const std::size_t end = std::min(e, (x / kPiece + 1) * kPiece);  // pieces on multiples of kPiece
      copy(g.param, params_[i], x, end - x);
      for (std::size_t j = 0; j < moments_[i].size(); ++j) copy(g.moments[j], moments_[i][j], x, end - x);
      if (u) update_range(o, x, end, *u);
      x = end;
    }
  };
  // The params of the gradients th computed in the deferred products: its blocks, whose
  // gradient is in its own cache (and none crosses to the other core); the rest by slices.
  if (owned) {
    for (const Block& blk : step_blocks_[th]) {
      if (blk.updated) continue;  // in the product's epilogue
      for (std::size_t r = 0; r < blk.rows; ++r) range(blk.o, blk.first + r * blk.ld, blk.first + r * blk.ld + blk.cols);
    }
  }
  for (int o = 1; o < k.n_outputs; ++o) {
    if (owned && gathered_[static_cast<std::size_t>(o)]) continue;
    auto [b, e] = part(params_[grad_of_[o - 1]].size, options.threads, th);
    range(o, b, e);
  }
}

// Elements [b, e) of the param whose gradient (summed into slot 0) is output o moved up it,
// times u.scale; u.number is the update's (1 for the first). Elementwise: a param
// updated in any pieces ends up the same.
template <typename T>
void Engine<T>::update_range(int o, std::size_t b, std::size_t e, const Update& u) {
  const int i = grad_of_[o - 1];
  T* state[kMaxSlots] = {};
  for (std::size_t k = 0; k < moments_[i].size(); ++k) state[k] = moments_[i][k].data;
  const Slice<T> slice{params_[i].data, slots_[0].outs[o].data, state, b, e, u.scale, options.lr, u.number, u.stream};
  visit_optimizer(*options.optimizer, [&](auto optimizer) { optimizer.update(slice); });
}

// The members defined here, for both precisions.
template void Engine<float>::keep_current_as_good();
template void Engine<double>::keep_current_as_good();
template void Engine<float>::prepare_good();
template void Engine<double>::prepare_good();
template std::int64_t Engine<float>::restore_last_good();
template std::int64_t Engine<double>::restore_last_good();
template void Engine<float>::update_slice(const vmc_kernel_info& k, int th, const Update* u, bool keep, bool owned);
template void Engine<double>::update_slice(const vmc_kernel_info& k, int th, const Update* u, bool keep, bool owned);
template void Engine<float>::update_range(int o, std::size_t b, std::size_t e, const Update& u);
template void Engine<double>::update_range(int o, std::size_t b, std::size_t e, const Update& u);

}  // namespace vmc::runtime::detail

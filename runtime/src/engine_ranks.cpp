// Engine<T>: data-parallel ranks (TrainerOptions::collective). Each rank keeps a shard of the
// primary plate's rows; a step's global minibatch is cut into one slice per rank, and every rank
// fetches its slice's rows from the ranks whose shards hold them in one exchange (a minibatch of
// data per step, far less than the gradient the ranks then sum). Rank 0's shard starts at row 0,
// so the pictures of a fit (its first rows) can still be drawn there.
#include "engine.hpp"

namespace vmc::runtime::detail {

template <typename T>
void Engine<T>::setup_ranks() {
  Collective& c = *options.collective;
  rank_ = c.rank();
  ranks_ = c.size();
  // Without a subsampled plate every step is the whole data set: each rank computes the same
  // bound, and nothing is split or summed.
  if (primary_index_ < 0) return;
  if (!info->rows_additive) {
    throw RuntimeError("this objective is not a sum over the datapoints of '" + primary +
                       "' (an importance-weighted bound with global latents), so its minibatch cannot be split across " +
                       std::to_string(ranks_) + " ranks; run it as one process");
  }
  distributed_ = true;
  const Sub& p = subs_[primary_index_];
  for (int i = 0; i < info->n_inputs; ++i) {
    const vmc_buffer_info& b = info->inputs[i];
    if (b.kind != VMC_DATA || p.dim != b.role) continue;
    const std::vector<std::int64_t>& shape = train_.shapes.at(b.name);
    std::size_t row = 1;
    for (std::size_t d = 1; d < shape.size(); ++d) row *= static_cast<std::size_t>(shape[d]);
    ShardInput s;
    s.input = i;
    s.row = row;
    s.is_int = b.is_int != 0;
    if (s.is_int) {
      s.kept_ints = &train_.ints.at(b.name);
      s.fetched_ints = &fetched_.ints[b.name];
    } else {
      s.kept_reals = &train_.reals.at(b.name);
      s.fetched_reals = &fetched_.reals[b.name];
    }
    shard_inputs_.push_back(s);
    row_bytes_ += s.bytes();
  }
  {
    // Plain names, not a structured binding: Clang before 16 cannot capture those in a lambda.
    const std::pair<std::size_t, std::size_t> range = part(static_cast<std::size_t>(p.n), ranks_, rank_);
    const std::size_t lo = range.first, hi = range.second;
    shard_lo_ = static_cast<std::int64_t>(lo);
    shard_rows_ = static_cast<std::int64_t>(hi - lo);
    auto keep = [&](auto& v, std::size_t row) {
      std::decay_t<decltype(v)> kept(v.begin() + static_cast<std::ptrdiff_t>(lo * row),
                                     v.begin() + static_cast<std::ptrdiff_t>(hi * row));
      v.swap(kept);
    };
    for (const ShardInput& s : shard_inputs_) {
      if (s.is_int) keep(*s.kept_ints, s.row);
      else keep(*s.kept_reals, s.row);
    }
  }
  send_bytes_.assign(ranks_, 0);
  recv_bytes_.assign(ranks_, 0);
  cursor_.assign(ranks_, 0);
}

template <typename T>
int Engine<T>::owner(std::int64_t g) const {
  // The inverse of part(n, ranks, q): the first n % ranks shards have one row more.
  const std::int64_t n = subs_[primary_index_].n;
  const std::int64_t base = n / ranks_, extra = n % ranks_, big = extra * (base + 1);
  if (g < big) return static_cast<int>(g / (base + 1));
  return static_cast<int>(extra + (g - big) / base);
}

template <typename T>
void Engine<T>::fetch_slice(std::span<const std::int64_t> batch, std::span<const std::int64_t> mine) {
  // What this rank sends: the rows its shard holds of every rank's slice, rank by rank, each
  // slice in its order; what it receives from rank o: the rows of its own slice o holds, in
  // the same order. Both sides work this out from the same global minibatch.
  std::fill(send_bytes_.begin(), send_bytes_.end(), 0);
  std::fill(recv_bytes_.begin(), recv_bytes_.end(), 0);
  std::size_t total_send = 0;
  for (int q = 0; q < ranks_; ++q) {
    auto [b, e] = part(batch.size(), ranks_, q);
    for (std::size_t i = b; i < e; ++i) {
      if (owner(batch[i]) == rank_) send_bytes_[q] += static_cast<std::int64_t>(row_bytes_);
    }
    total_send += static_cast<std::size_t>(send_bytes_[q]);
  }
  send_buf_.resize(std::max<std::size_t>(total_send, 1));
  unsigned char* out = send_buf_.data();
  for (int q = 0; q < ranks_; ++q) {
    auto [b, e] = part(batch.size(), ranks_, q);
    for (std::size_t i = b; i < e; ++i) {
      if (owner(batch[i]) != rank_) continue;
      auto local = static_cast<std::size_t>(batch[i] - shard_lo_);
      for (const ShardInput& s : shard_inputs_) {
        const void* from = s.is_int ? static_cast<const void*>(s.kept_ints->data() + local * s.row)
                                    : static_cast<const void*>(s.kept_reals->data() + local * s.row);
        std::memcpy(out, from, s.bytes());
        out += s.bytes();
      }
    }
  }
  std::size_t total_recv = 0;
  for (std::int64_t g : mine) recv_bytes_[owner(g)] += static_cast<std::int64_t>(row_bytes_);
  for (int o = 0; o < ranks_; ++o) {
    cursor_[o] = total_recv;
    total_recv += static_cast<std::size_t>(recv_bytes_[o]);
  }
  recv_buf_.resize(std::max<std::size_t>(total_recv, 1));
  options.collective->exchange(send_buf_.data(), send_bytes_.data(), recv_buf_.data(), recv_bytes_.data());
  for (const ShardInput& s : shard_inputs_) {
    if (s.is_int) s.fetched_ints->resize(std::max<std::size_t>(1, mine.size() * s.row));
    else s.fetched_reals->resize(mine.size() * s.row);
  }
  for (std::size_t r = 0; r < mine.size(); ++r) {
    std::size_t& at = cursor_[owner(mine[r])];
    for (const ShardInput& s : shard_inputs_) {
      void* to = s.is_int ? static_cast<void*>(s.fetched_ints->data() + r * s.row)
                          : static_cast<void*>(s.fetched_reals->data() + r * s.row);
      std::memcpy(to, recv_buf_.data() + at, s.bytes());
      at += s.bytes();
    }
  }
  if (positions_.size() < mine.size()) {
    positions_.resize(mine.size());
    std::iota(positions_.begin(), positions_.end(), std::int64_t{0});
  }
}

template void Engine<float>::setup_ranks();
template void Engine<double>::setup_ranks();
template int Engine<float>::owner(std::int64_t g) const;
template int Engine<double>::owner(std::int64_t g) const;
template void Engine<float>::fetch_slice(std::span<const std::int64_t> batch, std::span<const std::int64_t> mine);
template void Engine<double>::fetch_slice(std::span<const std::int64_t> batch, std::span<const std::int64_t> mine);

}  // namespace vmc::runtime::detail

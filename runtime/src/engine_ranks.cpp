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
  shards_.rank = c.rank();
  shards_.ranks = c.size();
  // Without a subsampled plate every step is the whole data set: each rank computes the same
  // bound, and nothing is split or summed.
  if (batches_.primary < 0) return;
  if (!info->rows_additive) {
    throw RuntimeError("this objective is not a sum over the datapoints of '" + primary +
                       "' (an importance-weighted bound with global latents), so its minibatch cannot be split across " +
                       std::to_string(shards_.ranks) + " ranks; run it as one process");
  }
  shards_.distributed = true;
  const Minibatches::Plate& p = batches_.plates[batches_.primary];
  for (int i = 0; i < info->n_inputs; ++i) {
    const vmc_buffer_info& b = info->inputs[i];
    if (b.kind != VMC_DATA || p.dim != b.role) continue;
    const std::vector<std::int64_t>& shape = train_.shapes.at(b.name);
    std::size_t row = 1;
    for (std::size_t d = 1; d < shape.size(); ++d) row *= static_cast<std::size_t>(shape[d]);
    typename Shards<T>::Input s;
    s.input = i;
    s.row = row;
    s.is_int = b.is_int != 0;
    if (s.is_int) {
      s.kept_ints = &train_.ints.at(b.name);
      s.fetched_ints = &shards_.fetched.ints[b.name];
    } else {
      s.kept_reals = &train_.reals.at(b.name);
      s.fetched_reals = &shards_.fetched.reals[b.name];
    }
    shards_.inputs.push_back(s);
    shards_.row_bytes += s.bytes();
  }
  {
    // Plain names, not a structured binding: Clang before 16 cannot capture those in a lambda.
    const std::pair<std::size_t, std::size_t> range = part(static_cast<std::size_t>(p.n), shards_.ranks, shards_.rank);
    const std::size_t lo = range.first, hi = range.second;
    shards_.lo = static_cast<std::int64_t>(lo);
    shards_.rows = static_cast<std::int64_t>(hi - lo);
    auto keep = [&](auto& v, std::size_t row) {
      std::decay_t<decltype(v)> kept(v.begin() + static_cast<std::ptrdiff_t>(lo * row),
                                     v.begin() + static_cast<std::ptrdiff_t>(hi * row));
      v.swap(kept);
    };
    for (const typename Shards<T>::Input& s : shards_.inputs) {
      if (s.is_int) keep(*s.kept_ints, s.row);
      else keep(*s.kept_reals, s.row);
    }
  }
  shards_.send_bytes.assign(shards_.ranks, 0);
  shards_.recv_bytes.assign(shards_.ranks, 0);
  shards_.cursor.assign(shards_.ranks, 0);
}

template <typename T>
int Engine<T>::owner(std::int64_t g) const {
  // The inverse of part(n, ranks, q): the first n % ranks shards have one row more.
  const std::int64_t n = batches_.plates[batches_.primary].n;
  const std::int64_t base = n / shards_.ranks, extra = n % shards_.ranks, big = extra * (base + 1);
  if (g < big) return static_cast<int>(g / (base + 1));
  return static_cast<int>(extra + (g - big) / base);
}

template <typename T>
void Engine<T>::fetch_slice(std::span<const std::int64_t> batch, std::span<const std::int64_t> mine) {
  // What this rank sends: the rows its shard holds of every rank's slice, rank by rank, each
  // slice in its order; what it receives from rank o: the rows of its own slice o holds, in
  // the same order. Both sides work this out from the same global minibatch.
  std::fill(shards_.send_bytes.begin(), shards_.send_bytes.end(), 0);
  std::fill(shards_.recv_bytes.begin(), shards_.recv_bytes.end(), 0);
  std::size_t total_send = 0;
  for (int q = 0; q < shards_.ranks; ++q) {
    auto [b, e] = part(batch.size(), shards_.ranks, q);
    for (std::size_t i = b; i < e; ++i) {
      if (owner(batch[i]) == shards_.rank) shards_.send_bytes[q] += static_cast<std::int64_t>(shards_.row_bytes);
    }
    total_send += static_cast<std::size_t>(shards_.send_bytes[q]);
  }
  shards_.send_buf.resize(std::max<std::size_t>(total_send, 1));
  unsigned char* out = shards_.send_buf.data();
  for (int q = 0; q < shards_.ranks; ++q) {
    auto [b, e] = part(batch.size(), shards_.ranks, q);
    for (std::size_t i = b; i < e; ++i) {
      if (owner(batch[i]) != shards_.rank) continue;
      auto local = static_cast<std::size_t>(batch[i] - shards_.lo);
      for (const typename Shards<T>::Input& s : shards_.inputs) {
        const void* from = s.is_int ? static_cast<const void*>(s.kept_ints->data() + local * s.row)
                                    : static_cast<const void*>(s.kept_reals->data() + local * s.row);
        std::memcpy(out, from, s.bytes());
        out += s.bytes();
      }
    }
  }
  std::size_t total_recv = 0;
  for (std::int64_t g : mine) shards_.recv_bytes[owner(g)] += static_cast<std::int64_t>(shards_.row_bytes);
  for (int o = 0; o < shards_.ranks; ++o) {
    shards_.cursor[o] = total_recv;
    total_recv += static_cast<std::size_t>(shards_.recv_bytes[o]);
  }
  shards_.recv_buf.resize(std::max<std::size_t>(total_recv, 1));
  options.collective->exchange(shards_.send_buf.data(), shards_.send_bytes.data(), shards_.recv_buf.data(), shards_.recv_bytes.data());
  for (const typename Shards<T>::Input& s : shards_.inputs) {
    if (s.is_int) s.fetched_ints->resize(std::max<std::size_t>(1, mine.size() * s.row));
    else s.fetched_reals->resize(mine.size() * s.row);
  }
  for (std::size_t r = 0; r < mine.size(); ++r) {
    std::size_t& at = shards_.cursor[owner(mine[r])];
    for (const typename Shards<T>::Input& s : shards_.inputs) {
      void* to = s.is_int ? static_cast<void*>(s.fetched_ints->data() + r * s.row)
                          : static_cast<void*>(s.fetched_reals->data() + r * s.row);
      std::memcpy(to, shards_.recv_buf.data() + at, s.bytes());
      at += s.bytes();
    }
  }
  if (shards_.positions.size() < mine.size()) {
    shards_.positions.resize(mine.size());
    std::iota(shards_.positions.begin(), shards_.positions.end(), std::int64_t{0});
  }
}

template void Engine<float>::setup_ranks();
template void Engine<double>::setup_ranks();
template int Engine<float>::owner(std::int64_t g) const;
template int Engine<double>::owner(std::int64_t g) const;
template void Engine<float>::fetch_slice(std::span<const std::int64_t> batch, std::span<const std::int64_t> mine);
template void Engine<double>::fetch_slice(std::span<const std::int64_t> batch, std::span<const std::int64_t> mine);

}  // namespace vmc::runtime::detail

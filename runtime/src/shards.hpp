// The state of data-parallel ranks (TrainerOptions::collective; engine_ranks.cpp): this rank's
// shard of the primary plate's rows and its slice of every minibatch, fetched from the ranks
// whose shards hold them; and the data bound for a run. Internal to the runtime.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vmc::runtime::detail {

// The data bound for one run: every array converted once, the run-time sizes it implies.
template <typename T>
struct Dataset {
  std::map<std::string, std::vector<T>> reals;
  std::map<std::string, std::vector<std::int64_t>> ints;
  std::map<std::string, std::vector<std::int64_t>> shapes;
  std::map<std::string, std::int64_t> dims;  // every run-time dim's full extent
};

template <typename T>
struct Shards {
  // R > 1 with a primary plate to split (otherwise every rank computes the same bound).
  bool distributed = false;
  int rank = 0, ranks = 1;
  struct Input {
    int input = -1;
    std::size_t row = 0;  // elements per datapoint
    bool is_int = false;
    // Its arrays in the engine's training data (this rank's shard) and in `fetched` (map nodes do
    // not move).
    std::vector<T>* kept_reals = nullptr;
    std::vector<T>* fetched_reals = nullptr;
    std::vector<std::int64_t>* kept_ints = nullptr;
    std::vector<std::int64_t>* fetched_ints = nullptr;
    std::size_t bytes() const { return row * (is_int ? sizeof(std::int64_t) : sizeof(T)); }
  };
  std::vector<Input> inputs;            // the data inputs batched over the primary plate
  std::size_t row_bytes = 0;            // one datapoint of all of them
  std::int64_t lo = 0;                  // global index of this rank's first row
  std::int64_t rows = 0;                // rows in this rank's shard
  Dataset<T> fetched;                   // this rank's slice of the minibatch, in order
  std::vector<std::int64_t> positions;  // 0, 1, 2, ...: the rows of `fetched`
  std::vector<unsigned char> send_buf, recv_buf;
  std::vector<std::int64_t> send_bytes, recv_bytes;
  std::vector<std::size_t> cursor;
  std::vector<double> sums;             // the bound and the problems, summed over ranks
};

}  // namespace vmc::runtime::detail

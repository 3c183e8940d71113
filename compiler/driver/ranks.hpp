// `vmc fit` under mpirun (R > 1 ranks): the MPI world main joined, and what the fit's ranks
// must agree on before training (run.cpp): that every rank set up, and read the same data.
#pragma once

#include <cstdint>
#include <sstream>
#include <streambuf>
#include <string>

#include "driver/run.hpp"
#include "vmc/collective.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {

// The MPI ranks this process runs among (R > 1), set once by main; world() is nullptr for one
// process. Only `vmc fit` runs across ranks.
void set_world(runtime::Collective* world);
runtime::Collective* world();

// Whether a step of the set-up worked on every rank. Ranks past 0 hold their diagnostics
// (std::cerr) until release(): R ranks that fail alike print one message (rank 0's), and a rank
// that alone fails prints its own, as "rank r of R: ...". With no ranks, agree(ok) is ok.
class RankAgreement {
 public:
  explicit RankAgreement(runtime::Collective* ranks);
  ~RankAgreement() { release(); }
  RankAgreement(const RankAgreement&) = delete;
  RankAgreement& operator=(const RankAgreement&) = delete;
  bool agree(bool ok);
  // Diagnostics go straight to std::cerr again; returns what was held.
  std::string release();

 private:
  runtime::Collective* ranks_;
  bool holding_ = false;
  std::ostringstream held_;
  std::streambuf* cerr_ = nullptr;
};

// "{rank}" in a --data or --test-data path names this rank's own copy of the file (data staged
// to each node's local disk).
void name_rank_copies(DataArgs& data, int rank);

// A hash of the arrays' names, shapes and values (local: no rank waits on another), and
// whether `value` is the same on every rank (collective). Together: every rank read the same
// training data ({rank} paths must be copies, not parts).
std::uint64_t hash_data(const runtime::Arrays& arrays);
bool same_on_every_rank(runtime::Collective& ranks, std::uint64_t value);

}  // namespace vmc::driver

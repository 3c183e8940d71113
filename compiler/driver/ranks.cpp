// `vmc fit` under mpirun: see ranks.hpp.
#include "driver/ranks.hpp"

#include <cstring>
#include <iostream>

namespace vmc::driver {

namespace {
runtime::Collective* g_world = nullptr;
}  // namespace

void set_world(runtime::Collective* world) { g_world = world; }
runtime::Collective* world() { return g_world && g_world->size() > 1 ? g_world : nullptr; }

RankAgreement::RankAgreement(runtime::Collective* ranks) : ranks_(ranks) {
  if (ranks_ && ranks_->rank() != 0) {
    holding_ = true;
    cerr_ = std::cerr.rdbuf(held_.rdbuf());
  }
}

std::string RankAgreement::release() {
  if (holding_) std::cerr.rdbuf(cerr_);
  holding_ = false;
  return held_.str();
}

bool RankAgreement::agree(bool ok) {
  if (!ranks_) return ok;
  const int rank = ranks_->rank(), n = ranks_->size();
  // The largest of R − (a failing rank's number): the first failing rank, or R when none.
  const std::int64_t first_bad = n - ranks_->max(ok ? 0 : n - rank);
  if (first_bad == n) return true;
  std::string held = release();
  if (rank == first_bad && rank != 0) std::cerr << "rank " << rank << " of " << n << ": " << held << std::flush;
  return false;
}

void name_rank_copies(DataArgs& data, int rank) {
  for (std::vector<std::string>* specs : {&data.data, &data.test_data}) {
    for (std::string& spec : *specs) {
      for (auto at = spec.find("{rank}"); at != std::string::npos; at = spec.find("{rank}", at)) {
        spec.replace(at, 6, std::to_string(rank));
      }
    }
  }
}

std::uint64_t hash_data(const runtime::Arrays& arrays) {
  // FNV-1a, a 64-bit word at a time (a pass over the data, as fast as memory).
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](std::uint64_t w) { h = (h ^ w) * 0x100000001b3ull; };
  for (const auto& [name, a] : arrays) {
    for (char c : name) mix(static_cast<unsigned char>(c));
    for (std::int64_t e : a.shape) mix(static_cast<std::uint64_t>(e));
    for (double v : a.values) {
      std::uint64_t w;
      std::memcpy(&w, &v, sizeof w);
      mix(w);
    }
  }
  return h;
}

bool same_on_every_rank(runtime::Collective& ranks, std::uint64_t value) {
  // All equal when the largest equals the smallest (62 bits, so negating cannot overflow).
  auto mine = static_cast<std::int64_t>(value >> 2);
  return ranks.max(mine) == -ranks.max(-mine);
}

}  // namespace vmc::driver

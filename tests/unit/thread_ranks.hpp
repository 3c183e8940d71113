// R data-parallel ranks as threads of one process: a vmc::runtime::Collective per thread, so the
// engine's rank code (runtime/src/engine_ranks.cpp) is tested in the default suite without MPI.
// Every operation is collective: each member's thread calls it in the same order. Sums run in
// rank order, so every member gets the same bits, as MPI_Allreduce gives every rank.
#pragma once

#include <barrier>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "vmc/collective.hpp"

class ThreadRanks {
 public:
  explicit ThreadRanks(int n) : n_(n), sync_(n), ptr_(n), counts_(n), value_(n) {
    for (int r = 0; r < n; ++r) members_.push_back(std::make_unique<Member>(*this, r));
  }
  vmc::runtime::Collective& rank(int r) { return *members_[r]; }

 private:
  class Member final : public vmc::runtime::Collective {
   public:
    Member(ThreadRanks& g, int r) : g_(g), r_(r) {}
    int rank() const override { return r_; }
    int size() const override { return g_.n_; }
    void sum(float* v, std::size_t n) override { g_.sum(r_, v, n); }
    void sum(double* v, std::size_t n) override { g_.sum(r_, v, n); }
    std::int64_t max(std::int64_t v) override {
      g_.value_[r_] = v;
      g_.sync_.arrive_and_wait();
      std::int64_t m = v;
      for (std::int64_t x : g_.value_) m = x > m ? x : m;
      g_.sync_.arrive_and_wait();
      return m;
    }
    void exchange(const unsigned char* send, const std::int64_t* send_bytes, unsigned char* recv,
                  const std::int64_t* recv_bytes) override {
      g_.ptr_[r_] = const_cast<unsigned char*>(send);
      g_.counts_[r_] = send_bytes;
      g_.sync_.arrive_and_wait();
      std::int64_t at = 0;
      for (int q = 0; q < g_.n_; ++q) {
        std::int64_t from = 0;  // where rank q's bytes for this rank start
        for (int k = 0; k < r_; ++k) from += g_.counts_[q][k];
        if (g_.counts_[q][r_] != recv_bytes[q]) std::abort();  // the two sides disagree: a bug
        std::memcpy(recv + at, static_cast<unsigned char*>(g_.ptr_[q]) + from, static_cast<std::size_t>(recv_bytes[q]));
        at += recv_bytes[q];
      }
      g_.sync_.arrive_and_wait();
    }
    void broadcast(std::string& bytes, int root) override {
      if (r_ == root) g_.ptr_[root] = &bytes;
      g_.sync_.arrive_and_wait();
      if (r_ != root) bytes = *static_cast<std::string*>(g_.ptr_[root]);
      g_.sync_.arrive_and_wait();
    }
    [[noreturn]] void abort(int status) override { std::_Exit(status); }

   private:
    ThreadRanks& g_;
    int r_;
  };

  template <typename V>
  void sum(int r, V* v, std::size_t n) {
    ptr_[r] = v;
    sync_.arrive_and_wait();
    std::vector<V> total(n, V(0));
    for (int q = 0; q < n_; ++q) {
      const V* p = static_cast<const V*>(ptr_[q]);
      for (std::size_t i = 0; i < n; ++i) total[i] += p[i];
    }
    sync_.arrive_and_wait();  // every member has read every other's values
    std::memcpy(v, total.data(), n * sizeof(V));
  }

  int n_;
  std::barrier<> sync_;
  std::vector<void*> ptr_;
  std::vector<const std::int64_t*> counts_;
  std::vector<std::int64_t> value_;
  std::vector<std::unique_ptr<Member>> members_;
};

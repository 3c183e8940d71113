// The engine's threads (engine.hpp): a pool that runs one function on every thread index at
// once, and a spinning barrier for the phases inside one run. Internal to the runtime.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace vmc::runtime::detail {

// One turn of a wait loop: the CPU's pause for the first kSpins turns, then a yield of the
// core to whichever thread the scheduler has waiting (the one being waited for, when there are
// more threads than cores).
inline void relax(unsigned turn) {
  constexpr unsigned kSpins = 2048;  // ~50-100 us of pauses: a phase's usual wait
  if (turn < kSpins) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  } else {
    std::this_thread::yield();
  }
}

// A few threads that run one function on every thread index at once (0 is the caller). A step
// runs three such phases a few hundred microseconds apart, so the threads spin briefly before
// sleeping: a futex wake-up per phase cost ~10 % of a two-thread step.
class Pool {
 public:
  explicit Pool(int threads) : n_(std::max(1, threads)) {
    for (int t = 1; t < n_; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  int size() const { return n_; }
  // Runs fn(t) for every thread index t. The callable is passed by pointer and a trampoline,
  // never copied into a std::function: a training step allocates nothing.
  template <typename F>
  void run(F&& fn) {
    if (n_ == 1) return fn(0);
    using Fn = std::remove_reference_t<F>;
    call_ = [](void* f, int t) { (*static_cast<Fn*>(f))(t); };
    fn_ = const_cast<void*>(static_cast<const void*>(&fn));
    pending_.store(n_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    std::exception_ptr mine;
    try {
      fn(0);
    } catch (...) {
      mine = std::current_exception();
    }
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    fn_ = nullptr;
    if (mine) std::rethrow_exception(mine);
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  // Spins up to ~0.2 ms for `ready`; false when it did not come. Past the first stretch it
  // yields between looks, so that with more threads than cores the thread it waits for gets
  // the core (a pure spin held it until the scheduler's tick: 10-20x slower steps).
  template <typename F>
  static bool spin_until(F ready) {
    auto start = std::chrono::steady_clock::now();
    for (unsigned i = 1;; ++i) {
      if (ready()) return true;
      if (i % 256 == 0 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(200)) return false;
      relax(i);
    }
  }

  void work(int t) {
    std::uint64_t seen = 0;
    for (;;) {
      auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, fresh);
      }
      seen = generation_.load(std::memory_order_acquire);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      std::exception_ptr err;
      try {
        call_(fn_, t);
      } catch (...) {
        err = std::current_exception();
      }
      if (err) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = err;
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_.notify_one();
      }
    }
  }
  int n_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  void* fn_ = nullptr;
  void (*call_)(void*, int) = nullptr;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  std::exception_ptr error_;
};

// All of a pool's threads wait here until each has arrived (inside one Pool::run, so a step's
// check and update need no second wake-up of the workers).
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void set_size(int n) { n_ = n; }
  void wait() {
    if (n_ <= 1) return;
    unsigned gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      return;
    }
    for (unsigned turn = 1; gen_.load(std::memory_order_acquire) == gen; ++turn) relax(turn);
  }

 private:
  int n_;
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
};

// Σ x² over n values, accumulated in vector lanes (engine_step.cpp); NaN or Inf in, non-finite out.
double sum_of_squares(const float* x, std::size_t n);
double sum_of_squares(const double* x, std::size_t n);
// max |x| over n float32 values (0 for none), +Inf when any is NaN or infinite.
float largest_magnitude(const float* x, std::size_t n);

}  // namespace vmc::runtime::detail

// Engine<T>: what vmc bench measures of a training step: its products recorded (record_step),
// replayed alone as the in-run GEMM bound (replay_gemms), the step's phases timed on every
// thread (time_step_phases), and the threads' cache-line round trip.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>

#include "engine.hpp"

namespace vmc::runtime::detail {

namespace {

// record_step's observer: every product of the step, per thread, with its time.
class ProductRecorder final : public StepObserver {
 public:
  explicit ProductRecorder(GemmProfile& profile) : profile_(profile) {}
  void product(int thread, const GemmCall& call, double seconds, bool) override {
    GemmCall& c = profile_.per_thread[static_cast<std::size_t>(thread)].emplace_back(call);
    c.seconds = seconds;
  }
  void phase(int, StepPhases::Phase, double) override {}

 private:
  GemmProfile& profile_;
};

// time_step_phases' observer: microseconds per phase per thread (a cache line each); Products
// holds the kernels' products (the ones the runtime computes for them are Gradients).
class PhaseClock final : public StepObserver {
 public:
  explicit PhaseClock(int threads) : rows_(static_cast<std::size_t>(threads)) {}
  void product(int thread, const GemmCall&, double seconds, bool in_kernel) override {
    if (in_kernel) rows_[static_cast<std::size_t>(thread)].us[StepPhases::Products] += 1e6 * seconds;
  }
  void phase(int thread, StepPhases::Phase phase, double us) override {
    rows_[static_cast<std::size_t>(thread)].us[phase] += us;
  }
  struct alignas(64) Row {
    double us[StepPhases::Count] = {};
  };
  const std::vector<Row>& rows() const { return rows_; }

 private:
  std::vector<Row> rows_;
};

}  // namespace

template <typename T>
GemmProfile Engine<T>::record_step() {
  require_whole_data("recording a step");
  GemmProfile profile;
  profile.per_thread.resize(static_cast<std::size_t>(options.threads));
  ProductRecorder recorder(profile);
  observer_ = &recorder;
  try {
    step();
  } catch (...) {
    observer_ = nullptr;
    throw;
  }
  observer_ = nullptr;
  return profile;
}

template <typename T>
double Engine<T>::thread_round_trip_ns() {
  if (options.threads < 2) return 0;
  // Thread 0 writes an odd number, thread 1 answers with the next even one, on one cache line.
  struct alignas(64) Line {
    std::atomic<std::uint64_t> value{0};
  };
  Line line;
  constexpr int kBatches = 5, kTrips = 4000;
  std::array<double, kBatches> ns{};
  pool_.run([&](int t) {
    if (t > 1) return;
    for (int batch = 0; batch < kBatches; ++batch) {
      const auto start = std::chrono::steady_clock::now();
      for (std::uint64_t i = 0; i < kTrips; ++i) {
        const std::uint64_t n = (static_cast<std::uint64_t>(batch) * kTrips + i) * 2;
        if (t == 0) line.value.store(n + 1, std::memory_order_release);
        const std::uint64_t want = t == 0 ? n + 2 : n + 1;
        for (unsigned turn = 0; line.value.load(std::memory_order_acquire) != want; ++turn) relax(turn);
        if (t == 1) line.value.store(n + 2, std::memory_order_release);
      }
      if (t == 0) ns[batch] = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kTrips;
    }
  });
  std::sort(ns.begin(), ns.end());
  return ns[kBatches / 2];
}

template <typename T>
StepPhases Engine<T>::time_step_phases(int count) {
  require_whole_data("timing a step");
  PhaseClock clock(options.threads);
  observer_ = &clock;
  const auto start = std::chrono::steady_clock::now();
  try {
    for (int s = 0; s < count; ++s) step();
  } catch (...) {
    observer_ = nullptr;
    throw;
  }
  const double wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  observer_ = nullptr;
  StepPhases r;
  r.steps = count;
  r.step_us = count > 0 ? wall / count : 0;
  for (const PhaseClock::Row& row : clock.rows()) {
    std::vector<double>& mine = r.per_thread.emplace_back(StepPhases::Count, 0.0);
    for (int p = 0; p < StepPhases::Count; ++p) mine[p] = count > 0 ? row.us[p] / count : 0;
    mine[StepPhases::Elementwise] -= mine[StepPhases::Products];  // it held the whole kernel
  }
  return r;
}

namespace {

// The bytes a row-major operand of `rows` rows with leading dimension `ld` spans.
std::size_t span_bytes(std::int64_t rows, std::int64_t cols, std::int64_t ld, std::size_t size) {
  if (rows <= 0 || cols <= 0) return 0;
  return static_cast<std::size_t>((rows - 1) * ld + cols) * size;
}

}  // namespace

template <typename T>
double Engine<T>::replay_gemms(const GemmProfile& profile, int repeats, bool as_in_step, bool after_update,
                               std::vector<std::vector<double>>* per_call) {
  const int threads = std::min<int>(options.threads, static_cast<int>(profile.per_thread.size()));
  struct Operand {
    std::uintptr_t at;
    std::size_t bytes;
  };
  // Every operand of every call, as the step laid them out.
  auto operands = [](const GemmCall& g) {
    std::array<Operand, 3> o{};
    o[0] = {reinterpret_cast<std::uintptr_t>(g.a),
            span_bytes(g.transpose_a ? g.k : g.m, g.transpose_a ? g.m : g.k, g.lda, sizeof(T))};
    o[1] = {reinterpret_cast<std::uintptr_t>(g.b),
            span_bytes(g.transpose_b ? g.n : g.k, g.transpose_b ? g.k : g.n, g.ldb, sizeof(T))};
    o[2] = {reinterpret_cast<std::uintptr_t>(g.c), span_bytes(g.m, g.n, g.ldc, sizeof(T))};
    return o;
  };
  // The regions: overlapping operands merged, each region one buffer of the same size and the
  // same offset within a cache line. With `as_in_step` false, one region per thread and operand.
  std::vector<Operand> regions;
  if (as_in_step) {
    std::vector<Operand> all;
    for (int t = 0; t < threads; ++t) {
      for (const GemmCall& g : profile.per_thread[t]) {
        for (const Operand& o : operands(g)) {
          if (o.bytes > 0) all.push_back(o);
        }
      }
    }
    std::sort(all.begin(), all.end(), [](const Operand& x, const Operand& y) { return x.at < y.at; });
    for (const Operand& o : all) {
      if (!regions.empty() && o.at <= regions.back().at + regions.back().bytes) {
        Operand& r = regions.back();
        r.bytes = std::max(r.bytes, o.at + o.bytes - r.at);
      } else {
        regions.push_back(o);
      }
    }
  }
  std::vector<std::vector<T>> buffers;
  std::vector<T*> starts;  // where each region's first byte lands
  constexpr std::size_t kLine = 64;
  for (const Operand& r : regions) {
    std::size_t skew = r.at % kLine;
    buffers.emplace_back((r.bytes + 2 * kLine) / sizeof(T) + 1, T(0.01));
    auto base = reinterpret_cast<std::uintptr_t>(buffers.back().data());
    std::uintptr_t aligned = (base + kLine - 1) / kLine * kLine;
    starts.push_back(reinterpret_cast<T*>(aligned + skew));
  }
  auto translate = [&](const void* p) -> T* {
    auto at = reinterpret_cast<std::uintptr_t>(p);
    auto it = std::upper_bound(regions.begin(), regions.end(), at,
                               [](std::uintptr_t x, const Operand& r) { return x < r.at; });
    std::size_t i = static_cast<std::size_t>(it - regions.begin()) - 1;
    return reinterpret_cast<T*>(reinterpret_cast<std::uintptr_t>(starts[i]) + (at - regions[i].at));
  };
  // Each thread's calls with their operands moved to the replay's buffers.
  struct Call {
    GemmCall g;
    const T *a, *b;
    T* c;
  };
  std::vector<std::vector<Call>> calls(threads);
  std::vector<std::vector<T>> reused(3 * static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    if (!as_in_step) {
      std::size_t n[3] = {1, 1, 1};
      for (const GemmCall& g : profile.per_thread[t]) {
        auto o = operands(g);
        for (int j = 0; j < 3; ++j) n[j] = std::max(n[j], o[j].bytes / sizeof(T) + 1);
      }
      for (int j = 0; j < 3; ++j) reused[3 * t + j].assign(n[j], T(0.01));
    }
    for (const GemmCall& g : profile.per_thread[t]) {
      Call c{g, nullptr, nullptr, nullptr};
      if (as_in_step) {
        c.a = g.a ? translate(g.a) : nullptr;
        c.b = g.b ? translate(g.b) : nullptr;
        c.c = g.c ? translate(g.c) : nullptr;
      } else {
        c.a = reused[3 * t].data();
        c.b = reused[3 * t + 1].data();
        c.c = reused[3 * t + 2].data();
      }
      calls[t].push_back(c);
    }
  }
  // after_update: between repetitions every thread writes its slice of the params' buffers,
  // as the optimizer's update does between steps, so the next products read params the other
  // threads wrote (cache lines moving between cores).
  std::vector<std::pair<T*, std::size_t>> written;
  if (as_in_step && after_update) {
    for (int i : param_inputs_) {
      auto at = reinterpret_cast<std::uintptr_t>(params_[i].data);
      const std::uintptr_t end = at + params_[i].size * sizeof(T);
      // A param the products read: some call's A or B points into it. (A region can also
      // reach into a param no product reads: a deferred product is recorded as one call
      // over all the rows from its first piece's operand, past that piece's buffer.)
      bool read = false;
      for (int t = 0; t < threads && !read; ++t) {
        for (const GemmCall& g : profile.per_thread[t]) {
          for (const void* operand : {g.a, g.b}) {
            auto o = reinterpret_cast<std::uintptr_t>(operand);
            read |= operand != nullptr && at <= o && o < end;
          }
        }
      }
      auto region = std::find_if(regions.begin(), regions.end(),
                                 [&](const Operand& r) { return r.at <= at && at < r.at + r.bytes; });
      if (!read || region == regions.end()) continue;
      // Its part inside the region that holds it (all of it, for a weight matrix).
      const std::size_t inside = (std::min(end, region->at + region->bytes) - at) / sizeof(T);
      written.push_back({translate(params_[i].data), inside});
    }
  }
  SpinBarrier between(threads);
  bool timing = false;  // per_call's run
  auto run = [&](int reps) {
    pool_.run([&](int t) {
      if (t >= threads) return;
      for (int r = 0; r < reps; ++r) {
        if (!written.empty()) {
          between.wait();
          for (auto& [p, n] : written) {
            auto [b, e] = part(n, threads, t);
            for (std::size_t x = b; x < e; ++x) p[x] = p[x] * T(0.9999999) + T(1e-9);
          }
          between.wait();
        }
        for (std::size_t i = 0; i < calls[t].size(); ++i) {
          const Call& c = calls[t][i];
          const GemmCall& g = c.g;
          auto call_start = timing ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
          gemm_as<T>(nullptr, g.transpose_a, g.transpose_b, g.m, g.n, g.k, 1.0, c.a, g.lda, c.b, g.ldb, g.beta, c.c,
                     g.ldc);
          if (timing) {
            (*per_call)[t][i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - call_start).count();
          }
        }
      }
    });
  };
  run(std::max(1, repeats / 10));  // warm-up
  auto start = std::chrono::steady_clock::now();
  run(repeats);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
  if (per_call) {
    // Each call timed on its own, in a run of its own (the clock's reads stay out of the bound).
    per_call->assign(threads, {});
    for (int t = 0; t < threads; ++t) (*per_call)[t].assign(calls[t].size(), 0.0);
    timing = true;
    run(repeats);
    for (auto& thread : *per_call) {
      for (double& s : thread) s /= repeats;
    }
  }
  return seconds;
}

// The members defined here, for both precisions.
template StepPhases Engine<float>::time_step_phases(int count);
template double Engine<float>::thread_round_trip_ns();
template double Engine<double>::thread_round_trip_ns();
template StepPhases Engine<double>::time_step_phases(int count);
template GemmProfile Engine<float>::record_step();
template GemmProfile Engine<double>::record_step();
template double Engine<float>::replay_gemms(const GemmProfile& profile, int repeats, bool as_in_step, bool after_update,
                                            std::vector<std::vector<double>>* per_call);
template double Engine<double>::replay_gemms(const GemmProfile& profile, int repeats, bool as_in_step, bool after_update,
                                             std::vector<std::vector<double>>* per_call);

}  // namespace vmc::runtime::detail

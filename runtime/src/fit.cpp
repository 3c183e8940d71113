// The fit loop, checkpoints and traces (runtime/include/vmc/fit.hpp).
#include "vmc/fit.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

#include <unistd.h>

#include "fnv.hpp"
#include "vmc/files.hpp"

namespace vmc::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using detail::fnv1a;


template <typename V> void put(std::string& out, const V& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename V> V get(const std::string& in, std::size_t& at, const std::string& path) {
  if (in.size() - at < sizeof(V)) throw RuntimeError(path + ": checkpoint is truncated");
  V v;
  std::memcpy(&v, in.data() + at, sizeof v);
  at += sizeof v;
  return v;
}

constexpr char kMagic[8] = {'V', 'M', 'C', 'C', 'K', 'P', 'T', '1'};

std::string clock_text(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  auto t = static_cast<long long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string problem = files::write_atomic(path, bytes);
  if (!problem.empty()) throw RuntimeError(path + ": cannot write: " + problem);
}

void write_checkpoint(const std::string& path, const Trainer& trainer, const FitHistory& h) {
  std::string out(kMagic, sizeof kMagic);
  std::string state = trainer.save_state();
  put<std::uint64_t>(out, state.size());
  out += state;
  put<std::uint64_t>(out, h.trace.size());
  for (const TraceRow& r : h.trace) {
    put(out, r.step);
    put(out, r.datapoints_seen);
    put(out, r.elbo);
    put(out, r.smoothed);
    put(out, r.wall_s);
  }
  put<std::uint64_t>(out, h.tests.size());
  for (const TestPoint& t : h.tests) {
    put(out, t.step);
    put(out, t.elbo);
  }
  put(out, h.wall_s);
  put(out, fnv1a(out));
  write_file_atomic(path, out);
}

std::string read_checkpoint_bytes(const std::string& path) {
  std::string problem;
  std::optional<std::string> bytes = files::read_file(path, problem);
  if (!bytes) throw RuntimeError(path + ": " + problem);
  return std::move(*bytes);
}

void read_checkpoint(const std::string& path, Trainer& trainer, FitHistory& h, bool params_only) {
  restore_checkpoint(read_checkpoint_bytes(path), path, trainer, h, params_only);
}

void restore_checkpoint(const std::string& bytes, const std::string& path, Trainer& trainer, FitHistory& h,
                        bool params_only) {
  if (bytes.size() < sizeof kMagic + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw RuntimeError(path + ": not a vmc checkpoint");
  }
  std::uint64_t sum;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (fnv1a(bytes.substr(0, bytes.size() - 8)) != sum) {
    throw RuntimeError(path + ": checkpoint is damaged (its checksum does not match)");
  }
  std::size_t at = sizeof kMagic;
  auto n = get<std::uint64_t>(bytes, at, path);
  if (bytes.size() - at < n) throw RuntimeError(path + ": checkpoint is truncated");
  std::string state = bytes.substr(at, n);
  at += n;
  FitHistory loaded;
  auto rows = get<std::uint64_t>(bytes, at, path);
  if (rows > bytes.size()) throw RuntimeError(path + ": checkpoint is damaged");
  for (std::uint64_t i = 0; i < rows; ++i) {
    TraceRow r;
    r.step = get<std::int64_t>(bytes, at, path);
    r.datapoints_seen = get<std::int64_t>(bytes, at, path);
    r.elbo = get<double>(bytes, at, path);
    r.smoothed = get<double>(bytes, at, path);
    r.wall_s = get<double>(bytes, at, path);
    loaded.trace.push_back(r);
  }
  auto tests = get<std::uint64_t>(bytes, at, path);
  if (tests > bytes.size()) throw RuntimeError(path + ": checkpoint is damaged");
  for (std::uint64_t i = 0; i < tests; ++i) {
    TestPoint t;
    t.step = get<std::int64_t>(bytes, at, path);
    t.elbo = get<double>(bytes, at, path);
    loaded.tests.push_back(t);
  }
  loaded.wall_s = get<double>(bytes, at, path);
  try {
    trainer.restore_state(state, params_only);
  } catch (const RuntimeError& e) {
    std::string what = e.what();
    if (what.rfind("checkpoint: ", 0) == 0) what = what.substr(12);
    throw RuntimeError(path + ": " + what);
  }
  h = std::move(loaded);
}

void write_trace_csv(const std::string& path, const FitHistory& h) {
  std::string out = "step,datapoints_seen,elbo,smoothed_elbo,wall_s\n";
  char line[160];
  for (const TraceRow& r : h.trace) {
    std::snprintf(line, sizeof line, "%lld,%lld,%.9g,%.9g,%.6f\n", static_cast<long long>(r.step),
                  static_cast<long long>(r.datapoints_seen), r.elbo, r.smoothed, r.wall_s);
    out += line;
  }
  write_file_atomic(path, out);
}

LoopResult run_fit(Trainer& trainer, FitHistory& h, const LoopOptions& o, std::ostream& log) {
  LoopResult result;
  result.stop_reason = "steps";
  const auto start = Clock::now();
  const double wall0 = h.wall_s;
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  // The smoothed bound: the mean of the last kSmoothingWindow estimates (from the history, so a
  // resumed fit smooths exactly as an uninterrupted one).
  double window_sum = 0;
  std::size_t first = h.trace.size() > static_cast<std::size_t>(kSmoothingWindow) ? h.trace.size() - kSmoothingWindow : 0;
  for (std::size_t i = first; i < h.trace.size(); ++i) window_sum += h.trace[i].elbo;
  std::vector<double> rel_changes;
  const std::int64_t check_every = 100;
  int nonfinite_run = 0;
  double last_print = -1, last_checkpoint = 0;
  const std::int64_t start_step = trainer.steps_done();
  const std::int64_t start_seen = trainer.datapoints_seen();
  const std::int64_t total = o.steps;
  const std::int64_t print_every = std::max<std::int64_t>(1, (total - start_step) / 10);

  auto progress = [&](bool final) {
    if (o.quiet) return;
    double t = elapsed();
    std::int64_t done = trainer.steps_done();
    double rate = t > 0 ? static_cast<double>(trainer.datapoints_seen() - start_seen) / t : 0;
    double steps_rate = t > 0 ? static_cast<double>(done - start_step) / t : 0;
    double eta = steps_rate > 0 ? static_cast<double>(total - done) / steps_rate : NAN;
    double smoothed = h.trace.empty() ? NAN : h.trace.back().smoothed;
    char buf[256];
    if (o.terminal) {
      const int width = 24;
      double frac = total > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 1;
      int filled = static_cast<int>(frac * width);
      std::string bar(filled, '=');
      if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
      std::snprintf(buf, sizeof buf, "\rstep %lld/%lld [%s] %3.0f%%  %.0f datapoints/s  elbo %.4g  ETA %s ",
                    static_cast<long long>(done), static_cast<long long>(total), bar.c_str(), 100 * frac,
                    rate, smoothed, clock_text(eta).c_str());
      log << buf << (final ? "\n" : "") << std::flush;
    } else {
      std::snprintf(buf, sizeof buf, "step %lld/%lld  datapoints/s %.0f  smoothed elbo %.6g  elapsed %s  ETA %s\n",
                    static_cast<long long>(done), static_cast<long long>(total), rate, smoothed,
                    clock_text(wall0 + t).c_str(), clock_text(eta).c_str());
      log << buf << std::flush;
    }
  };

  while (trainer.steps_done() < total) {
    // With ranks, all stop at the same step when any was interrupted (mpirun forwards the
    // signal to each, but not at the same instant).
    if (trainer.any_rank(o.interrupt && o.interrupt->load())) {
      result.stop_reason = "interrupted";
      break;
    }
    StepResult s = trainer.step();
    if (!s.finite) {
      ++result.nonfinite_steps;
      result.problem = s.problem;
      if (nonfinite_run == 0) result.first_nonfinite_step = trainer.steps_done();
      if (!o.quiet || nonfinite_run == 0) {
        log << (o.terminal ? "\n" : "") << "warning: step " << trainer.steps_done() << ": " << s.problem
            << "; the params keep their last finite values and this step is skipped\n";
      }
      if (++nonfinite_run >= o.max_nonfinite) {
        result.stop_reason = "nonfinite";
        result.restored_step = trainer.restore_last_good_state();
        break;
      }
      continue;
    }
    nonfinite_run = 0;
    TraceRow row;
    row.step = trainer.steps_done();
    row.datapoints_seen = trainer.datapoints_seen();
    row.elbo = s.elbo_per_datapoint;
    window_sum += row.elbo;
    if (h.trace.size() >= static_cast<std::size_t>(kSmoothingWindow)) {
      window_sum -= h.trace[h.trace.size() - kSmoothingWindow].elbo;
    }
    std::size_t n = std::min<std::size_t>(h.trace.size() + 1, kSmoothingWindow);
    row.smoothed = window_sum / static_cast<double>(n);
    double t = elapsed();
    row.wall_s = wall0 + t;
    h.trace.push_back(row);
    ++result.steps_this_session;
    result.datapoints_this_session += s.rows;

    if (o.eval_every > 0 && o.test && row.step % o.eval_every == 0) {
      double v = trainer.evaluate(*o.test, o.eval_kernel, static_cast<std::uint64_t>(row.step / o.eval_every));
      h.tests.push_back({row.step, v});
      if (!o.quiet) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "%sstep %lld: test elbo per datapoint %.6g\n", o.terminal ? "\n" : "",
                      static_cast<long long>(row.step), v);
        log << buf;
      }
    }
    if (o.tol_rel_obj > 0 && row.step % check_every == 0 && h.trace.size() > static_cast<std::size_t>(check_every)) {
      double before = h.trace[h.trace.size() - 1 - check_every].smoothed;
      rel_changes.push_back(std::abs(row.smoothed - before) / std::max(std::abs(row.smoothed), 1e-12));
      std::vector<double> recent(rel_changes.end() - std::min<std::size_t>(rel_changes.size(), 5), rel_changes.end());
      if (rel_changes.size() >= 2 && median(recent) < o.tol_rel_obj) {
        result.stop_reason = "converged";
        break;
      }
    }
    if (o.terminal ? t - last_print >= 0.1 : (row.step - start_step) % print_every == 0) {
      progress(false);
      last_print = t;
    }
    if (!o.checkpoint_path.empty() &&
        (t - last_checkpoint >= 300 || (o.checkpoint_every > 0 && (row.step - start_step) % o.checkpoint_every == 0))) {
      h.wall_s = wall0 + t;
      write_checkpoint(o.checkpoint_path, trainer, h);
      last_checkpoint = t;
    }
  }
  result.fit_s = elapsed();
  h.wall_s = wall0 + result.fit_s;
  if (o.terminal) progress(true);
  result.final_smoothed = h.trace.empty() ? NAN : h.trace.back().smoothed;
  if (!o.checkpoint_path.empty()) write_checkpoint(o.checkpoint_path, trainer, h);
  return result;
}

}  // namespace vmc::runtime

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

#include <fcntl.h>
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

constexpr char kMagicV1[8] = {'V', 'M', 'C', 'C', 'K', 'P', 'T', '1'};
constexpr char kMagic[8] = {'V', 'M', 'C', 'C', 'K', 'P', 'T', '2'};

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

// The smoothed bound: the mean of the last kSmoothingWindow estimates (from the history, so a
// resumed fit smooths exactly as an uninterrupted one), summed afresh at every step: a running
// add-and-subtract sum never recovers from one huge estimate (issue 22: +4e20 per datapoint
// stayed after it had left the window, and --tol-rel-obj read it).
double smoothed_bound(const FitHistory& h, double latest) {
  double sum = latest;
  std::size_t n = 1;
  for (std::size_t i = h.trace.size(); i-- > 0 && n < static_cast<std::size_t>(kSmoothingWindow); ++n) {
    sum += h.trace[i].elbo;
  }
  return sum / static_cast<double>(n);
}

// An estimate a thousand times further from the smoothed bound than the bound's own size is an
// outlier (a rare draw far in a tail): said (once per fit, by the caller), since it moves the
// smoothed bound for the next kSmoothingWindow steps. True when it said so.
bool said_outlier(const FitHistory& h, const TraceRow& row, bool terminal, std::ostream& log) {
  if (h.trace.size() < 10) return false;
  double before = h.trace.back().smoothed;
  if (!(std::abs(row.elbo - before) > 1e3 * (1 + std::abs(before)))) return false;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%swarning: step %lld: the bound's estimate %.4g per datapoint is an outlier (the smoothed "
                "bound was %.6g); it weighs on the smoothed bound for the next %d steps\n",
                terminal ? "\n" : "", static_cast<long long>(row.step), row.elbo, before, kSmoothingWindow);
  log << buf;
  return true;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string problem = files::write_atomic(path, bytes);
  if (!problem.empty()) throw RuntimeError(path + ": cannot write: " + problem);
}

void FitHistory::add(const TraceRow& row) {
  trace.push_back(row);
  ++unwritten;
  if (row.step % curve_stride == 0) {
    curve.push_back(row);
    if (curve.size() > kCurveRows) {  // every other row, at twice the stride
      std::size_t kept = 0;
      curve_stride *= 2;
      for (const TraceRow& r : curve)
        if (r.step % curve_stride == 0) curve[kept++] = r;
      curve.resize(kept);
    }
  }
}

namespace {

void put_rows(std::string& out, const std::vector<TraceRow>& rows) {
  put<std::uint64_t>(out, rows.size());
  for (const TraceRow& r : rows) {
    put(out, r.step);
    put(out, r.datapoints_seen);
    put(out, r.elbo);
    put(out, r.smoothed);
    put(out, r.wall_s);
  }
}

std::vector<TraceRow> get_rows(const std::string& bytes, std::size_t& at, const std::string& path) {
  auto rows = get<std::uint64_t>(bytes, at, path);
  if (rows > (bytes.size() - at) / 40) throw RuntimeError(path + ": checkpoint is damaged");
  std::vector<TraceRow> out(rows);
  for (TraceRow& r : out) {
    r.step = get<std::int64_t>(bytes, at, path);
    r.datapoints_seen = get<std::int64_t>(bytes, at, path);
    r.elbo = get<double>(bytes, at, path);
    r.smoothed = get<double>(bytes, at, path);
    r.wall_s = get<double>(bytes, at, path);
  }
  return out;
}

std::string csv_row(const TraceRow& r) {
  char line[160];
  std::snprintf(line, sizeof line, "%lld,%lld,%.9g,%.9g,%.6f\n", static_cast<long long>(r.step),
                static_cast<long long>(r.datapoints_seen), r.elbo, r.smoothed, r.wall_s);
  return line;
}

constexpr const char* kTraceHeader = "step,datapoints_seen,elbo,smoothed_elbo,wall_s\n";

}  // namespace

// Version 2: the engine's state, then the history (rows_in_file, the trace's last rows, the
// curve, the tests, the time, the caller's record), then a checksum of all of it. The trace's
// rows in a checkpoint are at most kTraceTail + the curve's, whatever the number of steps.
void write_checkpoint(const std::string& path, const Trainer& trainer, const FitHistory& h) {
  std::string out(kMagic, sizeof kMagic);
  std::string state = trainer.save_state();
  put<std::uint64_t>(out, state.size());
  out += state;
  put<std::int64_t>(out, h.rows_in_file + static_cast<std::int64_t>(h.unwritten));
  std::vector<TraceRow> tail(h.trace.end() - static_cast<long>(std::min(h.trace.size(), kTraceTail)), h.trace.end());
  put_rows(out, tail);
  put<std::int64_t>(out, h.curve_stride);
  put_rows(out, h.curve);
  put<std::uint64_t>(out, h.tests.size());
  for (const TestPoint& t : h.tests) {
    put(out, t.step);
    put(out, t.elbo);
  }
  put(out, h.wall_s);
  put<std::uint64_t>(out, h.meta.size());
  out += h.meta;
  // Added after format 2's fields (a checkpoint without it reads as one without a state).
  put<std::uint64_t>(out, h.convergence.size());
  out += h.convergence;
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

namespace {

// A checkpoint's bytes, checked (magic, checksum, counts) and split: the engine's state into
// `state`, the rest returned. Throws RuntimeError naming `path`.
FitHistory parse_checkpoint(const std::string& bytes, const std::string& path, std::string& state) {
  if (bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagicV1, sizeof kMagicV1) == 0) {
    throw RuntimeError(path + ": a checkpoint of an older vmc (format 1, which held the whole trace): "
                              "refit, or use the vmc that wrote it");
  }
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
  state = bytes.substr(at, n);
  at += n;
  FitHistory loaded;
  loaded.rows_in_file = get<std::int64_t>(bytes, at, path);
  loaded.trace = get_rows(bytes, at, path);
  loaded.curve_stride = get<std::int64_t>(bytes, at, path);
  loaded.curve = get_rows(bytes, at, path);
  if (loaded.rows_in_file < static_cast<std::int64_t>(loaded.trace.size()) || loaded.curve_stride < 1 ||
      loaded.trace.size() > kTraceTail || loaded.curve.size() > kCurveRows + 1) {
    throw RuntimeError(path + ": checkpoint is damaged (its trace does not add up)");
  }
  auto tests = get<std::uint64_t>(bytes, at, path);
  if (tests > (bytes.size() - at) / 16) throw RuntimeError(path + ": checkpoint is damaged");
  for (std::uint64_t i = 0; i < tests; ++i) {
    TestPoint t;
    t.step = get<std::int64_t>(bytes, at, path);
    t.elbo = get<double>(bytes, at, path);
    loaded.tests.push_back(t);
  }
  loaded.wall_s = get<double>(bytes, at, path);
  auto meta = get<std::uint64_t>(bytes, at, path);
  if (meta > bytes.size() - at - 8) throw RuntimeError(path + ": checkpoint is truncated");
  loaded.meta = bytes.substr(at, meta);
  at += meta;
  if (bytes.size() - 8 - at >= 8) {
    auto n = get<std::uint64_t>(bytes, at, path);
    if (n > bytes.size() - at - 8) throw RuntimeError(path + ": checkpoint is truncated");
    loaded.convergence = bytes.substr(at, n);
  }
  return loaded;
}

}  // namespace

void restore_checkpoint(const std::string& bytes, const std::string& path, Trainer& trainer, FitHistory& h,
                        bool params_only) {
  std::string state;
  FitHistory loaded = parse_checkpoint(bytes, path, state);
  try {
    trainer.restore_state(state, params_only);
  } catch (const RuntimeError& e) {
    std::string what = e.what();
    if (what.rfind("checkpoint: ", 0) == 0) what = what.substr(12);
    throw RuntimeError(path + ": " + what);
  }
  h = std::move(loaded);
}

std::string checkpoint_meta(const std::string& bytes) {
  try {
    std::string state;
    return parse_checkpoint(bytes, "", state).meta;
  } catch (const RuntimeError&) {
    return "";
  }
}

std::string begin_trace(const std::string& path, FitHistory& h) {
  std::string warning;
  std::string keep = kTraceHeader;
  if (h.rows_in_file > 0) {
    // The file's first rows_in_file rows after its header; a partial last line (a kill while
    // appending) or rows past the checkpoint (a kill before the next one) are cut.
    std::string problem;
    std::optional<std::string> text = files::read_file(path, problem);
    std::int64_t rows = 0;
    std::size_t end = 0;
    if (text && text->rfind(kTraceHeader, 0) == 0) {
      end = std::strlen(kTraceHeader);
      while (rows < h.rows_in_file) {
        std::size_t nl = text->find('\n', end);
        if (nl == std::string::npos) break;
        end = nl + 1;
        ++rows;
      }
      keep = text->substr(0, end);
    }
    if (rows < h.rows_in_file) {
      // The checkpoint keeps the trace's last rows: those the file lost are put back, so that the
      // file ends with them as the checkpoint's count says (a checkpoint whose tail is longer
      // than the file's rows would be refused as damaged).
      const auto tail = static_cast<std::int64_t>(h.trace.size());
      const std::int64_t restored = std::min(h.rows_in_file - rows, tail);
      for (std::int64_t i = tail - restored; i < tail; ++i) keep += csv_row(h.trace[static_cast<std::size_t>(i)]);
      warning = path + " has " + std::to_string(rows) + " of the " + std::to_string(h.rows_in_file) +
                " trace rows the checkpoint counts" + (text ? std::string() : " (" + problem + ")") + ": " +
                std::to_string(restored) + " put back from the checkpoint" +
                (restored < h.rows_in_file - rows ? ", the " + std::to_string(h.rows_in_file - rows - restored) +
                                                        " before them lost"
                                                  : "");
      h.rows_in_file = rows + restored;
    }
  }
  write_file_atomic(path, keep);
  return warning;
}

void append_trace(const std::string& path, FitHistory& h, bool durable) {
  if (h.unwritten > 0) {
    std::string out;
    for (std::size_t i = h.trace.size() - h.unwritten; i < h.trace.size(); ++i) out += csv_row(h.trace[i]);
    // O_NOFOLLOW: begin_trace made the file; a symlink put in its place is not written through.
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    std::FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "ab");
    if (!f) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      throw RuntimeError(path + ": cannot write: " + std::strerror(err));
    }
    bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
    int err = ok ? 0 : errno;
    if (std::fflush(f) != 0 && ok) err = errno, ok = false;
    if (durable && ::fsync(::fileno(f)) != 0 && ok) err = errno, ok = false;
    if (std::fclose(f) != 0 && ok) err = errno, ok = false;
    if (!ok) throw RuntimeError(path + ": cannot write: " + std::strerror(err ? err : EIO));
    h.rows_in_file += static_cast<std::int64_t>(h.unwritten);
    h.unwritten = 0;
  }
  if (h.trace.size() > 2 * kTraceTail) h.trace.erase(h.trace.begin(), h.trace.end() - kTraceTail);
}

void write_trace_csv(const std::string& path, const FitHistory& h) {
  std::string out = kTraceHeader;
  for (const TraceRow& r : h.trace) out += csv_row(r);
  write_file_atomic(path, out);
}

LoopResult run_fit(Trainer& trainer, FitHistory& h, const LoopOptions& o, std::ostream& log) {
  LoopResult result;
  result.stop_reason = "steps";
  const auto start = Clock::now();
  const double wall0 = h.wall_s;
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  bool outlier_said = false;
  std::vector<double> rel_changes;
  const std::int64_t check_every = 100;
  int nonfinite_run = 0;
  double last_print = -1, last_checkpoint = 0;
  std::vector<double> iterate;  // the params after a step, for the convergence check
  std::string explained;        // the current run of non-finite steps' statement
  const double base_lr = trainer.options().lr;
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
    if (o.lr_at || o.convergence) {
      double lr = o.lr_at ? o.lr_at(trainer.steps_done()) : base_lr;
      trainer.set_lr(o.convergence ? lr * o.convergence->status().lr_factor() : lr);
    }
    StepResult s = trainer.step();
    if (!s.finite) {
      // Which statement went wrong, when the caller can tell: asked once per run of them.
      if (nonfinite_run == 0) explained = o.explain_nonfinite ? o.explain_nonfinite() : "";
      if (!explained.empty()) s.problem = s.problem.substr(0, s.problem.find(" (")) + ": " + explained;
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
    row.smoothed = smoothed_bound(h, row.elbo);
    if (!outlier_said) outlier_said = said_outlier(h, row, o.terminal, log);
    double t = elapsed();
    row.wall_s = wall0 + t;
    h.add(row);
    // Rows go to the file in blocks between checkpoints too, so memory stays bounded; only the
    // append before a checkpoint waits for the disk.
    if (!o.trace_path.empty() && h.unwritten >= kTraceBlock) append_trace(o.trace_path, h, /*durable=*/false);
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
    if (o.convergence) {
      trainer.all_params(iterate);
      if (o.convergence->observe(row.step, iterate)) {
        result.stop_reason = "converged";
        result.converged_by = "iterates";
        break;
      }
    }
    if (o.tol_rel_obj > 0 && row.step % check_every == 0 && h.trace.size() > static_cast<std::size_t>(check_every)) {
      static_assert(kTraceTail > 100, "the check looks check_every rows back");
      double before = h.trace[h.trace.size() - 1 - check_every].smoothed;
      rel_changes.push_back(std::abs(row.smoothed - before) / std::max(std::abs(row.smoothed), 1e-12));
      std::vector<double> recent(rel_changes.end() - std::min<std::size_t>(rel_changes.size(), 5), rel_changes.end());
      if (rel_changes.size() >= 2 && median(recent) < o.tol_rel_obj) {
        result.stop_reason = "converged";
        result.converged_by = "tol-rel-obj";
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
      if (!o.trace_path.empty()) append_trace(o.trace_path, h);
      if (o.convergence) h.convergence = o.convergence->save();
      write_checkpoint(o.checkpoint_path, trainer, h);
      last_checkpoint = t;
    }
  }
  result.fit_s = elapsed();
  h.wall_s = wall0 + result.fit_s;
  if (o.terminal) progress(true);
  result.final_smoothed = h.trace.empty() ? NAN : h.trace.back().smoothed;
  if (!o.trace_path.empty()) append_trace(o.trace_path, h);
  if (o.convergence) {
    // The params from here on (the checkpoint's, the posterior's) are the average of the
    // stationary iterates; the state keeps the last one for a resumed fit.
    h.convergence = o.convergence->save();
    std::vector<double> average = o.convergence->average();
    if (result.stop_reason != "nonfinite" && !average.empty()) trainer.set_params(average);
  }
  if (!o.checkpoint_path.empty()) write_checkpoint(o.checkpoint_path, trainer, h);
  return result;
}

}  // namespace vmc::runtime

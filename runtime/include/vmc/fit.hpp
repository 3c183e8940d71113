// The fit loop around a Trainer: steps until a step count, convergence (--tol-rel-obj, as
// Stan's ADVI) or an interrupt; a smoothed bound; held-out evaluations every K steps; progress
// on a terminal or as plain lines; the trace; checkpoints written atomically that --resume
// continues bit-for-bit.
#pragma once

#include <atomic>
#include <functional>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "vmc/convergence.hpp"
#include "vmc/trainer.hpp"

namespace vmc::runtime {

struct TraceRow {
  std::int64_t step = 0;             // steps done
  std::int64_t datapoints_seen = 0;
  double elbo = 0;                   // this step's estimate, per datapoint
  double smoothed = 0;               // the mean of the last `kSmoothingWindow` estimates
  double wall_s = 0;                 // fit time so far (excluding compilation)
};

struct TestPoint {
  std::int64_t step = 0;
  double elbo = 0;  // per datapoint of the test data
};

inline constexpr int kSmoothingWindow = 100;

// Rows of the trace held in memory once they are in the trace file: enough for the smoothing
// window and the convergence check (which looks 100 steps back).
inline constexpr std::size_t kTraceTail = 128;
// Rows appended to the trace file at once between checkpoints.
inline constexpr std::size_t kTraceBlock = 4096;
// The bound's curve for the plot: at most about this many rows, evenly spaced over the fit.
inline constexpr std::size_t kCurveRows = 2000;

// What a checkpoint holds besides the engine: the end of the trace, a thinned curve of it, the
// test bounds and the time spent — O(1) in the number of steps (issue 21: 5,000,000 steps once
// made a 200 MB checkpoint). With a trace file (LoopOptions::trace_path) the rows are appended
// to it as the fit goes; without one (the host API) `trace` keeps every row.
struct FitHistory {
  std::vector<TraceRow> trace;          // the last rows (every row without a trace file)
  std::size_t unwritten = 0;            // how many of trace's last rows are not in the file yet
  std::int64_t rows_in_file = 0;        // rows of the trace file this history accounts for
  std::vector<TraceRow> curve;          // every curve_stride-th row of the whole fit
  std::int64_t curve_stride = 1;
  std::vector<TestPoint> tests;
  double wall_s = 0;
  std::string meta;                     // the caller's own record (vmc fit: the data and dims), kept as is
  std::string convergence;              // Convergence::save() at the checkpoint ("" without one)

  void add(const TraceRow& row);        // a new row: into trace (as unwritten) and the curve
};

struct LoopOptions {
  std::int64_t steps = 1000;     // total steps of the fit (a resumed fit counts its past steps)
  double tol_rel_obj = 0;        // > 0: stop when the smoothed bound's relative change is below it
  std::int64_t eval_every = 0;   // > 0 (with `test`): the test bound every K steps
  const Arrays* test = nullptr;
  std::string eval_kernel = "elbo";
  bool quiet = false;
  bool terminal = false;         // a progress bar instead of plain lines
  std::string checkpoint_path;   // written at the end, on interrupt, and every few minutes
  std::string trace_path;        // the trace CSV, appended to before each checkpoint (begin_trace first)
  std::int64_t checkpoint_every = 0;  // > 0: also every this many steps
  const std::atomic<bool>* interrupt = nullptr;
  int max_nonfinite = 20;        // consecutive non-finite steps before the fit gives up
  // When set: watches the iterates and stops the fit when they have converged (convergence.hpp);
  // its state goes into the checkpoints (FitHistory::convergence).
  Convergence* convergence = nullptr;
  // When set: called at the first of a run of non-finite steps; what it returns (when not "")
  // is added to the step's problem: which statement went wrong (vmc fit's support checks).
  std::function<std::string()> explain_nonfinite;
  // When set: the step size of step t + 1 (after t steps), given to the trainer before it (times
  // the convergence check's factor, ConvergenceStatus::lr_factor, when there is one).
  std::function<double(std::int64_t)> lr_at;
};

struct LoopResult {
  std::string stop_reason;  // "steps", "converged", "interrupted", "nonfinite"
  std::string converged_by;  // "converged": "iterates" (LoopOptions::convergence) or "tol-rel-obj"
  std::string problem;      // the last non-finite step's problem, if any
  std::int64_t nonfinite_steps = 0;
  std::int64_t first_nonfinite_step = -1;  // of the last run of them
  std::int64_t restored_step = -1;         // "nonfinite": the step whose state the params are
  double final_smoothed = 0;
  double fit_s = 0;         // this session's time in the loop
  std::int64_t steps_this_session = 0;
  std::int64_t datapoints_this_session = 0;
};

// Runs steps on `trainer` until `options.steps` are done (or it converges or is interrupted),
// appending to `history`. Progress and warnings go to `log`.
LoopResult run_fit(Trainer& trainer, FitHistory& history, const LoopOptions& options, std::ostream& log);

// A checkpoint: the engine's state and the history, with a checksum; written to a temp file
// and renamed over `path`, so a crash never leaves a half-written one. Throws RuntimeError.
void write_checkpoint(const std::string& path, const Trainer& trainer, const FitHistory& history);
// Reads one back into `trainer` (which must be built for the same model and options) and
// `history`. Throws RuntimeError naming the file and the problem.
void read_checkpoint(const std::string& path, Trainer& trainer, FitHistory& history,
                     bool params_only = false);
// The same in two halves: a checkpoint file's bytes, and those bytes (read by one rank and
// broadcast to the others) into `trainer`; `path` names the file in messages.
std::string read_checkpoint_bytes(const std::string& path);
void restore_checkpoint(const std::string& bytes, const std::string& path, Trainer& trainer, FitHistory& history,
                        bool params_only = false);

// The caller's record (FitHistory::meta) in a checkpoint's bytes, or "" when it has none or the
// bytes are not a checkpoint this vmc reads: for messages about a checkpoint that does not fit.
std::string checkpoint_meta(const std::string& bytes);

// The trace as CSV: step,datapoints_seen,elbo,smoothed_elbo,wall_s (bounds per datapoint).
// begin_trace makes `path` hold the header and the history's rows_in_file rows: a new file for
// a new fit (rows_in_file 0); for a resumed one, the file cut back to the checkpoint's rows (a
// killed run may have appended more), returning a warning when it has fewer than that (then
// the trace goes on from there). append_trace adds the unwritten rows, on disk before it returns.
std::string begin_trace(const std::string& path, FitHistory& history);
// `durable`: on disk (fsync) before it returns, as before a checkpoint.
void append_trace(const std::string& path, FitHistory& history, bool durable = true);
// The whole trace when `history` holds it all (no trace file), written at once.
void write_trace_csv(const std::string& path, const FitHistory& history);

// Writes `bytes` to `path` through a temp file and a rename. Throws RuntimeError("PATH: ...").
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace vmc::runtime

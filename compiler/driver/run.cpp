// `vmc eval` and `vmc sample`: a fit's params on a compiled model bound to data (binding.hpp),
// run by the runtime (runtime/include/vmc/trainer.hpp); `vmc fit` is fit.cpp.
#include "driver/run.hpp"
#include "driver/memory.hpp"
#include "driver/record.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "driver/binding.hpp"
#include "driver/out_of_memory.hpp"
#include "driver/outputs.hpp"
#include "lower/synthetic.hpp"
#include "vmc/fit.hpp"
#include "vmc/images.hpp"
#include "vmc/psis.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {

using runtime::Arrays;
using runtime::RuntimeError;

namespace {

// A trainer over `arrays` with the params of a fit's checkpoint.
std::unique_ptr<runtime::Trainer> from_checkpoint(const Bound& b, const Arrays& arrays, const std::string& path,
                                                  const runtime::TrainerOptions& o) {
  auto t = std::make_unique<runtime::Trainer>(b.fe.compiled->info(), arrays,
                                              lower::initial_params(*b.fe.lowered, 1), o);
  runtime::FitHistory ignored;
  std::string bytes = runtime::read_checkpoint_bytes(path);
  try {
    runtime::restore_checkpoint(bytes, path, *t, ignored, /*params_only=*/true);
  } catch (const RuntimeError& e) {
    // Say what the checkpoint was fitted with when it does not fit (other dims, other data).
    throw RuntimeError(std::string(e.what()) + fitted_on(runtime::checkpoint_meta(bytes), b));
  }
  return t;
}

// The checkpoint's own precision (issue 22: an f64 fit's checkpoint needed --precision f64 again
// for eval and sample); a different --precision is overridden with a note, since the params can
// be read in no other.
std::string precision_of(const std::string& checkpoint, const std::string& given) {
  std::string recorded = checkpoint_precision(checkpoint);
  if (recorded.empty() || recorded == given) return given;
  static bool said = false;
  if (!said) std::cerr << "note: " << checkpoint << " holds " << recorded << " params: using --precision " << recorded << '\n';
  said = true;
  return recorded;
}

}  // namespace

int run_eval(const EvalArgs& args) {
  // The estimator's samples are drawn at run time (an importance-weighted bound's K in two passes
  // of one sample's kernels), so K = 5000 costs time, not a graph of 5000 copies of the model.
  const lower::Estimator& estimator = *lower::find_estimator(args.model.estimator);
  auto b = std::make_unique<Bound>();
  ModelArgs margs = args.model;
  margs.precision = precision_of(args.params, margs.precision);
  margs.kernels = {"elbo"};
  if (!bind_model(*b, margs, args.data, true)) return 1;
  runtime::TrainerOptions o;
  o.seed = args.seed;
  o.threads = args.threads;
  o.default_batch = args.batch > 0 ? args.batch : 100;
  try {
    const Arrays& data = b->have_test ? b->test : b->train;
    auto t = from_checkpoint(*b, data, args.params, o);
    double v = while_doing("evaluating the bound",
                           [&] { return t->evaluate(data, "elbo", kStreamEval, o.default_batch); });
    std::printf("%s estimator %s (%s %d): %.9g per datapoint over %lld datapoints\n", b->fe.model->name.c_str(),
                args.model.estimator.c_str(), (std::string(1, estimator.samples) + " =").c_str(), args.model.samples, v,
                static_cast<long long>(t->datapoints()));
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  }
  return 0;
}

int run_sample(const SampleArgs& args) {
  Bound b;
  ModelArgs margs = args.model;
  margs.precision = precision_of(args.params, margs.precision);
  // predictive: the data drawn from the model given each guide draw of the latents (the
  // posterior predictive; for a local latent, given the guide's code of each row).
  std::string kernel = args.from == "model" ? "sample_model" : args.from == "predictive" ? "reconstruct" : "sample_guide";
  margs.kernels = {kernel};
  if (kernel == "sample_guide") margs.kernels.push_back("generated");
  if (!bind_model(b, margs, args.data, true)) return 1;
  // A generated block's quantities beside the latents, per draw, when every latent is global
  // (the block sees those only, and the kernel draws no local latent).
  const sema::Model& m = *b.fe.model;
  if (kernel == "sample_guide" && b.fe.compiled->kernel("generated") &&
      std::none_of(m.latents.begin(), m.latents.end(), [](const sema::Variable& v) { return v.local; })) {
    kernel = "generated";
  }
  if (!b.fe.compiled->kernel(kernel)) {
    error(args.model.model_path, "this model cannot be sampled forwards: " + b.fe.lowered->sample_model_problem);
    return 1;
  }
  std::string out = args.out.empty() ? (args.from == "guide" ? "draws.csv" : args.from + "_draws.csv") : args.out;
  try {
    runtime::TrainerOptions o;
    o.seed = args.seed;
    auto t = from_checkpoint(b, b.train, args.params, o);
    // Guide draws: the global latents per draw, and a local latent's codes for every datapoint
    // (the kernel run on a minibatch's worth of rows at a time); model draws: the first data
    // array's rows, up to 100.
    const std::int64_t batch = std::max<std::int64_t>(1, std::min<std::int64_t>(t->batch_size(), 100));
    auto sample = [&](std::int64_t count) {
      return kernel != "sample_model"
                 ? t->sample(kernel, count, std::max<std::int64_t>(1, t->datapoints()), kStreamSample, nullptr, {},
                             std::max<std::int64_t>(t->batch_size(), 100))
                 : t->sample(kernel, count, batch, kStreamSample);
    };
    auto is_kept = [&](const std::string& name) {
      return kernel == "sample_guide" || kernel == "generated" || name.rfind("mean.", 0) != 0;
    };
    // What the draws need, from one draw's values (the first draw, as the run's): 8 bytes each,
    // and up to 16 characters each in the CSV text for those written. Refused past what the
    // machine has, before it is allocated, instead of a std::bad_alloc or swapping.
    {
      const std::string what = "sampling one draw from the " + args.from;
      runtime::Draws one = while_doing(what, [&] { return sample(1); });
      double values = 0, written = 0;
      for (std::size_t k = 0; k < one.names.size(); ++k) {
        values += static_cast<double>(one.values[k].size());
        if (is_kept(one.names[k])) written += static_cast<double>(one.values[k].size());
      }
      const double draws = static_cast<double>(args.draws);
      const double need = draws * (values * 8 + written * 16 + 1);
      const MemoryLimit left = memory_left();
      const double have = left.bytes;
      if (have >= 0 && need > have) {
        char per[32];
        std::snprintf(per, sizeof per, "%.0f", values);
        error("vmc", "--draws " + std::to_string(args.draws) + " needs about " + gigabytes(need) +
                         " of memory (" + per + " values a draw, as numbers and as CSV text), more than the " +
                         gigabytes(have) + " " + left.what + "; ask for fewer draws");
        return 1;
      }
    }
    const std::string doing = "sampling " + std::to_string(args.draws) + " draws from the " + args.from;
    runtime::Draws d = while_doing(doing, [&] { return sample(args.draws); });
    std::vector<std::size_t> keep;
    for (std::size_t k = 0; k < d.names.size(); ++k) {
      if (is_kept(d.names[k])) keep.push_back(k);
    }
    while_doing("writing " + std::to_string(args.draws) + " draws to " + out,
                [&] { runtime::write_file_atomic(out, draws_csv(d, keep)); });
    std::printf("%lld draws from the %s to %s\n", static_cast<long long>(d.count), args.from.c_str(), out.c_str());
    if (std::optional<std::string> x = image_data(b); x && kernel == "sample_model") {
      std::string mean = "mean." + *x;
      if (const std::vector<double>* v = output(d, mean)) {
        // At most 100 pictures (the first draws' rows): a grid of thousands is no picture.
        constexpr std::int64_t kMaxPictures = 100;
        const std::int64_t all = static_cast<std::int64_t>(v->size()) / b.train.at(*x).shape[1];
        const std::int64_t rows = std::min(all, kMaxPictures);
        std::string png = out.substr(0, out.rfind('.')) + ".png";
        const std::string shown = rows < all ? "the first " + std::to_string(rows) + " of " + std::to_string(all)
                                             : std::to_string(rows);
        while_doing("drawing " + png, [&] {
          images::write_png_grid(png, *v, rows, *images::image_shape(b.train.at(*x).shape[1]), 10, 0, 1,
                                 b.fe.model->name + ": decoder means, " + shown + " samples from the model");
        });
        std::printf("decoder means of %s samples as images to %s\n", shown.c_str(), png.c_str());
      }
    }
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    throw;  // not the file's fault: main says what ran out of memory
  } catch (const std::exception& e) {
    error(out, e.what());
    return 1;
  }
  return 0;
}

int run_loo(const LooArgs& args) {
  Bound b;
  ModelArgs margs = args.model;
  margs.precision = precision_of(args.params, margs.precision);
  // log p(x, z) − log q(z) at one guide draw per call, and log p(y_i | z) at the same draw.
  margs.estimator = lower::default_estimator().name;
  margs.samples = 1;
  margs.kernels = {"elbo", "log_lik"};
  if (!bind_model(b, margs, args.data, true)) return 1;
  const sema::Model& model = *b.fe.model;
  for (const sema::Variable& v : model.latents) {
    if (v.local) {
      error(args.model.model_path, "vmc loo needs a model whose latents are all global; '" + v.name +
                                       "' is local (its guide sees the datapoint that LOO leaves out)");
      return 1;
    }
  }
  if (model.latents.empty()) {
    error(args.model.model_path, "vmc loo needs latents (a posterior to leave datapoints out of)");
    return 1;
  }
  if (!b.fe.compiled->kernel("log_lik")) {
    error(args.model.model_path, "vmc loo needs the likelihood as '~' statements on data, each with one term per "
                                 "datapoint: " + b.fe.lowered->log_lik_problem);
    return 1;
  }
  try {
    runtime::TrainerOptions o;
    o.seed = args.seed;
    auto t = from_checkpoint(b, b.train, args.params, o);
    const std::int64_t S = args.draws;
    std::vector<double> ratio = while_doing("drawing from the guide", [&] { return t->whole_data_draws("elbo", S, kStreamLoo); });
    runtime::Draws d = while_doing("the log-likelihood of every datapoint",
                                   [&] { return t->sample("log_lik", S, std::max<std::int64_t>(1, t->datapoints()), kStreamLoo); });
    const std::vector<double>& ll = d.values.at(0);
    const auto N = static_cast<std::int64_t>(ll.size()) / S;
    for (double v : ratio) {
      if (std::isnan(v)) throw RuntimeError("the guide's importance ratio is NaN at a draw");
    }
    Loo loo = psis_loo(ll, ratio, S, N);
    int counts[4] = {0, 0, 0, 0};
    for (double k : loo.khat) counts[!(k <= 0.5) + !(k <= 0.7) + !(k <= 1)]++;
    std::printf("Computed from %lld by %lld log-likelihood matrix (draws of the guide, importance-weighted by p/q; "
                "the guide's own k-hat %.2f)\n\n",
                static_cast<long long>(S), static_cast<long long>(N), loo.khat_ratio);
    std::printf("         Estimate %8s\n", "SE");
    std::printf("elpd_loo %8.1f %8.1f\n", loo.elpd_loo, loo.se);
    std::printf("p_loo    %8.1f %8.1f\n", loo.p_loo, loo.p_loo_se);
    std::printf("looic    %8.1f %8.1f\n", loo.looic, loo.looic_se);
    std::printf("------\nPareto k diagnostic values:\n%30s %6s\n", "Count", "Pct.");
    const char* rows[4] = {"(-Inf, 0.5]   (good)    ", " (0.5, 0.7]   (ok)      ", "   (0.7, 1]   (bad)     ",
                           "   (1, Inf)   (very bad)"};
    for (int r = 0; r < 4; ++r) {
      std::printf("%s %5d %5.1f%%\n", rows[r], counts[r], 100.0 * counts[r] / static_cast<double>(std::max<std::int64_t>(N, 1)));
    }
    if (counts[2] + counts[3] > 0) {
      std::printf("%d datapoint%s with k-hat above 0.7: their elpd is unreliable\n", counts[2] + counts[3],
                  counts[2] + counts[3] == 1 ? "" : "s");
    }
    if (!(loo.khat_ratio <= 0.7)) {
      std::cerr << "warning: the guide's own PSIS k-hat is " << loo.khat_ratio
                << " (> 0.7): it is a poor proposal for the posterior, and every estimate here is unreliable\n";
    }
    std::string csv = "datapoint,elpd_loo,p_loo,khat\n";
    char line[160];
    for (std::int64_t i = 0; i < N; ++i) {
      std::snprintf(line, sizeof line, "%lld,%.9g,%.9g,%.6g\n", static_cast<long long>(i), loo.elpd[static_cast<std::size_t>(i)],
                    loo.lppd[static_cast<std::size_t>(i)] - loo.elpd[static_cast<std::size_t>(i)], loo.khat[static_cast<std::size_t>(i)]);
      csv += line;
    }
    runtime::write_file_atomic(args.out, csv);
    std::printf("per datapoint: %s\n", args.out.c_str());
    if (!args.log_lik.empty()) {
      std::string m;
      for (std::int64_t i = 0; i < N; ++i) m += (i ? ",log_lik." : "log_lik.") + std::to_string(i);
      m += "\n";
      char v[32];
      for (std::int64_t s2 = 0; s2 < S; ++s2) {
        for (std::int64_t i = 0; i < N; ++i) {
          std::snprintf(v, sizeof v, "%s%.9g", i ? "," : "", ll[static_cast<std::size_t>(s2 * N + i)]);
          m += v;
        }
        m += "\n";
      }
      runtime::write_file_atomic(args.log_lik, m);
      std::printf("log-likelihood matrix: %s\n", args.log_lik.c_str());
    }
  } catch (const RuntimeError& e) {
    error(args.model.model_path, e.what());
    return 1;
  }
  return 0;
}

}  // namespace vmc::driver

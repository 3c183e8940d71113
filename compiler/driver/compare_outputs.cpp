// `vmc compare`'s outputs from its runs (compare.cpp): compare.csv, gradients.csv,
// compare.json, the picture (compare_plot.cpp) and the table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "driver/binding.hpp"
#include "driver/compare.hpp"
#include "driver/outputs.hpp"
#include "vmc/fit.hpp"

namespace vmc::driver {

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

namespace {

double sd_of(const std::vector<double>& v) {
  double m = mean_of(v), s = 0;
  std::size_t n = 0;
  for (double x : v) {
    if (std::isfinite(x)) s += (x - m) * (x - m), ++n;
  }
  return n > 1 ? std::sqrt(s / static_cast<double>(n - 1)) : (n == 1 ? 0.0 : NAN);
}

// "−123.4 ± 0.5" (no spread for one repeat), or "-" when there is no finite value.
std::string with_spread(const std::vector<double>& v, int repeats, const char* format = "%.2f") {
  double m = mean_of(v);
  if (!std::isfinite(m)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, m);
  std::string s = buf;
  if (repeats > 1) {
    std::snprintf(buf, sizeof buf, format, sd_of(v));
    s += std::string(" ± ") + buf;
  }
  return s;
}

}  // namespace

int write_compare(const CompareOutcome& o) {
  const CompareArgs& args = o.args;
  const std::string& dir = args.out;
  std::ostringstream curve_csv, grad_csv;
  curve_csv << "run,estimator,samples,batch,repeat,seed,step,datapoints,train_s,estimate,train_elbo,test_elbo\n";
  grad_csv << "run,estimator,samples,batch,repeat,seed,step,datapoints,group,elements,variance,mean_norm2,snr\n";
  auto quoted = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (const RunResult& r : o.results) {
    std::string head = quoted(r.spec->label) + "," + r.spec->estimator + "," + std::to_string(r.spec->samples) + "," +
                       std::to_string(r.batch) + "," + std::to_string(r.repeat) + "," + std::to_string(r.seed) + ",";
    for (const CurvePoint& p : r.curve) {
      curve_csv << head << p.step << ',' << p.datapoints << ',' << csv_number(p.train_s) << ',' << csv_number(p.estimate)
                << ',' << csv_number(p.train) << ',' << csv_number(p.test) << '\n';
    }
    for (const GradPoint& g : r.grads) {
      grad_csv << head << g.step << ',' << g.datapoints << ',' << quoted(g.group) << ',' << g.elements << ','
               << csv_number(g.variance) << ',' << csv_number(g.mean_norm2) << ',' << csv_number(g.snr) << '\n';
    }
  }

  // Per run label: the final bounds, time per step and gradient noise over its repeats.
  auto grad_of = [](const RunResult& r, const std::string& group, bool last) -> const GradPoint* {
    const GradPoint* found = nullptr;
    for (const GradPoint& g : r.grads) {
      if (g.group != group) continue;
      if (!found || (last ? g.step > found->step : g.step < found->step)) found = &g;
    }
    return found;
  };
  Json summary;
  summary["model"] = o.model_name;
  summary["model_file"] = args.model.model_path;
  summary["datapoints"] = o.datapoints;
  summary["budget_datapoints"] = o.budget;
  summary["seed"] = args.seed;
  summary["repeats"] = args.repeats;
  summary["threads"] = args.threads;
  summary["eval"] = {{"estimator", o.eval_estimator},
                     {"samples", args.eval_samples},
                     {"train_rows", std::min(args.eval_rows, o.datapoints)},
                     {"test", o.have_test}};
  summary["grad_draws"] = args.grad_draws;
  Json runs = Json::array();
  struct Row {
    std::string label, estimator, batch, ms, train, test, var_guide, var_model, snr_guide, snr_model;
  };
  std::vector<Row> rows;
  std::vector<std::string> group_names{"guide", "model", "shared", "all"};
  for (const RunSpec& spec : o.specs) {
    std::vector<double> train, test, ms;
    std::map<std::string, std::vector<double>> var_start, var_end, snr_start, snr_end;
    std::int64_t batch = 0, steps = 0;
    int n = 0;
    for (const RunResult& r : o.results) {
      if (r.spec != &spec) continue;
      ++n;
      batch = r.batch;
      steps = r.curve.back().step;
      train.push_back(r.curve.back().train);
      test.push_back(r.curve.back().test);
      ms.push_back(steps > 0 ? 1e3 * r.step_s / static_cast<double>(steps) : NAN);
      for (const std::string& g : group_names) {
        if (const GradPoint* p = grad_of(r, g, false)) var_start[g].push_back(p->variance), snr_start[g].push_back(p->snr);
        if (const GradPoint* p = grad_of(r, g, true)) var_end[g].push_back(p->variance), snr_end[g].push_back(p->snr);
      }
    }
    if (n == 0) continue;
    Json j;
    j["label"] = spec.label;
    j["estimator"] = spec.estimator;
    j["samples"] = spec.samples;
    j["batch"] = batch;
    j["steps"] = steps;
    j["repeats"] = n;
    j["ms_per_step"] = number(mean_of(ms));
    Json ckpts = Json::array();
    for (const RunResult& r : o.results) {
      if (r.spec == &spec) ckpts.push_back(r.checkpoint);
    }
    j["checkpoints"] = ckpts;
    j["final_train_elbo"] = {{"mean", number(mean_of(train))}, {"sd", number(sd_of(train))}};
    if (o.have_test) j["final_test_elbo"] = {{"mean", number(mean_of(test))}, {"sd", number(sd_of(test))}};
    Json gn = Json::object();
    for (const std::string& g : group_names) {
      if (!var_start.count(g)) continue;
      gn[g] = {{"variance_start", number(mean_of(var_start[g]))},
               {"variance_end", number(mean_of(var_end[g]))},
               {"snr_start", number(mean_of(snr_start[g]))},
               {"snr_end", number(mean_of(snr_end[g]))}};
    }
    j["gradient_noise"] = gn;
    runs.push_back(j);
    auto sci = [](const std::vector<double>& v) {
      double m = mean_of(v);
      if (!std::isfinite(m)) return std::string("-");
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g", m);
      return std::string(buf);
    };
    rows.push_back({spec.label, spec.estimator, std::to_string(batch), with_spread(ms, n, "%.3f"),
                    with_spread(train, n), o.have_test ? with_spread(test, n) : "-",
                    var_start.count("guide") ? sci(var_start["guide"]) + " / " + sci(var_end["guide"]) : "-",
                    var_start.count("model") ? sci(var_start["model"]) + " / " + sci(var_end["model"]) : "-",
                    snr_start.count("guide") ? sci(snr_start["guide"]) + " / " + sci(snr_end["guide"]) : "-",
                    snr_start.count("model") ? sci(snr_start["model"]) + " / " + sci(snr_end["model"]) : "-"});
  }
  summary["runs"] = runs;
  summary["interrupted"] = o.interrupted;
  summary["warnings"] = o.warnings;
  summary["files"] = {"compare.csv", "gradients.csv", "compare.json", "compare.svg", "checkpoints/"};

  try {
    runtime::write_file_atomic(dir + "/compare.csv", curve_csv.str());
    runtime::write_file_atomic(dir + "/gradients.csv", grad_csv.str());
    runtime::write_file_atomic(dir + "/compare.json", summary.dump(2) + "\n");
  } catch (const std::bad_alloc&) {
    throw;  // main says it ran out of memory, not that the directory is at fault
  } catch (const std::exception& e) {
    error(dir, e.what());
    return 1;
  }
  // The picture, from the files just written (vmc compare --replot draws it the same way).
  if (!draw_compare(dir)) return 1;

  // The table.
  std::vector<std::string> head{"run", "estimator", "M", "ms/step", "train bound", "test bound",
                                "grad var guide (start / end)", "grad var model", "SNR guide", "SNR model"};
  std::vector<std::vector<std::string>> table{head};
  for (const Row& r : rows) {
    table.push_back({r.label, r.estimator, r.batch, r.ms, r.train, r.test, r.var_guide, r.var_model, r.snr_guide,
                     r.snr_model});
  }
  // Display width: count UTF-8 lead bytes, not bytes ("±" is two).
  auto display_width = [](const std::string& cell) {
    std::size_t w = 0;
    for (unsigned char ch : cell) w += (ch & 0xC0) != 0x80;
    return w;
  };
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : table) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  }
  for (const auto& row : table) {
    std::string line = " ";
    for (std::size_t c = 0; c < row.size(); ++c) line += " " + row[c] + std::string(width[c] - display_width(row[c]) + 1, ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << '\n';
  }
  for (const std::string& w : o.warnings) std::cerr << "warning: " << w << '\n';
  if (!args.quiet) {
    std::cout << "  results in " << dir << "/: compare.csv gradients.csv compare.json compare.svg checkpoints/\n";
  }
  return 0;
}

}  // namespace vmc::driver

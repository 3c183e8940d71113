// `vmc compare`'s gradient noise against an independent many-draw estimate: the binary
// ($VMC_BIN) measures the gradient's variance at the initial params for estimators A and B on
// the embedded digits; this test recomputes it through the host API alone (its own noise, its
// own kernel calls on the same minibatch, the first 100 rows) and checks that
//   - the decoder's (model's) gradient variance is the same for A and B: with a standard-normal
//     prior the two estimators differ only in the KL term, which no decoder param enters, so
//     their decoder gradients are identical draw by draw;
//   - the encoder's (guide's) differs, by orders of magnitude at the initial params, in both
//     the binary's figures and this test's, and the two agree with each other.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <vmc/vmc.hpp>

namespace {

namespace fs = std::filesystem;

const std::set<std::string> kGuide = {"enc_W", "enc_b", "zm_W", "zm_b", "zv_W", "zv_b"};

// Σ_i Var[g_i] per group ("guide", "model") from `draws` gradients, per datapoint of the batch.
std::map<std::string, double> variance_by_api(vmc::Estimator e, int draws) {
  vmc::Model model = vmc::compile_file(VMC_SOURCE_DIR "/stdlib/gaussian_vae.vmodel", {.estimator = e});
  vmc::Data all = vmc::embedded_digits("x");
  const vmc::data::Array& x = all.arrays.at("x");
  const std::int64_t m = 100, d = x.shape[1];
  vmc::data::Array rows{"x", {m, d}, std::vector<double>(x.values.begin(), x.values.begin() + m * d), false};
  vmc::Data batch(rows);
  vmc::Values params = model.initial_params(all, 1);  // vmc compare --seed 1's initial values
  std::map<std::string, std::vector<double>> sum, sumsq;
  for (int s = 0; s < draws; ++s) {
    vmc::Values grad;
    model.elbo_and_grad(params, batch, model.draw_noise(batch, 1000 + s), grad);
    for (const auto& [name, g] : grad) {
      sum[name].resize(g.size());
      sumsq[name].resize(g.size());
      for (std::size_t i = 0; i < g.size(); ++i) {
        double v = g[i] / static_cast<double>(m);  // the bound of the batch as the data set: per datapoint
        sum[name][i] += v;
        sumsq[name][i] += v * v;
      }
    }
  }
  std::map<std::string, double> out;
  for (const auto& [name, s] : sum) {
    double trace = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      double mean = s[i] / draws;
      trace += (sumsq.at(name)[i] - s[i] * mean) / (draws - 1);
    }
    out[kGuide.count(name) ? "guide" : "model"] += trace;
  }
  return out;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  std::string c;
  while (std::getline(ss, c, ',')) cells.push_back(c);
  return cells;
}

}  // namespace

TEST_CASE("compare: gradient variance by estimator agrees with an independent estimate") {
  const char* bin = std::getenv("VMC_BIN");
  REQUIRE_MESSAGE(bin != nullptr, "set VMC_BIN to the vmc binary (ctest does)");
  fs::path out = fs::temp_directory_path() / ("vmc-compare-noise-" + std::to_string(::getpid()));
  fs::remove_all(out);
  std::string cmd = std::string(bin) + " compare " VMC_SOURCE_DIR "/stdlib/gaussian_vae.vmodel --estimators A,B"
                    " --steps 2 --points 2 --grad-points 1 --grad-draws 1000 --eval-rows 100 -q --out " +
                    out.string() + " > " + (out.string() + ".log") + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);

  // run,estimator,samples,batch,repeat,seed,step,datapoints,group,elements,variance,mean_norm2,snr
  std::map<std::string, std::map<std::string, double>> binary;  // estimator → group → variance at step 0
  std::ifstream csv(out / "gradients.csv");
  std::string line;
  std::getline(csv, line);
  REQUIRE(line == "run,estimator,samples,batch,repeat,seed,step,datapoints,group,elements,variance,mean_norm2,snr");
  while (std::getline(csv, line)) {
    auto c = split(line);
    REQUIRE(c.size() == 13);
    if (c[6] == "0") binary[c[1]][c[8]] = std::stod(c[10]);
  }
  fs::remove_all(out);
  fs::remove(out.string() + ".log");
  REQUIRE(binary.count("A"));
  REQUIRE(binary.count("B"));

  std::map<std::string, double> api_a = variance_by_api(vmc::Estimator::A, 500);
  std::map<std::string, double> api_b = variance_by_api(vmc::Estimator::B, 500);
  INFO("binary A: guide " << binary["A"]["guide"] << ", model " << binary["A"]["model"]);
  INFO("binary B: guide " << binary["B"]["guide"] << ", model " << binary["B"]["model"]);
  INFO("api    A: guide " << api_a["guide"] << ", model " << api_a["model"]);
  INFO("api    B: guide " << api_b["guide"] << ", model " << api_b["model"]);

  // The decoder's variance: equal for A and B, draw by draw (same ε in both runs).
  CHECK(binary["A"]["model"] == doctest::Approx(binary["B"]["model"]).epsilon(1e-4));
  CHECK(api_a["model"] == doctest::Approx(api_b["model"]).epsilon(1e-4));
  // The encoder's: B's closed-form KL removes most of it at the initial params.
  CHECK(binary["A"]["guide"] > 100 * binary["B"]["guide"]);
  CHECK(api_a["guide"] > 100 * api_b["guide"]);
  // Both estimates of the same quantity agree (1000 and 500 draws, independent noise: the trace's
  // relative standard error is a few per cent).
  for (const char* g : {"guide", "model"}) {
    CHECK(binary["A"][g] == doctest::Approx(api_a[g]).epsilon(0.1));
    CHECK(binary["B"][g] == doctest::Approx(api_b[g]).epsilon(0.1));
  }
}

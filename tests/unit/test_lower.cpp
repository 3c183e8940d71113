// Lowering of the canonical model, stdlib/gaussian_vae.vmodel, against an independent reference
// written here from the textbook formulas (Kingma & Welling, AEVB, appendices B and C.2; the
// corrected forms of /work/shared/seed/ERRATA.md): the values of L^A and L^B, their agreement in
// expectation, the exact identity of their decoder gradients under a N(0, I) prior (and the
// measured variance of their encoder gradients), and the run-time minibatch size.
#include <cmath>
#include <numbers>
#include <random>

#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {

constexpr std::int64_t kD = 5, kH = 3, kJ = 2, kN = 7, kM = 4;
const double kLog2Pi = std::log(2 * std::numbers::pi);

Dims vae_dims() { return {{"D", kD}, {"H", kH}, {"J", kJ}}; }

// W v + c for a row-major W [c.size(), v.size()].
std::vector<double> affine(const std::vector<double>& W, const std::vector<double>& c,
                           const std::vector<double>& v) {
  REQUIRE(W.size() == c.size() * v.size());
  std::vector<double> out(c);
  for (std::size_t r = 0; r < c.size(); ++r) {
    for (std::size_t k = 0; k < v.size(); ++k) out[r] += W[r * v.size() + k] * v[k];
  }
  return out;
}

std::vector<double> tanh_of(std::vector<double> v) {
  for (double& x : v) x = std::tanh(x);
  return v;
}

std::string noise_name(int sample) { return sample ? "eps.z." + std::to_string(sample) : "eps.z"; }

// The Gaussian VAE's per-datapoint terms for sample l of the minibatch bound in `b` (its rows
// are the input "x" [M, D], its noise "eps.z" [M, J], then "eps.z.1", ... per sample), from
// plain loops: log p(x_i | z_il) + log p(z_il) − log q(z_il | x_i), or with the closed form,
// log p(x_i | z_il) + ½ Σ_j (1 + log σ_ij² − μ_ij² − σ_ij²).
std::vector<double> vae_terms(const ir::Bindings& b, bool closed_form, int l) {
  const std::int64_t M = b.sizes.at("M");
  const std::vector<double>& x = in(b, "x");
  REQUIRE(x.size() == static_cast<std::size_t>(M * kD));
  const std::vector<double>& eps = in(b, noise_name(l));
  REQUIRE(eps.size() == static_cast<std::size_t>(M * kJ));
  std::vector<double> out;
  for (std::int64_t i = 0; i < M; ++i) {
    std::vector<double> xi(x.begin() + i * kD, x.begin() + (i + 1) * kD);
    // recognition model q_phi(z | x): a Gaussian MLP with a log-variance head
    std::vector<double> e = tanh_of(affine(in(b, "enc_W"), in(b, "enc_b"), xi));
    std::vector<double> mu = affine(in(b, "zm_W"), in(b, "zm_b"), e);
    std::vector<double> log_var = affine(in(b, "zv_W"), in(b, "zv_b"), e);
    std::vector<double> z(kJ), sigma(kJ);
    for (std::int64_t j = 0; j < kJ; ++j) {
      sigma[j] = std::exp(0.5 * log_var[j]);
      z[j] = mu[j] + sigma[j] * eps[i * kJ + j];
    }
    // generative model p_theta(x | z), with the 0.01 floor under its standard deviation
    std::vector<double> h = tanh_of(affine(in(b, "dec_W"), in(b, "dec_b"), z));
    std::vector<double> mean = affine(in(b, "mu_W"), in(b, "mu_b"), h);
    std::vector<double> lv = affine(in(b, "lv_W"), in(b, "lv_b"), h);
    double log_lik = 0;
    for (std::int64_t d = 0; d < kD; ++d) {
      log_lik += normal_lpdf(xi[d], mean[d], 0.01 + std::exp(0.5 * lv[d]));
    }
    double rest = 0;
    for (std::int64_t j = 0; j < kJ; ++j) {
      if (closed_form) {
        rest += 0.5 * (1 + log_var[j] - mu[j] * mu[j] - sigma[j] * sigma[j]);
      } else {
        rest += normal_lpdf(z[j], 0, 1) - normal_lpdf(z[j], mu[j], sigma[j]);
      }
    }
    out.push_back(log_lik + rest);
  }
  return out;
}

//   L^A = (1/L) Σ_l (N/M) Σ_i [log p(x_i | z_il) + log p(z_il) − log q(z_il | x_i)]
//   L^B = (1/L) Σ_l (N/M) Σ_i [log p(x_i | z_il) + ½ Σ_j (1 + log σ_ij² − μ_ij² − σ_ij²)]
double vae_reference(const ir::Bindings& b, bool closed_form, int samples = 1) {
  const double scale = static_cast<double>(b.sizes.at("N")) / static_cast<double>(b.sizes.at("M"));
  double total = 0;
  for (int l = 0; l < samples; ++l) {
    for (double t : vae_terms(b, closed_form, l)) total += scale * t;
  }
  return total / samples;
}

//   L^iwae = (N/M) Σ_i [log (1/K) Σ_k exp(log p(x_i, z_ik) − log q(z_ik | x_i))]
double vae_iwae_reference(const ir::Bindings& b, int k) {
  const double scale = static_cast<double>(b.sizes.at("N")) / static_cast<double>(b.sizes.at("M"));
  std::vector<std::vector<double>> w;
  for (int l = 0; l < k; ++l) w.push_back(vae_terms(b, false, l));
  double total = 0;
  for (std::size_t i = 0; i < w[0].size(); ++i) {
    double m = w[0][i];
    for (int l = 1; l < k; ++l) m = std::max(m, w[l][i]);
    double s = 0;
    for (int l = 0; l < k; ++l) s += std::exp(w[l][i] - m);
    total += scale * (m + std::log(s / k));
  }
  return total;
}

Compiled compile_vae(Estimator::Ref e, int samples = 1) {
  return Compiled(stdlib_text("gaussian_vae"), sema_options(vae_dims()), lower_options(e, samples));
}

// The first `rows` rows of a tensor (a smaller minibatch of the same data and noise).
ir::Tensor first_rows(const ir::Tensor& t, std::int64_t rows) {
  ir::Tensor out = t;
  out.shape[0] = rows;
  out.values.resize(static_cast<std::size_t>(out.size()));
  return out;
}

// The same bindings with a minibatch of `m` rows (the first m of `b`'s) and N = `n`.
ir::Bindings resized(const Compiled& c, const ir::Bindings& b, std::int64_t m, std::int64_t n) {
  ir::Bindings out = b;
  out.sizes["M"] = m;
  out.sizes["N"] = n;
  for (const lower::DataInput& d : c.l().data) {
    if (!d.batch_dim.empty()) out.inputs[d.name] = first_rows(b.inputs.at(d.name), m);
  }
  for (const lower::NoiseInput& e : c.l().noise) {
    const std::string& name = e.node->attrs().name;
    out.inputs[name] = first_rows(b.inputs.at(name), m);
  }
  if (out.inputs.count("M")) out.inputs["M"] = ir::Tensor::scalar(static_cast<double>(m));
  if (out.inputs.count("N")) out.inputs["N"] = ir::Tensor::scalar(static_cast<double>(n));
  return out;
}

void redraw(ir::Bindings& b, const Compiled& c, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0, 1);
  for (const lower::NoiseInput& e : c.l().noise) {
    for (double& v : b.inputs.at(e.node->attrs().name).values) v = normal(rng);
  }
}

const std::vector<std::string> kDecoder = {"dec_W", "dec_b", "mu_W", "mu_b", "lv_W", "lv_b"};
const std::vector<std::string> kEncoder = {"enc_W", "enc_b", "zm_W", "zm_b", "zv_W", "zv_b"};

}  // namespace

TEST_CASE("lower: the Gaussian VAE's inputs, sizes and shapes") {
  Compiled c = compile_vae(Estimator::A);
  REQUIRE_MESSAGE(c.ok(), c.messages());
  const lower::Lowered& l = c.l();
  CHECK(l.sizes.at("M") == "N");
  CHECK(l.sizes.at("N") == "N");
  CHECK(l.params.size() == 12);
  REQUIRE(l.noise.size() == 1);
  CHECK(l.noise[0].latent == "z");
  CHECK(l.noise[0].node->attrs().name == "eps.z");
  ir::Bindings b = c.synthetic(3, kN, kM);
  CHECK(b.sizes.at("M") == kM);
  CHECK(b.sizes.at("N") == kN);
  CHECK(b.inputs.at("x").shape == std::vector<std::int64_t>{kM, kD});
  CHECK(b.inputs.at("eps.z").shape == std::vector<std::int64_t>{kM, kJ});
  CHECK(b.inputs.at("enc_W").shape == std::vector<std::int64_t>{kH, kD});
  CHECK(b.inputs.at("zv_W").shape == std::vector<std::int64_t>{kJ, kH});
  bool x_is_batch = false;
  for (const lower::DataInput& d : l.data) x_is_batch |= d.name == "x" && d.batch_dim == "N";
  CHECK(x_is_batch);
}

TEST_CASE("lower: the Gaussian VAE's L^A and L^B equal the textbook formulas") {
  // L samples of a mean estimator are one sample lowered, averaged L times by the runtime
  // (test_averaged_samples.cpp): the graph is that of one sample whatever L is.
  for (int samples : {1, 3}) {
    Compiled a = compile_vae(Estimator::A, samples);
    Compiled bc = compile_vae(Estimator::B, samples);
    REQUIRE_MESSAGE(a.ok(), a.messages());
    REQUIRE_MESSAGE(bc.ok(), bc.messages());
    CHECK(a.l().samples == samples);
    CHECK(bc.l().samples == samples);
    CHECK(!a.l().importance_weight);
    CHECK(bc.l().sampled_kl.empty());  // (normal guide, normal prior) has a closed form
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      CAPTURE(samples);
      CAPTURE(seed);
      ir::Bindings b = a.synthetic(seed, kN, kM);
      CHECK(b.inputs.count("eps.z.1") == 0);
      double ref_a = vae_reference(b, false, 1), ref_b = vae_reference(b, true, 1);
      double la = eval1(a.output("elbo"), b), lb = eval1(bc.output("elbo"), b);
      CHECK_MESSAGE(near(la, ref_a, 1e-10), "L^A ", la, " reference ", ref_a);
      CHECK_MESSAGE(near(lb, ref_b, 1e-10), "L^B ", lb, " reference ", ref_b);
      // The unsimplified objective is the same function.
      CHECK(near(eval1(a.l().objective, b), ref_a, 1e-10));
      CHECK(near(eval1(bc.l().objective, b), ref_b, 1e-10));
      // And the one sample draws differ: L^A and L^B are different estimators.
      CHECK(std::abs(la - lb) > 1e-6);
    }
  }
}

TEST_CASE("lower: the Gaussian VAE's iwae and stl values equal the textbook formulas") {
  // One sample is lowered; the runtime's two passes over K samples (importance_bound, as
  // runtime/src/engine_data.cpp makes them) give the textbook bound.
  for (int k : {1, 3, 5}) {
    CAPTURE(k);
    Compiled iwae = compile_vae(Estimator::Iwae, k);
    Compiled stl = compile_vae(Estimator::Stl, k);
    REQUIRE_MESSAGE(iwae.ok(), iwae.messages());
    REQUIRE_MESSAGE(stl.ok(), stl.messages());
    CHECK(iwae.l().samples == k);
    CHECK(stl.l().samples == k);
    REQUIRE(iwae.l().importance_weight);
    CHECK(!stl.l().importance_weight);
    for (std::uint64_t seed : {1u, 2u}) {
      CAPTURE(seed);
      // Sample l's bindings: the same params and data, its own noise, and all of them under the
      // names the reference reads (eps.z, eps.z.1, ...).
      ir::Bindings b = iwae.synthetic(seed, kN, kM);
      std::mt19937_64 rng(seed);
      std::vector<ir::Bindings> samples{b};
      for (int l = 1; l < k; ++l) {
        ir::Bindings s = b;
        redraw(s, iwae, rng);
        b.inputs[noise_name(l)] = s.inputs.at("eps.z");
        samples.push_back(s);
      }
      double value = importance_bound(iwae.l(), samples), ref = vae_iwae_reference(b, k);
      CHECK_MESSAGE(near(value, ref, 1e-10), "iwae ", value, " reference ", ref);
      // K = 1 is L^A; K > 1 is at least the average of the samples' L^A (Jensen).
      if (k == 1) CHECK(near(value, vae_reference(b, false), 1e-10));
      else CHECK(value >= vae_reference(b, false, k) - 1e-9);
      // The log-weight per datapoint is the textbook's, and the objective weighs it by the
      // runtime's input: Σ_i (N/M) c_i w_i (no terms outside the weights in the VAE).
      ir::Tensor w = ir::evaluate(iwae.l().row_log_weights.at(0).node, b);
      std::vector<double> terms = vae_terms(b, false, 0);
      REQUIRE(w.values.size() == terms.size());
      double weighed = 0;
      const std::vector<double>& c = in(b, iwae.l().importance_weight->attrs().name);
      for (std::size_t i = 0; i < terms.size(); ++i) {
        CHECK(near(w.values[i], terms[i], 1e-10));
        weighed += static_cast<double>(kN) / kM * c[i] * terms[i];
      }
      CHECK(near(eval1(iwae.output("elbo"), b), weighed, 1e-10));
      // stl has L^A's value; its samples are averaged at run time (one lowered).
      CHECK(near(eval1(stl.output("elbo"), b), vae_reference(b, false, 1), 1e-10));
    }
  }
}

TEST_CASE("lower: stl keeps L^A's decoder gradient and drops the score term from the encoder's") {
  Compiled a = compile_vae(Estimator::A);
  Compiled stl = compile_vae(Estimator::Stl);
  REQUIRE(a.ok());
  REQUIRE(stl.ok());
  ir::Bindings b = a.synthetic(8, kN, kM);
  int stop_gradients = 0;
  for (const ir::Node* n : ir::topological_order({stl.l().objective})) {
    stop_gradients += n->op() == ir::Op::StopGradient;
  }
  CHECK(stop_gradients > 0);
  for (const lower::ParamInput& p : a.l().params) {
    std::vector<double> ga = ir::evaluate(a.output("grad." + p.name), b).values;
    std::vector<double> gs = ir::evaluate(stl.output("grad." + p.name), b).values;
    double diff = 0, scale = 0;
    for (std::size_t e = 0; e < ga.size(); ++e) {
      diff = std::max(diff, std::abs(ga[e] - gs[e]));
      scale = std::max(scale, std::abs(ga[e]));
    }
    bool decoder = std::find(kDecoder.begin(), kDecoder.end(), p.name) != kDecoder.end();
    CAPTURE(p.name);
    if (decoder) CHECK(diff <= 1e-12 * scale);
    // The score term ∂/∂φ log q(z; φ) at fixed z: zero in expectation, not per draw.
    if (p.name == "zm_b" || p.name == "zv_b") CHECK(diff > 1e-8 * scale);
  }
}

TEST_CASE("lower: a partial last minibatch needs no relowering and is scaled by N/M") {
  Compiled a = compile_vae(Estimator::A);
  Compiled bc = compile_vae(Estimator::B);
  REQUIRE(a.ok());
  REQUIRE(bc.ok());
  ir::Bindings b4 = a.synthetic(5, kN, kM);
  for (auto [m, n] : {std::pair<std::int64_t, std::int64_t>{4, 7}, {3, 7}, {1, 7}, {3, 10}}) {
    CAPTURE(m);
    CAPTURE(n);
    ir::Bindings b = resized(a, b4, m, n);
    CHECK(near(eval1(a.output("elbo"), b), vae_reference(b, false), 1e-10));
    CHECK(near(eval1(bc.output("elbo"), b), vae_reference(b, true), 1e-10));
  }
  // The scale is N/M of the minibatch sum: M = 3 and M = 1 rows of the same data add up.
  ir::Bindings b3 = resized(a, b4, 3, kN);
  double sum3 = eval1(a.output("elbo"), b3) * 3.0 / kN;
  double sum_rows = 0;
  for (std::int64_t r = 0; r < 3; ++r) {
    ir::Bindings one = resized(a, b4, 1, kN);
    for (const char* name : {"x", "eps.z"}) {
      const ir::Tensor& t = b4.inputs.at(name);
      std::int64_t w = t.shape[1];
      one.inputs[name].values.assign(t.values.begin() + r * w, t.values.begin() + (r + 1) * w);
    }
    sum_rows += eval1(a.output("elbo"), one) * 1.0 / kN;
  }
  CHECK(near(sum3, sum_rows, 1e-12));
  // The gradient at the partial batch is still the derivative of its value.
  check_gradients(a, resized(a, b4, 3, kN), "gaussian_vae at M=3");
  check_gradients(bc, resized(bc, b4, 3, kN), "gaussian_vae (B) at M=3");
}

TEST_CASE("lower: L^A and L^B agree in expectation over the noise") {
  Compiled a = compile_vae(Estimator::A);
  Compiled bc = compile_vae(Estimator::B);
  REQUIRE(a.ok());
  REQUIRE(bc.ok());
  ir::Bindings b = a.synthetic(11, kN, kM);
  std::mt19937_64 rng(2024);
  const int draws = 20000;
  double mean_a = 0, mean_b = 0, mean_d = 0, m2_a = 0, m2_b = 0, m2_d = 0;
  for (int k = 1; k <= draws; ++k) {
    redraw(b, a, rng);
    double la = eval1(a.output("elbo"), b), lb = eval1(bc.output("elbo"), b);
    double d = la - lb;
    auto welford = [k](double x, double& mean, double& m2) {
      double delta = x - mean;
      mean += delta / k;
      m2 += delta * (x - mean);
    };
    welford(la, mean_a, m2_a);
    welford(lb, mean_b, m2_b);
    welford(d, mean_d, m2_d);
  }
  double se_a = std::sqrt(m2_a / (draws - 1) / draws), se_b = std::sqrt(m2_b / (draws - 1) / draws);
  double se_d = std::sqrt(m2_d / (draws - 1) / draws);
  MESSAGE("over ", draws, " draws of eps: mean L^A = ", mean_a, " (se ", se_a, "), mean L^B = ",
          mean_b, " (se ", se_b, "), mean of the paired difference = ", mean_d, " (se ", se_d,
          "); sd of one draw: A ", std::sqrt(m2_a / (draws - 1)), ", B ",
          std::sqrt(m2_b / (draws - 1)));
  CHECK(se_d > 0);
  CHECK(std::abs(mean_d) <= 4 * se_d);
  CHECK(std::abs(mean_a - mean_b) <= 4 * std::sqrt(se_a * se_a + se_b * se_b));
}

TEST_CASE("lower: with a N(0, I) prior the decoder's gradients of L^A and L^B are identical per eps") {
  Compiled a = compile_vae(Estimator::A);
  Compiled bc = compile_vae(Estimator::B);
  REQUIRE(a.ok());
  REQUIRE(bc.ok());
  std::vector<std::string> names;
  for (const lower::ParamInput& p : a.l().params) names.push_back(p.name);
  std::vector<const ir::Node*> roots_a, roots_b;
  for (const std::string& n : names) {
    roots_a.push_back(a.output("grad." + n));
    roots_b.push_back(bc.output("grad." + n));
  }
  // Two points: the paper's init scale (params ~ 0.01) and a wider random one.
  for (double radius : {0.05, 1.0}) {
    CAPTURE(radius);
    ir::Bindings b = a.synthetic(17, kN, kM, radius);
    std::mt19937_64 rng(99);
    const int draws = 2000;
    // Per param element: the running mean and M2 of A's and B's gradients and of A − B.
    std::map<std::string, std::vector<double>> mean_a, m2_a, mean_b, m2_b, mean_d, m2_d;
    int decoder_mismatches = 0;
    double worst_decoder = 0;
    for (int k = 1; k <= draws; ++k) {
      redraw(b, a, rng);
      std::vector<ir::Tensor> ga = ir::evaluate(roots_a, b), gb = ir::evaluate(roots_b, b);
      for (std::size_t p = 0; p < names.size(); ++p) {
        const std::vector<double>& x = ga[p].values;
        const std::vector<double>& y = gb[p].values;
        bool decoder = std::find(kDecoder.begin(), kDecoder.end(), names[p]) != kDecoder.end();
        if (decoder) {
          double scale = 0;
          for (double v : x) scale = std::max(scale, std::abs(v));
          for (std::size_t e = 0; e < x.size(); ++e) {
            double err = std::abs(x[e] - y[e]);
            worst_decoder = std::max(worst_decoder, err / std::max(1e-300, scale));
            if (!near(x[e], y[e], 1e-12, 1e-13 * scale)) ++decoder_mismatches;
          }
          continue;
        }
        auto& ma = mean_a[names[p]];
        auto& va = m2_a[names[p]];
        auto& mb = mean_b[names[p]];
        auto& vb = m2_b[names[p]];
        auto& md = mean_d[names[p]];
        auto& vd = m2_d[names[p]];
        if (ma.empty()) ma = va = mb = vb = md = vd = std::vector<double>(x.size(), 0.0);
        for (std::size_t e = 0; e < x.size(); ++e) {
          auto welford = [k](double v, double& mean, double& m2) {
            double delta = v - mean;
            mean += delta / k;
            m2 += delta * (v - mean);
          };
          welford(x[e], ma[e], va[e]);
          welford(y[e], mb[e], vb[e]);
          welford(x[e] - y[e], md[e], vd[e]);
        }
      }
    }
    CHECK_MESSAGE(decoder_mismatches == 0, decoder_mismatches,
                  " decoder gradient elements differ between L^A and L^B (worst relative ",
                  worst_decoder, ")");
    MESSAGE("decoder gradients of L^A and L^B over ", draws, " draws (radius ", radius,
            "): worst difference relative to the param's largest element ", worst_decoder);
    // The encoder's gradients: both unbiased for the same ELBO gradient, different variances.
    std::string table = "encoder gradient variance per eps (sum over the param's elements), "
                        "params uniform in (-" + std::to_string(radius) + ", " +
                        std::to_string(radius) + "), " + std::to_string(draws) + " draws:";
    int differing = 0;
    for (const std::string& n : kEncoder) {
      double var_a = 0, var_b = 0;
      for (std::size_t e = 0; e < m2_a[n].size(); ++e) {
        var_a += m2_a[n][e] / (draws - 1);
        var_b += m2_b[n][e] / (draws - 1);
        double se = std::sqrt(m2_d[n][e] / (draws - 1) / draws);
        CHECK_MESSAGE(std::abs(mean_d[n][e]) <= 4.5 * se + 1e-12, n, "[", e,
                      "]: the mean gradients of L^A and L^B differ by ", mean_d[n][e], " (se ", se,
                      ")");
      }
      if (!near(var_a, var_b, 1e-6)) ++differing;
      char line[200];
      std::snprintf(line, sizeof line, "\n  %-6s A %12.6g   B %12.6g   B/A %10.3g", n.c_str(), var_a,
                    var_b, var_b / var_a);
      table += line;
    }
    MESSAGE(table);
    CHECK(differing > 0);  // the encoder's gradients are not the same estimator
  }
}

// The lowered objective's value against independent references written here in plain loops, for
// models using the constructs the gradient checks cover (a gradient check only shows that the
// gradient matches the objective as lowered, not that the objective means what the model says):
// nested plates and a latent per copy of them (under A and iwae), gathers by int data, slices,
// constant indices, transposes, u' * v and u * v', user fns, target +=, param priors, and the
// automatic guides' bijections and log-Jacobians (meanfield and fullrank, under A and B). For the
// guide families, E[L^A] = E[L^B] over the noise ties each sampler to its density and its KL.
#include <cmath>
#include <numbers>
#include <random>

#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {

const double kLog2Pi = std::log(2 * std::numbers::pi);


double sigmoid(double u) { return 1 / (1 + std::exp(-u)); }
double square(double x) { return x * x; }

double scale_of(const ir::Bindings& b) {
  return static_cast<double>(b.sizes.at("N")) / static_cast<double>(b.sizes.at("M"));
}

void check_value(const Compiled& c, const ir::Bindings& b, double reference, const std::string& what) {
  double value = eval1(c.output("elbo"), b);
  CHECK_MESSAGE(near(value, reference, 1e-10, 1e-12), what, ": elbo ", value, ", reference ",
                reference);
  CHECK_MESSAGE(near(eval1(c.l().objective, b), reference, 1e-10, 1e-12), what,
                ": unsimplified objective");
}

void redraw(ir::Bindings& b, const Compiled& c, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> unit(0, 1);
  for (const lower::NoiseInput& e : c.l().noise) {
    bool uniform = e.node->attrs().input == ir::InputKind::Uniform;
    for (double& v : b.inputs.at(e.node->attrs().name).values) v = uniform ? unit(rng) : normal(rng);
  }
}

std::string eps(const std::string& latent, int sample) {
  std::string name = "eps." + latent;
  if (sample) name += "." + std::to_string(sample);
  return name;
}

}  // namespace

TEST_CASE("lower values: nested plates and a latent per copy of them, under A and iwae") {
  const char* text = R"(model nested_latent;
dims { N; T = 3; }
data { y : real[N, T]; }
param { c : real; a : real[T]; ls : real; b : real; ls2 : real[T]; w : real[T]; }
latent { z : real[N]; u : real[N, T]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    plate t in T {
      u[i, t] ~ normal(z[i] + c, 1);
      y[i, t] ~ normal(w[t] * u[i, t], 0.5);
    }
  }
}
guide {
  plate i in N subsample {
    z[i] ~ normal(dot(a, y[i]), exp(ls));
    plate t in T {
      u[i, t] ~ normal(b * y[i, t] + z[i], exp(ls2[t]));
    }
  }
}
)";
  const std::int64_t T = 3;
  // Per datapoint i of the minibatch, sample l: log p(y_i, z_i, u_i) − log q(z_i, u_i | y_i).
  auto terms = [&](const ir::Bindings& b, int l) {
    const std::vector<double>& y = in(b, "y");
    const std::vector<double>& ez = in(b, eps("z", l));
    const std::vector<double>& eu = in(b, eps("u", l));
    std::int64_t M = b.sizes.at("M");
    REQUIRE(y.size() == static_cast<std::size_t>(M * T));
    REQUIRE(eu.size() == static_cast<std::size_t>(M * T));
    std::vector<double> out;
    for (std::int64_t i = 0; i < M; ++i) {
      double mz = 0;
      for (std::int64_t t = 0; t < T; ++t) mz += in(b, "a")[t] * y[i * T + t];
      double sz = std::exp(in1(b, "ls"));
      double z = mz + sz * ez[i];
      double w = normal_lpdf(z, 0, 1) - normal_lpdf(z, mz, sz);
      for (std::int64_t t = 0; t < T; ++t) {
        double mu = in1(b, "b") * y[i * T + t] + z, su = std::exp(in(b, "ls2")[t]);
        double u = mu + su * eu[i * T + t];
        w += normal_lpdf(u, z + in1(b, "c"), 1) + normal_lpdf(y[i * T + t], in(b, "w")[t] * u, 0.5) -
             normal_lpdf(u, mu, su);
      }
      out.push_back(w);
    }
    return out;
  };
  for (int samples : {1, 3}) {
    Compiled a(text, {}, lower_options(Estimator::A, samples));
    Compiled iw(text, {}, lower_options(Estimator::Iwae, samples));
    REQUIRE_MESSAGE(a.ok(), a.messages());
    REQUIRE_MESSAGE(iw.ok(), iw.messages());
    // One sample lowered either way: A's samples are averaged at run time, iwae's combined by
    // the runtime's two passes (importance_bound; test_averaged_samples.cpp).
    CHECK(a.l().samples == samples);
    CHECK(iw.l().samples == samples);
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      ir::Bindings b = iw.synthetic(seed, 7, 4);
      std::mt19937_64 rng(seed);
      std::vector<ir::Bindings> draws{b};
      for (int l = 1; l < samples; ++l) {
        ir::Bindings s = b;
        redraw(s, iw, rng);
        for (const char* latent : {"z", "u"}) b.inputs[eps(latent, l)] = s.inputs.at(eps(latent, 0));
        draws.push_back(s);
      }
      double ref_a = 0, ref_iwae = 0;
      std::vector<std::vector<double>> w;
      for (int l = 0; l < samples; ++l) w.push_back(terms(b, l));
      for (std::size_t i = 0; i < w[0].size(); ++i) {
        double m = -INFINITY, s = 0;
        ref_a += scale_of(b) * w[0][i];
        for (int l = 0; l < samples; ++l) m = std::max(m, w[l][i]);
        for (int l = 0; l < samples; ++l) s += std::exp(w[l][i] - m);
        ref_iwae += scale_of(b) * (m + std::log(s / samples));
      }
      check_value(a, b, ref_a, "nested, A, samples " + std::to_string(samples));
      double value = importance_bound(iw.l(), draws);
      CHECK_MESSAGE(near(value, ref_iwae, 1e-10, 1e-12), "nested, iwae, samples ", samples, ": ", value,
                    ", reference ", ref_iwae);
    }
  }
}

TEST_CASE("lower values: a hierarchical model with gathers by int data") {
  const char* text = R"(model hier;
dims { N; G = 3; }
data { y : real[N]; g : int<lower=0, upper=2>[N]; }
latent { mu : real; a : real[G]; }
param { mu_loc : real; mu_ls : real; a_loc : real[G]; a_ls : real[G]; s : real<lower=0>; }
model {
  mu ~ normal(0, 1);
  a ~ normal(mu, 1);
  plate i in N subsample {
    y[i] ~ normal(a[g[i]], s);
  }
  target += -0.5 * square(a[1] - a[2]);
}
guide {
  mu ~ normal(mu_loc, exp(mu_ls));
  a ~ normal(a_loc, exp(a_ls));
}
)";
  Compiled c(text, {}, lower_options(Estimator::A));
  Compiled cb(text, {}, lower_options(Estimator::B));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  REQUIRE_MESSAGE(cb.ok(), cb.messages());
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    ir::Bindings b = c.synthetic(seed, 9, 5);
    const std::vector<double>& y = in(b, "y");
    const std::vector<double>& g = in(b, "g");
    REQUIRE(y.size() == 5);
    REQUIRE(g.size() == 5);
    double m_s = std::exp(in1(b, "mu_ls")), mu = in1(b, "mu_loc") + m_s * in1(b, "eps.mu");
    double s = std::exp(in1(b, "s"));
    double common = normal_lpdf(mu, 0, 1), sampled = -normal_lpdf(mu, in1(b, "mu_loc"), m_s);
    double kl = 0;
    std::vector<double> a(3);
    for (int k = 0; k < 3; ++k) {
      double loc = in(b, "a_loc")[k], sc = std::exp(in(b, "a_ls")[k]);
      a[k] = loc + sc * in(b, "eps.a")[k];
      sampled += normal_lpdf(a[k], mu, 1) - normal_lpdf(a[k], loc, sc);
      // KL(N(loc, sc²) ‖ N(mu, 1)), with mu the sampled hyper-latent
      kl += -std::log(sc) + 0.5 * (sc * sc + square(loc - mu)) - 0.5;
    }
    double m_kl = -std::log(m_s) + 0.5 * (m_s * m_s + square(in1(b, "mu_loc"))) - 0.5;
    double lik = 0;
    for (int i = 0; i < 5; ++i) {
      int gi = static_cast<int>(g[i]);
      REQUIRE((gi >= 0 && gi < 3));
      lik += normal_lpdf(y[i], a[gi], s);
    }
    double target = -0.5 * square(a[1] - a[2]);
    check_value(c, b, common + sampled + scale_of(b) * lik + target, "hierarchical, A");
    check_value(cb, b, scale_of(b) * lik + target - m_kl - kl, "hierarchical, B");
  }
}

TEST_CASE("lower values: slices, constant indices, transposes, products, fns, target +=, param priors") {
  const char* text = models::linalg;  // in test_lower_helpers.hpp
  constexpr int K = 4;
  Compiled c(text, {}, lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    ir::Bindings b = c.synthetic(seed, 6, 4, 0.8);
    const std::vector<double>& W = in(b, "W");  // W[k][l] = W[k * K + l]
    const std::vector<double>& u = in(b, "u");
    const std::vector<double>& v = in(b, "v");
    double w[K], A[K][K], s = 0, ref = 0;
    for (int k = 0; k < K; ++k) {
      double loc = in(b, "w_loc")[k], sc = std::exp(in(b, "w_ls")[k]);
      w[k] = loc + sc * in(b, "eps.w")[k];
      ref += normal_lpdf(w[k], 0, 1) - normal_lpdf(w[k], loc, sc) + normal_lpdf(u[k], 0, 2);
      s += u[k] * v[k];
      for (int l = 0; l < K; ++l) ref += normal_lpdf(W[k * K + l], 0, 1);
    }
    for (int k = 0; k < K; ++k) {
      for (int l = 0; l < K; ++l) A[k][l] = W[l * K + k] + u[k] * v[l];
    }
    double mean_row = 0;
    for (int l = 0; l < K; ++l) mean_row += W[1 * K + l] / K;
    ref += -0.5 * (w[0] * w[0] + w[1] * w[1]) + w[0] * s - (W[1 * K + 1] * w[2] + W[2 * K + 1] * w[3]) +
           mean_row - square(W[2 * K + 3]);
    double r[K] = {}, wAv = 0, r2 = 0;  // r = A'w = (w' A)'
    for (int l = 0; l < K; ++l) {
      for (int k = 0; k < K; ++k) r[l] += w[k] * A[k][l];
      wAv += r[l] * v[l];
      r2 += r[l] * r[l];
    }
    ref += wAv - 0.1 * r2;
    const std::vector<double>& X = in(b, "X");
    const std::vector<double>& y = in(b, "y");
    double batch = 0;
    for (std::int64_t i = 0; i < b.sizes.at("M"); ++i) {
      const double* x = &X[i * K];
      double mean = std::tanh(x[0]) * in1(b, "b");
      for (int k = 0; k < K; ++k) {
        double Aw = v[k];
        for (int l = 0; l < K; ++l) Aw += A[k][l] * w[l];
        mean += x[k] * Aw;
      }
      for (int l = 0; l < K; ++l) {
        double xW = 0;
        for (int k = 0; k < K; ++k) xW += x[k] * W[k * K + l];
        mean += xW * u[l];
      }
      batch += normal_lpdf(y[i], mean, 1.5) - 0.5 * square(x[1] * w[2] + x[2] * w[3]);
    }
    ref += scale_of(b) * batch;
    check_value(c, b, ref, "linear algebra, seed " + std::to_string(seed));
  }
}

TEST_CASE("lower values: automatic guides' bijections and log-Jacobians") {
  const char* text = models::auto_global;  // in test_lower_helpers.hpp
  constexpr int K = 2;
  for (const char* guide : {"meanfield", "fullrank", "lowrank:2"}) {
    bool fullrank = std::string(guide) == "fullrank", lowrank = std::string(guide) == "lowrank:2";
    for (Estimator::Ref est : {Estimator::A, Estimator::B}) {
      CAPTURE(guide);
      CAPTURE(std::string(est->name));
      Compiled c(text, sema_options({}, guide), lower_options(est));
      REQUIRE_MESSAGE(c.ok(), c.messages());
      const std::vector<std::string>& sampled = c.l().sampled_kl;
      auto closed = [&](const std::string& name) {
        return est == Estimator::B && std::find(sampled.begin(), sampled.end(), name) == sampled.end();
      };
      // The constrained latents never have a closed form (their guide is a transformed normal).
      CHECK_FALSE(closed("tau"));
      CHECK_FALSE(closed("p"));
      CHECK_FALSE(closed("q"));
      for (std::uint64_t seed : {1u, 2u}) {
        ir::Bindings b = c.synthetic(seed, 5, 4, 0.7);
        // Unconstrained draws u = loc + L ε (L = diag(exp(scale)) for meanfield) and log q(u).
        struct Draw {
          std::vector<double> u, loc, sd;  // sd: the marginal standard deviations
          double log_q = 0;
          double log_det = 0;  // Σ log L_kk
        };
        // meanfield: NAME.loc/NAME.scale and eps.NAME per latent; fullrank: one draw of every
        // element (mu, tau, p, th[0], th[1], q) from guide.loc, guide.chol and eps.guide.
        // A global latent's guide is in a frame: u = center + e^unit (loc + e^scale ε) for
        // meanfield, u = center + C (loc + L ε) for fullrank, C and L lower-triangular with exp
        // diagonals (NAME.unit, NAME.chol).
        auto lower_of = [](const std::vector<double>& raw, int n) {
          std::vector<double> m(static_cast<std::size_t>(n * n), 0.0);
          for (int k = 0; k < n; ++k) {
            for (int j = 0; j <= k; ++j) m[k * n + j] = j == k ? std::exp(raw[k * n + k]) : raw[k * n + j];
          }
          return m;
        };
        // A joint guide's location is its latents' own locs, concatenated in declaration order.
        auto loc_of = [&](const std::string& name) {
          if (name != "guide") return in(b, name + ".loc");
          std::vector<double> all;
          for (const char* v : {"mu", "tau", "p", "th", "q"}) {
            const std::vector<double>& own = in(b, std::string(v) + ".loc");
            all.insert(all.end(), own.begin(), own.end());
          }
          return all;
        };
        auto draw = [&](const std::string& name, int n) {
          Draw d;
          const std::vector<double> loc = loc_of(name);
          const std::vector<double>& center = in(b, name + ".center");
          const std::vector<double>& e = in(b, "eps." + name);
          REQUIRE(loc.size() == static_cast<std::size_t>(n));
          REQUIRE(e.size() == static_cast<std::size_t>(n));
          d.u.assign(n, 0);
          d.loc.assign(n, 0);
          d.sd.assign(n, 0);
          double quad = 0;
          for (int k = 0; k < n; ++k) quad += e[k] * e[k];
          if (fullrank) {
            const std::vector<double>& raw = in(b, name + ".chol");
            const std::vector<double>& unit = in(b, name + ".unit");
            REQUIRE(raw.size() == static_cast<std::size_t>(n * n));
            std::vector<double> L = lower_of(raw, n), C = lower_of(unit, n), v(n, 0.0);
            for (int k = 0; k < n; ++k) {
              v[k] = loc[k];
              for (int j = 0; j <= k; ++j) v[k] += L[k * n + j] * e[j];
              d.log_det += raw[k * n + k] + unit[k * n + k];
            }
            for (int k = 0; k < n; ++k) {
              d.u[k] = center[k];
              for (int j = 0; j <= k; ++j) d.u[k] += C[k * n + j] * v[j];
            }
          } else {
            const std::vector<double>& scale = in(b, name + ".scale");
            const std::vector<double>& unit = in(b, name + ".unit");
            for (int k = 0; k < n; ++k) {
              d.loc[k] = center[k] + std::exp(unit[k]) * loc[k];
              d.sd[k] = std::exp(unit[k] + scale[k]);
              d.u[k] = d.loc[k] + d.sd[k] * e[k];
              d.log_det += unit[k] + scale[k];
            }
          }
          d.log_q = -0.5 * n * kLog2Pi - d.log_det - 0.5 * quad;
          return d;
        };
        // lowrank:2 over the 6 elements: u = center + e^unit (loc + d (ε₁ + G ε₂)), a normal with
        // covariance diag(d)(I + G Gᵀ)diag(d) in the frame, its density by a dense Cholesky here.
        auto low_rank_draw = [&]() {
          const int n = 6, r = 2;
          const std::vector<double> loc = loc_of("guide");
          const std::vector<double>& log_d = in(b, "guide.scale");
          const std::vector<double>& G = in(b, "guide.factor");
          const std::vector<double>& center = in(b, "guide.center");
          const std::vector<double>& unit = in(b, "guide.unit");
          const std::vector<double>& e1 = in(b, "eps.guide");
          const std::vector<double>& e2 = in(b, "eps.guide.factor");
          REQUIRE(G.size() == static_cast<std::size_t>(n * r));
          Draw d;
          std::vector<double> w(n), S(n * n, 0.0);
          for (int i = 0; i < n; ++i) {
            double z = e1[i];
            for (int j = 0; j < r; ++j) z += G[i * r + j] * e2[j];
            w[i] = std::exp(log_d[i]) * z;
            d.u.push_back(center[i] + std::exp(unit[i]) * (loc[i] + w[i]));
            for (int k = 0; k < n; ++k) {
              double gg = i == k ? 1.0 : 0.0;
              for (int j = 0; j < r; ++j) gg += G[i * r + j] * G[k * r + j];
              S[i * n + k] = std::exp(log_d[i]) * gg * std::exp(log_d[k]);
            }
          }
          // Cholesky S = C Cᵀ, then log N(w; 0, S) = -n/2 log 2π - Σ log C_ii - ½ ‖C⁻¹ w‖².
          std::vector<double> C(n * n, 0.0), y(n);
          double log_det = 0, quad = 0;
          for (int j = 0; j < n; ++j) {
            double s = S[j * n + j];
            for (int k = 0; k < j; ++k) s -= C[j * n + k] * C[j * n + k];
            C[j * n + j] = std::sqrt(s);
            for (int i = j + 1; i < n; ++i) {
              double t = S[i * n + j];
              for (int k = 0; k < j; ++k) t -= C[i * n + k] * C[j * n + k];
              C[i * n + j] = t / C[j * n + j];
            }
            double t = w[j];
            for (int k = 0; k < j; ++k) t -= C[j * n + k] * y[k];
            y[j] = t / C[j * n + j];
            quad += y[j] * y[j];
            log_det += std::log(C[j * n + j]);
          }
          double sum_unit = 0;
          for (double v : unit) sum_unit += v;
          d.log_q = -0.5 * n * kLog2Pi - log_det - 0.5 * quad - sum_unit;
          return d;
        };
        Draw dmu, dtau, dp, dth, dq;
        double log_q_u = 0;  // log q of every unconstrained draw
        if (lowrank || fullrank) {
          // One joint draw of the 6 elements, in declaration order.
          if (fullrank) {
            for (const char* own : {"guide.loc", "tau.scale", "th.chol", "mu.center"}) CHECK_FALSE(b.inputs.count(own));
          }
          Draw all = lowrank ? low_rank_draw() : draw("guide", 6);
          auto part = [&](int from, int n) {
            Draw d;
            d.u.assign(all.u.begin() + from, all.u.begin() + from + n);
            return d;
          };
          dmu = part(0, 1), dtau = part(1, 1), dp = part(2, 1), dth = part(3, K), dq = part(5, 1);
          log_q_u = all.log_q;
          CHECK_FALSE(closed("mu"));  // the joint normal has no KL against one latent's prior
          CHECK_FALSE(closed("th"));
        } else {
          dmu = draw("mu", 1), dtau = draw("tau", 1), dp = draw("p", 1), dth = draw("th", K), dq = draw("q", 1);
          log_q_u = dtau.log_q + dp.log_q + dq.log_q;  // mu's and th's as they are closed-form or not
        }
        double mu = dmu.u[0];
        double tau = std::exp(dtau.u[0]);
        double p = sigmoid(dp.u[0]);
        double q = 1 + 3 * sigmoid(dq.u[0]);
        // log q(z) = log q(u) − log |dz/du|
        double ref = -(log_q_u - dtau.u[0] - std::log(p * (1 - p)) - std::log(3 * sigmoid(dq.u[0]) * sigmoid(-dq.u[0])));
        // mu ~ normal(0, 1)
        if (closed("mu")) {
          double m = dmu.loc[0], sd = dmu.sd[0];
          ref -= -std::log(sd) + 0.5 * (sd * sd + m * m) - 0.5;
        } else {
          ref += normal_lpdf(mu, 0, 1) - (fullrank || lowrank ? 0 : dmu.log_q);
        }
        ref += normal_lpdf(std::log(tau), 0, 1) - std::log(tau);  // lognormal(0, 1)
        ref += std::log(6.0) + std::log(p) + std::log(1 - p);      // beta(2, 2)
        ref += -std::log(3.0);                                     // uniform(1, 4)
        // th ~ normal(mu, tau): KL(N(loc, Σ) ‖ N(mu, tau² I)) in closed form
        if (closed("th")) {
          double kl = 0;
          for (int k = 0; k < K; ++k) {
            kl += 0.5 * (square(dth.sd[k] / tau) + square((dth.loc[k] - mu) / tau) - 1) + std::log(tau);
          }
          kl -= dth.log_det;
          ref -= kl;
        } else {
          for (int k = 0; k < K; ++k) ref += normal_lpdf(dth.u[k], mu, tau);
          ref -= fullrank || lowrank ? 0 : dth.log_q;
        }
        const std::vector<double>& y = in(b, "y");
        double mean = mu + p + dth.u[0] + dth.u[1] + 0.1 * q;
        for (double yi : y) ref += normal_lpdf(yi, mean, tau + 0.5);
        check_value(c, b, ref, std::string(guide) + " " + std::string(est->name));
      }
    }
  }
}

TEST_CASE("lower values: every guide family's L^A and L^B agree in expectation") {
  const char* text = R"(model families;
dims { N; K = 2; }
data { y : real[N]; }
latent {
  a : real;  b : real<lower=0>;  c : real;  f : real<lower=0>;  f2 : real<lower=0>;
  g : real<lower=0, upper=1>;  k : real[K];  k2 : real[K];
  d : real;  e : real;  h : real<lower=0>;
}
param {
  a_m : real; a_s : real;  b_m : real; b_s : real;  c_m : real; c_s : real;  f_r : real;
  f2_r : real;  k_m : real[K];  k_L : real<cholesky>[K, K];  k2_m : real[K];
  k2_L : real<cholesky>[K, K];  p_L : real<cholesky>[K, K];
  d_m : real; d_s : real;  e_m : real; e_s : real;  h_s : real;
}
model {
  a ~ normal(0.5, 1.5);
  b ~ lognormal(0.2, 0.7);
  c ~ laplace(0.3, 2);
  f ~ exponential(2);
  f2 ~ gamma(2, 3);
  g ~ uniform(0, 1);
  k ~ normal(0.1, 1.2);
  k2 ~ mvnormal_cholesky(0.5, p_L);
  d ~ normal(0, 1);
  e ~ normal(0, 3);
  h ~ half_normal(2);
  y ~ normal(a + b + c + f + f2 + g + sum(k) + sum(k2) + d + 0.1 * e + h, 3);
}
guide {
  a ~ normal(a_m, exp(a_s));
  b ~ lognormal(b_m, exp(b_s));
  c ~ laplace(c_m, exp(c_s));
  f ~ exponential(exp(f_r));
  f2 ~ exponential(exp(f2_r));
  g ~ uniform(0, 1);
  k ~ mvnormal_cholesky(k_m, k_L);
  k2 ~ mvnormal_cholesky(k2_m, k2_L);
  d ~ logistic(d_m, exp(d_s));
  e ~ cauchy(e_m, exp(e_s));
  h ~ half_normal(exp(h_s));
}
)";
  Compiled a(text, {}, lower_options(Estimator::A));
  Compiled bc(text, {}, lower_options(Estimator::B));
  REQUIRE_MESSAGE(a.ok(), a.messages());
  REQUIRE_MESSAGE(bc.ok(), bc.messages());
  std::vector<std::string> sampled = bc.l().sampled_kl;
  std::sort(sampled.begin(), sampled.end());
  CHECK(sampled == std::vector<std::string>{"d", "e", "h"});
  ir::Bindings b = a.synthetic(4, 5, 4, 0.5);
  std::mt19937_64 rng(7);
  const int draws = 20000;
  double mean = 0, m2 = 0;
  for (int n = 1; n <= draws; ++n) {
    redraw(b, a, rng);
    double d = eval1(a.output("elbo"), b) - eval1(bc.output("elbo"), b);
    double delta = d - mean;
    mean += delta / n;
    m2 += delta * (d - mean);
  }
  double se = std::sqrt(m2 / (draws - 1) / draws);
  MESSAGE("guide families: mean of L^A - L^B over ", draws, " draws = ", mean, " (se ", se, ")");
  CHECK(se > 0);
  CHECK(std::abs(mean) <= 4 * se);
}

TEST_CASE("lower values: per-datapoint products, and two subsampled plates scaled by their own N/M") {
  const char* text = R"(model two_plates;
dims { N; G; K = 2; }
data { y : real[N, K]; r : real[G]; }
param { A : real[K, K]; a : real[K]; ls : real; m : real; h_loc : real; h_ls : real; bl : real; }
latent { hz : real; z : real[N, K]; v : real[G]; }
model {
  hz ~ normal(0, 1);
  let base = exp(m) * a;
  plate i in N subsample {
    z[i] ~ normal(hz, 1);
    let o = z[i] * y[i]';
    let zz = z[i]' * z[i];
    let rowv = z[i]' * A;
    y[i] ~ normal(z[i] + base + sum(o) * 0.1 + zz * 0.01 + rowv', 1 + mean(square(z[i])));
    target += -0.01 * sum(o .* o) + max(z[i]) - log_sum_exp(z[i]) + dot(rowv', a) - sum(z[i]) / N;
  }
  plate g in G subsample {
    v[g] ~ normal(hz, 2);
    r[g] ~ normal(v[g], 1);
  }
}
guide {
  hz ~ normal(h_loc, exp(h_ls));
  plate i in N subsample {
    z[i] ~ normal(A' * y[i] + hz, exp(ls));
  }
  plate g in G subsample {
    v[g] ~ normal(bl * r[g] + hz, 1);
  }
}
)";
  constexpr int K = 2;
  Compiled c(text, {}, lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  CHECK(c.l().sizes.at("M_N") == "N");
  CHECK(c.l().sizes.at("M_G") == "G");
  for (std::uint64_t seed : {1u, 2u}) {
    ir::Bindings b = c.synthetic(seed, 6, 4, 0.7);
    b.sizes["M_G"] = 3;  // the two minibatches need not have one size
    b.inputs["M_G"] = ir::Tensor::scalar(3);
    for (const char* name : {"r", "eps.v"}) {
      ir::Tensor& t = b.inputs.at(name);
      t.shape = {3};
      t.values.resize(3);
    }
    if (b.inputs.count("index.G")) {
      b.inputs["index.G"].shape = {3};
      b.inputs["index.G"].values.resize(3);
    }
    const std::vector<double>& A = in(b, "A");
    const std::vector<double>& a = in(b, "a");
    double N = static_cast<double>(b.sizes.at("N")), G = static_cast<double>(b.sizes.at("G"));
    std::int64_t MN = b.sizes.at("M_N"), MG = b.sizes.at("M_G");
    double hs = std::exp(in1(b, "h_ls")), hz = in1(b, "h_loc") + hs * in1(b, "eps.hz");
    double ref = normal_lpdf(hz, 0, 1) - normal_lpdf(hz, in1(b, "h_loc"), hs);
    double em = std::exp(in1(b, "m"));
    const std::vector<double>& y = in(b, "y");
    const std::vector<double>& ez = in(b, "eps.z");
    double batch = 0;
    for (std::int64_t i = 0; i < MN; ++i) {
      const double* yi = &y[i * K];
      double z[K], sz = std::exp(in1(b, "ls"));
      double term = 0;
      for (int k = 0; k < K; ++k) {
        double mu = hz + A[0 * K + k] * yi[0] + A[1 * K + k] * yi[1];  // (A' y)_k
        z[k] = mu + sz * ez[i * K + k];
        term += normal_lpdf(z[k], hz, 1) - normal_lpdf(z[k], mu, sz);
      }
      double sum_o = 0, sum_o2 = 0, zz = 0, rowv[K] = {}, zmax = -INFINITY, lse = 0, zsum = 0;
      for (int k = 0; k < K; ++k) {
        for (int l = 0; l < K; ++l) {
          sum_o += z[k] * yi[l];
          sum_o2 += square(z[k] * yi[l]);
          rowv[l] += z[k] * A[k * K + l];
        }
        zz += z[k] * z[k];
        zmax = std::max(zmax, z[k]);
        lse += std::exp(z[k]);
        zsum += z[k];
      }
      double sd = 1 + zz / K;
      for (int k = 0; k < K; ++k) {
        term += normal_lpdf(yi[k], z[k] + em * a[k] + 0.1 * sum_o + 0.01 * zz + rowv[k], sd);
      }
      term += -0.01 * sum_o2 + zmax - std::log(lse) + rowv[0] * a[0] + rowv[1] * a[1] - zsum / N;
      batch += term;
    }
    ref += N / static_cast<double>(MN) * batch;
    const std::vector<double>& r = in(b, "r");
    const std::vector<double>& ev = in(b, "eps.v");
    double gbatch = 0;
    for (std::int64_t g = 0; g < MG; ++g) {
      double mu = in1(b, "bl") * r[g] + hz, v = mu + ev[g];
      gbatch += normal_lpdf(v, hz, 2) + normal_lpdf(r[g], v, 1) - normal_lpdf(v, mu, 1);
    }
    ref += G / static_cast<double>(MG) * gbatch;
    check_value(c, b, ref, "two subsampled plates, seed " + std::to_string(seed));
    check_gradients(c, b, "two subsampled plates");
  }
}

TEST_CASE("lower values: a prior on a latent declared with bounds is normalised over them") {
  // normal(0, σ) on a <lower=0> latent is half_normal(σ): with that guide, log p(s) − log q(s) is
  // 0 at every draw, and the bound is the likelihood alone (it was off by −log 2, unnormalised).
  const char* text = R"(model truncated;
dims { N; }
data { y : real[N]; }
latent { s : real<lower=0>; }
param { ls : real; }
model {
  s ~ normal(0, exp(ls));
  y ~ normal(s, 1);
}
guide { s ~ half_normal(exp(ls)); }
)";
  Compiled a(text, {}, lower_options(Estimator::A));
  REQUIRE_MESSAGE(a.ok(), a.messages());
  CHECK(a.messages().find("not normalised") == std::string::npos);
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    ir::Bindings b = a.synthetic(seed, 5, 5);
    double s = ir::evaluate(a.l().guide_draws.at(0).node, b).item();
    REQUIRE(s > 0);
    double reference = 0;
    for (double y : in(b, "y")) reference += normal_lpdf(y, s, 1);
    check_value(a, b, reference, "half-normal prior as a truncated normal");
  }
  // No closed-form KL against a truncated prior: L^B keeps the sampled terms, and agrees.
  Compiled bc(text, {}, lower_options(Estimator::B));
  REQUIRE_MESSAGE(bc.ok(), bc.messages());
  ir::Bindings b = bc.synthetic(4, 5, 5);
  CHECK(near(eval1(bc.output("elbo"), b), eval1(a.output("elbo"), b), 1e-12, 1e-12));

  // A prior with no CDF here (gamma) on a latent whose bound cuts its support: the model runs,
  // with a warning.
  const char* cut = R"(model truncated_gamma;
dims { N; }
data { y : real[N]; }
latent { s : real<lower=1>; }
model {
  s ~ gamma(3, 2);
  y ~ normal(s, 1);
}
)";
  Compiled st(cut, sema_options({}, "meanfield"), lower_options(Estimator::A));
  REQUIRE_MESSAGE(st.ok(), st.messages());
  CHECK_MESSAGE(st.messages().find("prior 'gamma' on latent 's'") != std::string::npos, st.messages());
  CHECK(st.messages().find("not normalised over the latent's bounds") != std::string::npos);
}

TEST_CASE("lower values: a latent with no prior has a flat one on its support") {
  // Under A and B alike (no closed-form KL against a flat prior): Σ log p(y | mu) − log q(mu),
  // no prior term; and a constrained latent's flat prior is on its support (no Jacobian term in
  // the model: the guide's log q carries the one of its own transform).
  const char* text = R"(model flat;
dims { N; }
data { y : real[N]; }
latent { mu : real; }
param { m : real; ls : real; }
model { y ~ normal(mu, 1); }
guide { mu ~ normal(m, exp(ls)); }
)";
  for (auto est : {Estimator::A, Estimator::B, Estimator::Iwae}) {
    Compiled c(text, {}, lower_options(est));
    REQUIRE_MESSAGE(c.ok(), c.messages());
    CHECK(c.messages().find("its prior is flat (improper)") != std::string::npos);
    CHECK(c.l().model_draws.empty());  // sample_model: not from an improper prior
    CHECK(c.l().sample_model_problem.find("flat (improper) prior") != std::string::npos);
    CHECK(!c.l().reconstructions.empty());  // reconstructions use the guide's draw
    for (std::uint64_t seed : {1u, 2u}) {
      ir::Bindings b = c.synthetic(seed, 4, 4);
      if (est == Estimator::Iwae) b.inputs[c.l().importance_weight->attrs().name] = ir::Tensor::scalar(1.0);
      double mu = ir::evaluate(c.l().guide_draws.at(0).node, b).item();
      double reference = -normal_lpdf(mu, in1(b, "m"), std::exp(in1(b, "ls")));
      for (double y : in(b, "y")) reference += normal_lpdf(y, mu, 1);
      check_value(c, b, reference, "flat prior");
    }
  }
}

TEST_CASE("lower values: the structure builtins (issue 25) compute what they say") {
  // No latents: the bound is the target, a known function of the params.
  Compiled c("model s;\ndims { K = 3; N; }\ndata { y : real[N]; }\nparam { v : real[K]; A : real[2, K]; B : real[2, K]; a : real; }\n"
             "model {\n"
             "  let cs = cumulative_sum(v);\n"
             "  target += cs[0] + 10 * cs[1] + 100 * cs[2];\n"
             "  let r = append_row(a, v);\n"
             "  target += 1000 * r[0] + 10000 * r[3];\n"
             "  target += sum(rep_vector(a, K + 1)) * 1e5;\n"
             "  let d = diag_matrix(v);\n"
             "  target += 1e6 * (d[1, 1] + d[0, 2]);\n"
             "  let rd = rows_dot_product(A, B);\n"
             "  target += 1e7 * rd[1];\n"
             "  plate i in N { target += 1e8 * sum(cumulative_sum(v * y[i])) + 1e9 * append_row(v * y[i], y[i])[3]; }\n"
             "}\n",
             sema_options(), lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  ir::Bindings b = c.synthetic(1, 2, 2, 0.5);
  const std::vector<double> v = {0.5, -1.25, 2.0}, A = {1, 2, 3, 4, 5, 6}, B = {0.5, 1, -1, 2, 0, 1};
  const double a = 0.75;
  const std::vector<double> y = {0.5, -2.0};
  b.inputs["v"] = ir::Tensor{{3}, v};
  b.inputs["A"] = ir::Tensor{{2, 3}, A};
  b.inputs["B"] = ir::Tensor{{2, 3}, B};
  b.inputs["a"] = ir::Tensor::scalar(a);
  b.inputs["y"] = ir::Tensor{{2}, y};
  double want = v[0] + 10 * (v[0] + v[1]) + 100 * (v[0] + v[1] + v[2]);
  want += 1000 * a + 10000 * v[2];
  want += 4 * a * 1e5;
  want += 1e6 * (v[1] + 0);
  want += 1e7 * (A[3] * B[3] + A[4] * B[4] + A[5] * B[5]);
  for (double yi : y) want += 1e8 * yi * (3 * v[0] + 2 * v[1] + v[2]) + 1e9 * yi;
  CHECK(eval1(c.l().function.output("elbo"), b) == doctest::Approx(want).epsilon(1e-12));
}

TEST_CASE("lower values: gp_exp_quad_cov, cholesky_decompose and dot_self compute what they say") {
  Compiled c("model g;\ndims { K = 3; }\ndata { x : real[K]; P : real[K, 2]; }\nparam { a : real; r : real; v : real[K]; }\n"
             "model {\n"
             "  let C = gp_exp_quad_cov(x, a, r);\n"
             "  target += C[0, 1] + 10 * C[2, 2] + 100 * cov_exp_quad(P, a, r)[2, 0];\n"
             "  let L = cholesky_decompose(C + diag_matrix(rep_vector(1.0, K)));\n"
             "  target += 1e3 * L[0, 0] + 1e4 * L[1, 0] + 1e5 * L[2, 1] + 1e6 * L[2, 2] + 1e7 * L[0, 2];\n"
             "  target += 1e8 * dot_self(v);\n"
             "}\n",
             sema_options(), lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  ir::Bindings b = c.synthetic(1, 1, 1, 0.5);
  const std::vector<double> x = {0.5, -1.0, 2.0}, P = {0, 1, 1, 1, 2, -1}, v = {0.5, -1.25, 2.0};
  const double a = 1.5, r = 0.8;
  b.inputs["x"] = ir::Tensor{{3}, x};
  b.inputs["P"] = ir::Tensor{{3, 2}, P};
  b.inputs["a"] = ir::Tensor::scalar(a);
  b.inputs["r"] = ir::Tensor::scalar(r);
  b.inputs["v"] = ir::Tensor{{3}, v};
  auto k = [&](double d2) { return a * a * std::exp(-d2 / (2 * r * r)); };
  double C[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) C[i][j] = k((x[i] - x[j]) * (x[i] - x[j])) + (i == j ? 1.0 : 0.0);
  // The Cholesky factor of C by its formulas.
  double l00 = std::sqrt(C[0][0]), l10 = C[1][0] / l00, l20 = C[2][0] / l00;
  double l11 = std::sqrt(C[1][1] - l10 * l10), l21 = (C[2][1] - l20 * l10) / l11;
  double l22 = std::sqrt(C[2][2] - l20 * l20 - l21 * l21);
  double want = (C[0][1]) + 10 * (C[2][2] - 1.0) + 100 * k(std::pow(2 - 0, 2) + std::pow(-1 - 1, 2));
  want += 1e3 * l00 + 1e4 * l10 + 1e5 * l21 + 1e6 * l22 + 1e7 * 0.0;
  want += 1e8 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  CHECK(eval1(c.l().function.output("elbo"), b) == doctest::Approx(want).epsilon(1e-12));
}

TEST_CASE("lower values: comparisons are 1 where they hold, 0 elsewhere, and pass no gradient") {
  Compiled c("model cmp;\ndims { N; }\ndata { y : real[N]; k : int[N]; }\nparam { a : real; }\n"
             "model {\n"
             "  target += sum(y < a) + 10 * sum(y <= a) + 100 * sum(y > a) + 1000 * sum(y >= a);\n"
             "  target += 1e4 * sum(k == 2) + 1e5 * sum(k != 2) + 1e6 * (a * (a > 0));\n"
             "}\n",
             sema_options(), lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  ir::Bindings b = c.synthetic(1, 4, 4, 0.5);
  b.inputs["y"] = ir::Tensor{{4}, {-1, 0.5, 0.5, 2}};
  b.inputs["k"] = ir::Tensor{{4}, {2, 0, 2, 3}};
  b.inputs["a"] = ir::Tensor::scalar(0.5);
  // y < a: 1; y <= a: 3; y > a: 1; y >= a: 3; k == 2: 2; k != 2: 2; a > 0: a.
  double want = 1 + 10 * 3 + 100 * 1 + 1000 * 3 + 1e4 * 2 + 1e5 * 2 + 1e6 * 0.5;
  CHECK(eval1(c.l().function.output("elbo"), b) == doctest::Approx(want).epsilon(1e-12));
  // The gradient in a: only through the product's a (the comparisons are piecewise constant).
  CHECK(eval1(c.output("grad.a"), b) == doctest::Approx(1e6).epsilon(1e-12));
}

// The closed-form KL registry (dist::kl_divergence): every (guide, prior) pair sema lists has a
// closed form, which matches a Monte-Carlo estimate E_q[log q − log p] (draws from our own
// samplers, or from std:: for gamma and beta, scored by our own log densities), is 0 at q = p
// and has gradients that match finite differences.
#include <set>
#include <tuple>

#include "test_densities_helpers.hpp"

using namespace densities_test;

namespace {

struct KlCase {
  std::string q, p;
  std::vector<double> q_args, p_args;  // elementwise: scalars; mvnormal: see mv_args
};

std::vector<KlCase> elementwise_cases() {
  return {
      {"normal", "normal", {0.3, 0.8}, {-0.5, 1.7}},
      {"normal", "normal", {1.2, 0.4}, {0, 1}},
      {"lognormal", "lognormal", {0.2, 0.5}, {0, 1}},
      {"laplace", "laplace", {0.3, 0.7}, {-0.4, 1.5}},
      {"laplace", "laplace", {0.3, 1.1}, {0.3, 0.6}},
      {"exponential", "exponential", {2.5}, {0.7}},
      {"exponential", "gamma", {2.5}, {2, 1.5}},
      {"gamma", "gamma", {3, 2}, {1.5, 0.8}},
      {"beta", "beta", {2, 3}, {0.8, 1.5}},
      {"uniform", "uniform", {0.2, 0.7}, {-1, 2}},
  };
}

const std::vector<double> kLq = {1.2, 0, 0, -0.4, 0.7, 0, 0.3, 0.5, 0.9};
const std::vector<double> kLp = {0.9, 0, 0, 0.2, 1.4, 0, -0.5, 0.1, 0.6};
const std::vector<double> kMuQ = {0.5, -1.0, 2.0}, kMuP = {0.1, 0.2, -0.3};
const std::vector<double> kSigmaP = {1.5, 0.7, 2.0};

Args scalars(Env& env, const std::vector<double>& a, const std::string& prefix) {
  Args out;
  for (std::size_t j = 0; j < a.size(); ++j) out.push_back(env.scalar(prefix + std::to_string(j), a[j]));
  return out;
}

// n draws of q: its own sampler when it has one, std:: otherwise (gamma, beta).
std::vector<double> draws(const KlCase& c, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> out(n);
  if (c.q == "gamma" || c.q == "beta") {
    std::gamma_distribution<double> ga(c.q_args[0], 1.0), gb(c.q_args[1], 1.0);
    for (double& v : out) {
      double a = ga(rng);
      v = c.q == "gamma" ? a / c.q_args[1] : a / (a + gb(rng));
    }
    return out;
  }
  const dist::Distribution& d = entry(c.q);
  Env env;
  const Node* noise = env.vec("eps", noise_for(d.sampler.noise, n, seed), d.sampler.noise);
  return env.eval(dist::sample(d, scalars(env, c.q_args, "q"), noise));
}

// Monte-Carlo E_q[log q − log p]: mean and standard error.
std::pair<double, double> monte_carlo(Env& env, const Node* log_q, const Node* log_p) {
  Stats s = stats(env.eval(ir::sub(log_q, log_p)));
  return {s.mean, s.mean_se()};
}

}  // namespace

TEST_CASE("densities/kl: the tests cover exactly the registry's KL partners") {
  std::set<std::pair<std::string, std::string>> tested;
  for (const KlCase& c : elementwise_cases()) tested.insert({c.q, c.p});
  tested.insert({"mvnormal_cholesky", "normal"});
  tested.insert({"mvnormal_cholesky", "mvnormal_cholesky"});
  std::set<std::pair<std::string, std::string>> listed;
  for (const dist::Distribution& d : dist::distributions()) {
    for (const dist::KlPartner& p : d.kl) listed.insert({std::string(d.name), std::string(p.prior)});
  }
  CHECK(tested == listed);
  // Pairs without a closed form give nullptr.
  Env env;
  CHECK(dist::kl_divergence(entry("normal"), scalars(env, {0, 1}, "q"), entry("laplace"),
                             scalars(env, {0, 1}, "p")) == nullptr);
  CHECK(dist::kl_divergence(entry("cauchy"), scalars(env, {0, 1}, "q"), entry("cauchy"),
                             scalars(env, {0, 1}, "p")) == nullptr);
}

TEST_CASE("densities/kl: elementwise closed forms match Monte Carlo") {
  const std::size_t n = 200000;
  std::uint64_t seed = 101;
  for (const KlCase& c : elementwise_cases()) {
    INFO(c.q << " || " << c.p << " " << c.q_args[0]);
    Env env;
    Args qa = scalars(env, c.q_args, "q"), pa = scalars(env, c.p_args, "p");
    double kl = env.eval1(dist::kl_divergence(entry(c.q), qa, entry(c.p), pa));
    const Node* z = env.vec("z", draws(c, n, seed++));
    double mc = 0, se = 0;  // not a structured binding: INFO captures them (Clang < 16)
    std::tie(mc, se) = monte_carlo(env, dist::log_density(entry(c.q), z, qa),
                                dist::log_density(entry(c.p), z, pa));
    INFO("closed form " << kl << ", Monte Carlo " << mc << " +- " << se);
    CHECK(kl >= 0);
    CHECK(std::abs(kl - mc) <= 4 * se + 1e-9);
  }
}

TEST_CASE("densities/kl: the corrected Gaussian KL of the seed note's step 4") {
  // −KL(N(μ, σ²) ‖ N(0, 1)) = ½ (1 + log σ² − μ² − σ²), with the σ² term (ERRATA.md).
  Env env;
  const Node* mu = env.vec("mu", {0.0, 1.2, -0.7, 3.0});
  const Node* sigma = env.vec("sigma", {1.0, 0.4, 2.5, 1e-3});
  const Node* kl = dist::kl_divergence(entry("normal"), {mu, sigma}, entry("normal"),
                                        {env.scalar("zero", 0), env.scalar("one", 1)});
  REQUIRE(kl->shape() == mu->shape());
  std::vector<double> got = env.eval(kl);
  const auto& m = env.b.inputs.at("mu").values;
  const auto& s = env.b.inputs.at("sigma").values;
  for (std::size_t i = 0; i < got.size(); ++i) {
    double want = -0.5 * (1 + std::log(s[i] * s[i]) - m[i] * m[i] - s[i] * s[i]);
    CHECK(near(got[i], want, 1e-14, 1e-15));
  }
}

TEST_CASE("densities/kl: mvnormal_cholesky closed forms match Monte Carlo") {
  const std::size_t n = 200000;
  const auto rows = static_cast<std::int64_t>(n);
  Env env;
  const Node* mu_q = env.vec("mu_q", kMuQ);
  const Node* lq = env.tensor("Lq", kLq, {3, 3});
  const Node* z = dist::sample(entry("mvnormal_cholesky"), {mu_q, lq},
                                env.tensor("eps", normals(3 * n, 77), {rows, 3}, ir::InputKind::Noise));
  const Node* log_q = dist::log_density(entry("mvnormal_cholesky"), z, {mu_q, lq});
  SUBCASE("against independent normals") {
    const Node* mu_p = env.vec("mu_p", kMuP);
    const Node* sigma_p = env.vec("sigma_p", kSigmaP);
    double kl = env.eval1(dist::kl_divergence(entry("mvnormal_cholesky"), {mu_q, lq}, entry("normal"),
                                               {mu_p, sigma_p}));
    ir::Shape full = z->shape();
    const Node* log_p = ir::sum(
        dist::log_density(entry("normal"), z, {ir::broadcast(mu_p, full), ir::broadcast(sigma_p, full)}), 1);
    double mc = 0, se = 0;  // not a structured binding: INFO captures them (Clang < 16)
    std::tie(mc, se) = monte_carlo(env, log_q, log_p);
    INFO("closed form " << kl << ", Monte Carlo " << mc << " +- " << se);
    CHECK(std::abs(kl - mc) <= 4 * se);
  }
  SUBCASE("against another mvnormal_cholesky") {
    const Node* mu_p = env.vec("mu_p", kMuP);
    const Node* lp = env.tensor("Lp", kLp, {3, 3});
    double kl = env.eval1(dist::kl_divergence(entry("mvnormal_cholesky"), {mu_q, lq},
                                               entry("mvnormal_cholesky"), {mu_p, lp}));
    double mc = 0, se = 0;  // not a structured binding: INFO captures them (Clang < 16)
    std::tie(mc, se) = monte_carlo(env, log_q, dist::log_density(entry("mvnormal_cholesky"), z, {mu_p, lp}));
    INFO("closed form " << kl << ", Monte Carlo " << mc << " +- " << se);
    CHECK(std::abs(kl - mc) <= 4 * se);
  }
}

TEST_CASE("densities/kl: every closed form is 0 when q = p") {
  for (const KlCase& c : elementwise_cases()) {
    if (c.q != c.p) continue;
    INFO(c.q);
    Env env;
    Args qa = scalars(env, c.q_args, "q");
    CHECK(std::abs(env.eval1(dist::kl_divergence(entry(c.q), qa, entry(c.p), qa))) <= 1e-14);
  }
  Env env;
  Args q = {env.scalar("rate", 1.7)};
  CHECK(std::abs(env.eval1(dist::kl_divergence(entry("exponential"), q, entry("gamma"),
                                                {env.scalar("one", 1), q[0]}))) <= 1e-14);
  Args mv = {env.vec("mu", kMuQ), env.tensor("L", kLq, {3, 3})};
  CHECK(std::abs(env.eval1(dist::kl_divergence(entry("mvnormal_cholesky"), mv,
                                                entry("mvnormal_cholesky"), mv))) <= 1e-14);
  // A diagonal L against the normals with those sds.
  Args diag = {env.vec("mu2", kMuP), env.tensor("D", {1.5, 0, 0, 0, 0.7, 0, 0, 0, 2.0}, {3, 3})};
  CHECK(std::abs(env.eval1(dist::kl_divergence(entry("mvnormal_cholesky"), diag, entry("normal"),
                                                {diag[0], env.vec("sd", kSigmaP)}))) <= 1e-14);
}

TEST_CASE("densities/kl: mvnormal_cholesky KLs are per vector over batch axes") {
  std::vector<double> mus = {0.5, -1.0, 2.0, 0.1, 0.9, -0.4};
  for (std::string prior : {"normal", "mvnormal_cholesky"}) {
    INFO(prior);
    Env env;
    Args q = {env.tensor("mu", mus, {2, 3}), env.tensor("Lq", kLq, {3, 3})};
    Args p = prior == "normal"
                 ? Args{env.tensor("mp", {0.1, 0.2, -0.3, 0, 0, 0}, {2, 3}), env.tensor("sp", {1.5, 0.7, 2, 1, 1, 1}, {2, 3})}
                 : Args{env.tensor("mp", {0.1, 0.2, -0.3, 0, 0, 0}, {2, 3}), env.tensor("Lp", kLp, {3, 3})};
    const Node* kl = dist::kl_divergence(entry("mvnormal_cholesky"), q, entry(prior), p);
    REQUIRE(kl->shape() == shape_of({2}));
    std::vector<double> got = env.eval(kl);
    for (std::size_t r = 0; r < 2; ++r) {
      Env one;
      auto row = [&](const std::string& name, const std::vector<double>& v) {
        return one.vec(name, std::vector<double>(v.begin() + 3 * r, v.begin() + 3 * r + 3));
      };
      Args q1 = {row("mu", mus), one.tensor("Lq", kLq, {3, 3})};
      Args p1 = prior == "normal"
                    ? Args{row("mp", {0.1, 0.2, -0.3, 0, 0, 0}), row("sp", {1.5, 0.7, 2, 1, 1, 1})}
                    : Args{row("mp", {0.1, 0.2, -0.3, 0, 0, 0}), one.tensor("Lp", kLp, {3, 3})};
      CHECK(near(got[r], one.eval1(dist::kl_divergence(entry("mvnormal_cholesky"), q1, entry(prior), p1)), 1e-13));
    }
  }
}

TEST_CASE("densities/kl: closed-form gradients match finite differences") {
  for (const KlCase& c : elementwise_cases()) {
    INFO(c.q << " || " << c.p);
    Env env;
    Args qa = scalars(env, c.q_args, "q"), pa = scalars(env, c.p_args, "p");
    std::vector<const Node*> wrt = qa;
    wrt.insert(wrt.end(), pa.begin(), pa.end());
    check_gradient(env, dist::kl_divergence(entry(c.q), qa, entry(c.p), pa), wrt);
  }
  Env env;
  Args q = {env.vec("mu_q", kMuQ), env.tensor("Lq", kLq, {3, 3})};
  Args pn = {env.vec("mu_p", kMuP), env.vec("sigma_p", kSigmaP)};
  Args pm = {pn[0], env.tensor("Lp", kLp, {3, 3})};
  check_gradient(env, dist::kl_divergence(entry("mvnormal_cholesky"), q, entry("normal"), pn),
                 {q[0], q[1], pn[0], pn[1]});
  check_gradient(env, dist::kl_divergence(entry("mvnormal_cholesky"), q, entry("mvnormal_cholesky"), pm),
                 {q[0], q[1], pm[0], pm[1]});
}

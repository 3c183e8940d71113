// The iterate-based convergence rule (runtime/include/vmc/convergence.hpp) and the step-size
// schedules (schedule.hpp), on synthetic iterate sequences whose answers are known.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "vmc/convergence.hpp"
#include "vmc/schedule.hpp"

using vmc::runtime::Convergence;
using vmc::runtime::ConvergenceOptions;

namespace {

// Two params: an AR(1) around `center` (autocorrelation `phi`, stationary sd `sd`) after a
// transient that decays from `start`, and a constant.
struct Iterates {
  std::mt19937_64 rng{42};
  std::normal_distribution<double> noise{0, 1};
  double x, center, phi, sd;
  Iterates(double start, double center, double phi, double sd) : x(start), center(center), phi(phi), sd(sd) {}
  std::vector<double> next() {
    x = center + phi * (x - center) + sd * std::sqrt(1 - phi * phi) * noise(rng);
    return {x, 3.0};
  }
};

}  // namespace

TEST_CASE("convergence: stationary AR(1) iterates converge, their average within a few MCSE of the center") {
  ConvergenceOptions o;
  o.mcse = 0.02;
  Convergence c({"loc", "const"}, {1, 1}, o);
  Iterates it(50.0, 1.0, 0.95, 0.5);
  std::int64_t step = 0;
  bool done = false;
  while (!done && step < 400000) done = c.observe(++step, it.next());
  REQUIRE(done);
  const auto& st = c.status();
  CHECK(st.converged);
  CHECK(st.halvings == o.halvings);  // the step size was halved at each stationarity first
  CHECK(st.lr_factor() == doctest::Approx(std::ldexp(1.0, -o.halvings)));
  CHECK(st.averaged_from > 50);      // not from the transient
  CHECK(st.mcse < 0.02);
  CHECK(st.ess >= o.min_ess);
  std::vector<double> avg = c.average();
  REQUIRE(avg.size() == 2);
  // The average's error against the MCSE the rule estimated (scale 1): within 4 of them.
  CHECK(std::abs(avg[0] - 1.0) < 4 * 0.02);
  CHECK(avg[1] == 3.0);
  CHECK(c.last().size() == 2);
  CHECK(c.why_not().empty());
  MESSAGE("converged at step " << step << ", averaged " << st.averaged << " from " << st.averaged_from
                               << ", mcse " << st.mcse << ", ess " << st.ess << ", average " << avg[0]);
}

TEST_CASE("convergence: a trend is never stationary, and says so") {
  Convergence c({"w"}, {3}, {});
  for (std::int64_t step = 1; step <= 20000; ++step) {
    double t = static_cast<double>(step);
    CHECK_FALSE(c.observe(step, {t * 1e-3, -t * 1e-3, 0.5}));
  }
  CHECK_FALSE(c.status().stationary);
  CHECK(c.status().rhat > 1.1);
  CHECK(c.average().empty());
  CHECK(c.why_not().find("not stationary") != std::string::npos);
  CHECK(c.why_not().find("'w'[0]") != std::string::npos);
  Convergence early({"w"}, {1}, {});
  for (std::int64_t step = 1; step <= 100; ++step) early.observe(step, {0.0});
  CHECK(early.why_not().find("too few steps") != std::string::npos);
}

TEST_CASE("convergence: a model without params converges at the first check (it crashed on a division by 0)") {
  Convergence c({}, {}, {});
  bool done = false;
  std::int64_t step = 0;
  while (!done && step < 1000) done = c.observe(++step, {});
  CHECK(done);
  CHECK(step == 100);
  CHECK(c.status().converged);
  CHECK(c.why_not().empty());
}

TEST_CASE("convergence: a component's scale sets its tolerance; a slow drift well inside it is stationary") {
  // A component drifting by 0.05 over the fit is not stationary by R̂ in its own units, but is
  // when its scale (a guide's sd, say) is 10: the drift is 0.5 % of it.
  auto run = [](double scale) {
    ConvergenceOptions o;
    o.halvings = 0;
    Convergence c({"loc"}, {1}, o, [scale](const std::vector<double>&, std::vector<double>& s) { s.assign(1, scale); });
    std::mt19937_64 rng(1);
    std::normal_distribution<double> n(0, 0.001);
    for (std::int64_t step = 1; step <= 4000; ++step) c.observe(step, {5e-5 * static_cast<double>(step) / 4 + n(rng)});
    return c.status().stationary;
  };
  CHECK_FALSE(run(1e-3));
  CHECK(run(10.0));
}

TEST_CASE("convergence: the state saved and restored goes on as if never stopped") {
  Convergence a({"p", "q"}, {2, 1}, {}), b({"p", "q"}, {2, 1}, {});
  Iterates it(5.0, 0.0, 0.9, 1.0);
  std::int64_t step = 0;
  for (; step < 3000; ++step) {
    std::vector<double> v = it.next();
    v.push_back(v[0] * 2);
    a.observe(step + 1, v);
  }
  b.restore(a.save());
  for (; step < 30000; ++step) {
    std::vector<double> v = it.next();
    v.push_back(v[0] * 2);
    bool da = a.observe(step + 1, v), db = b.observe(step + 1, v);
    REQUIRE(da == db);
    if (da) break;
  }
  CHECK(a.save() == b.save());
  CHECK(a.average() == b.average());
  // Another model's state (other params) and damaged bytes are refused.
  Convergence other({"p"}, {5}, {});
  CHECK_THROWS(other.restore(a.save()));
  std::string bytes = a.save();
  CHECK_THROWS(b.restore(bytes.substr(0, bytes.size() / 2)));
}

TEST_CASE("lr schedules: parsed, refused with a reason, and their factors") {
  std::string problem;
  using K = vmc::runtime::LrSchedule::Kind;
  auto s = vmc::runtime::parse_lr_schedule("step:100:0.1", problem);
  REQUIRE(s);
  CHECK(s->kind == K::Step);
  CHECK(s->at(99) == 1.0);
  CHECK(s->at(100) == doctest::Approx(0.1));
  CHECK(s->at(250) == doctest::Approx(0.01));
  CHECK(s->text() == "step:100:0.1");
  s = vmc::runtime::parse_lr_schedule("invsqrt:4", problem);
  REQUIRE(s);
  CHECK(s->at(12) == doctest::Approx(0.5));
  CHECK(vmc::runtime::parse_lr_schedule("step", problem)->at(1000) == doctest::Approx(0.5));
  CHECK(vmc::runtime::parse_lr_schedule("adapt", problem)->kind == K::Adapt);
  CHECK(vmc::runtime::parse_lr_schedule("constant", problem)->at(123456) == 1.0);
  for (const char* bad : {"", "warm", "step:0", "step:1.5", "step:10:0", "step:10:2", "step:1:0.5:3", "invsqrt:0",
                          "invsqrt:x", "adapt:1", "constant:2", "step:nan"}) {
    problem.clear();
    CHECK_MESSAGE(!vmc::runtime::parse_lr_schedule(bad, problem), bad);
    CHECK_MESSAGE(!problem.empty(), bad);
  }
}

// Models the lowering cannot (or must not) compile get diagnostics with a place in the source
// from sema (sema/lowering.cpp, check_expr.cpp, check_index.cpp, check_sample.cpp), never an
// internal error, and lowering itself reports nothing: an importance-weighted estimator on a
// model mixing local and global latents, a fullrank automatic guide on a local latent, products
// and transposes needing a matrix per datapoint, a dim with no value where a param's shape needs
// it, and the other restrictions of what lowering computes.
#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {

// Compiles `text` as the pipeline does for lowering and expects sema to report an error
// mentioning each of `needles`, at a valid place in the source, and no internal error.
void expect_error(const std::string& text, const std::vector<std::string>& needles,
                  const sema::Options& so = {}, Estimator::Ref e = Estimator::A, int samples = 1) {
  std::unique_ptr<Compiled> c;
  try {
    c = std::make_unique<Compiled>(text, so, lower_options(e, samples));
  } catch (const InternalError& err) {
    FAIL("internal error instead of a diagnostic: ", std::string(err.what()));
    return;
  }
  CHECK_FALSE(c->sema_ok());
  CHECK_FALSE(c->lowered.has_value());
  REQUIRE(c->diags.has_errors());
  std::string all = c->messages();
  for (const std::string& n : needles) CHECK_MESSAGE(all.find(n) != std::string::npos, "no '", n, "' in:\n", all);
  for (const Diagnostic& d : c->diags.all()) {
    CHECK_MESSAGE((d.span.valid() || !d.where.empty()), "a diagnostic without a place: ", d.message);
  }
}

}  // namespace

// A local latent and no guide block: only an automatic guide can fit it.
const char* const kLocalLatentWithoutGuide = R"(model local_auto;
dims { N; }
data { y : real[N]; }
latent { z : real[N]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    y[i] ~ normal(z[i], 1);
  }
}
)";

TEST_CASE("lowering's needs, checked in sema: iwae on a model mixing local and global latents") {
  const char* text = R"(model mixed;
dims { N; }
data { y : real[N]; }
param { m_loc : real; m_ls : real; a : real; ls : real; }
latent { mu : real; z : real[N]; }
model {
  mu ~ normal(0, 1);
  plate i in N subsample {
    z[i] ~ normal(mu, 1);
    y[i] ~ normal(z[i], 1);
  }
}
guide {
  mu ~ normal(m_loc, exp(m_ls));
  plate i in N subsample {
    z[i] ~ normal(a * y[i], exp(ls));
  }
}
)";
  for (int k : {1, 4}) expect_error(text, {"iwae", "local", "global"}, {}, Estimator::Iwae, k);
  // The same model compiles under the other estimators.
  for (Estimator::Ref e : {Estimator::A, Estimator::B, Estimator::Stl}) {
    Compiled c(text, {}, lower_options(e, 2));
    CHECK_MESSAGE(c.ok(), c.messages());
  }
  // Global latents with a subsampled plate are refused too (the log-mean-exp would be over the
  // whole data, which a minibatch does not see).
  const char* global_subsampled = R"(model gs;
dims { N; }
data { y : real[N]; }
param { m_loc : real; m_ls : real; }
latent { mu : real; }
model {
  mu ~ normal(0, 1);
  plate i in N subsample { y[i] ~ normal(mu, 1); }
}
guide { mu ~ normal(m_loc, exp(m_ls)); }
)";
  expect_error(global_subsampled, {"iwae"}, {}, Estimator::Iwae, 3);
}

TEST_CASE("a fullrank automatic guide on local latents alone: a normal per datapoint, as meanfield") {
  const char* text = kLocalLatentWithoutGuide;
  for (const char* guide : {"fullrank", "meanfield"}) {
    Compiled c(text, sema_options({{"N", 6}}, guide), lower_options(Estimator::A));
    REQUIRE_MESSAGE(c.ok(), c.messages());
    std::vector<std::string> names;
    for (const lower::ParamInput& p : c.l().params) names.push_back(p.name);
    CHECK(names == std::vector<std::string>{"z.loc", "z.scale"});
  }
}

TEST_CASE("lowering's needs, checked in sema: a product or transpose needing a matrix per datapoint") {
  const char* product = R"(model per_point_matrix;
dims { N; K = 2; }
data { A : real[N, K, K]; y : real[N, K]; }
param { w : real[K]; }
model {
  plate i in N subsample {
    y[i] ~ normal(A[i] * w, 1);
  }
}
)";
  expect_error(product, {"different matrix per datapoint"});
  const char* row_product = R"(model per_point_matrix2;
dims { N; K = 2; }
data { A : real[N, K, K]; y : real[N, K]; }
model {
  plate i in N subsample {
    y[i] ~ normal(A[i] * y[i], 1);
  }
}
)";
  expect_error(row_product, {"different matrix per datapoint"});
  const char* transpose = R"(model per_point_transpose;
dims { N; K = 2; }
data { A : real[N, K, K]; y : real[N, K, K]; }
model {
  plate i in N subsample {
    y[i] ~ normal(A[i]', 1);
  }
}
)";
  expect_error(transpose, {"transposing a per-datapoint matrix"});
}

TEST_CASE("lowering's needs, checked in sema: a dim with no value where a param's shape needs it") {
  const char* text = R"(model no_dim;
dims { N; D; }
data { x : real[N, D]; }
param { w : real[D]; }
model {
  plate i in N subsample {
    x[i] ~ normal(w, 1);
  }
}
)";
  expect_error(text, {"'D'", "--set D"});
  // Given a value it compiles, and N stays a run-time size.
  Compiled c(text, sema_options({{"D", 3}}), lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  CHECK(c.l().sizes.count("M"));
  // A local latent's automatic guide has a param per datapoint: N needs a value too.
  // The same model with no N at all.
  const char* auto_local = kLocalLatentWithoutGuide;
  expect_error(auto_local, {"'N'"}, sema_options({}, "meanfield"));
}

TEST_CASE("lowering's needs, checked in sema: other restrictions are diagnostics") {
  // Data read per datapoint of a subsampled plate and as a whole.
  expect_error(R"(model both;
dims { N; }
data { y : real[N]; }
param { m : real; }
model {
  plate i in N subsample { y[i] ~ normal(m, 1); }
  target += sum(y);
}
)", {"'y'", "both"});
  // A Cholesky factor per datapoint.
  expect_error(R"(model chol_per_point;
dims { N; K = 2; }
data { y : real[N, K]; L : real[N, K, K]; }
param { m : real[K]; }
model {
  plate i in N subsample { y[i] ~ mvnormal_cholesky(m, L[i]); }
}
)", {"Cholesky"});
  // A latent drawn in nested plates, read without the inner plate's index.
  expect_error(R"(model nested_read;
dims { N; T = 2; }
data { y : real[N, T]; }
param { b : real; }
latent { u : real[N, T]; }
model {
  plate i in N subsample {
    plate t in T {
      u[i, t] ~ normal(0, 1);
    }
    y[i] ~ normal(u[i], 1);
  }
}
guide {
  plate i in N subsample {
    plate t in T {
      u[i, t] ~ normal(b, 1);
    }
  }
}
)", {"nested plates"});
  // A local latent read whole (or by a constant index) where its plate's index is needed (sema
  // or the lowering may report it).
  expect_error(R"(model local_whole;
dims { N; }
data { y : real[N]; }
param { b : real; }
latent { z : real[N]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    y[i] ~ normal(z[i], 1);
  }
  target += -square(z[0]);
}
guide {
  plate i in N subsample { z[i] ~ normal(b, 1); }
}
)", {"index"});
  // A per-datapoint Cholesky factor in the guide.
  expect_error(R"(model chol_guide;
dims { N; K = 2; }
data { y : real[N, K]; L : real[N, K, K]; }
latent { z : real[N, K]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    y[i] ~ normal(z[i], 1);
  }
}
guide {
  plate i in N subsample { z[i] ~ mvnormal_cholesky(y[i], L[i]); }
}
)", {"Cholesky"});
}

TEST_CASE("lowering's needs, checked in sema: constant indices, slices and gathers lowering cannot make") {
  // A constant index or a slice of an extent no data or --set gives (`vmc emit ir` without
  // --set): lowering slices constant extents only. This was an internal error (exit 70).
  const char* unknown_n = R"(model index_unknown;
dims { N; }
data { y : real[N]; }
param { m : real; }
model {
  y ~ normal(m, 1);
  target += -square(y[0] - m);
}
)";
  expect_error(unknown_n, {"a constant index needs an extent known at compile time", "--set"});
  expect_error(R"(model slice_unknown;
dims { N; }
data { y : real[N]; }
param { m : real; }
model {
  y ~ normal(m, 1);
  target += -sum(square(y[1:]));
}
)", {"slice bounds must be constants on an extent known at compile time"});
  // Given N it compiles.
  Compiled c(unknown_n, sema_options({{"N", 3}}), lower_options(Estimator::A));
  CHECK_MESSAGE(c.ok(), c.messages());
  // A gather by an int expression that is not int data: lowering gathers by data only.
  expect_error(R"(model gather_expr;
dims { N; G = 3; }
data { y : real[N]; g : int<lower=0, upper=1>[N]; }
param { a : real[G]; }
model {
  plate i in N subsample { y[i] ~ normal(a[g[i] + 1], 1); }
}
)", {"an index must be an int constant, a plate index or int data"}, sema_options({{"N", 4}}));
}

// Semantic analysis of whole files: the canonical models, file layout and blocks, names, dims
// and their inference from data, declarations and their types, params' inits, and fns.
// Expressions are in test_sema_exprs.cpp, statements and latents in test_sema_stmts.cpp.
#include <cmath>
#include <set>

#include "ir/scalar.hpp"
#include "sema/builtins.hpp"
#include "test_sema_helpers.hpp"

using namespace sema_test;

namespace {

const char* const kGaussianVae = R"(model gaussian_vae;
dims { N; D; J = 20; H = 400; }
data { x : real[N, D]; }
param {
  dec_W : real[H, J];   dec_b : real[H];
  mu_W  : real[D, H];   mu_b  : real[D];
  lv_W  : real[D, H];   lv_b  : real[D];
  enc_W : real[H, D];   enc_b : real[H];
  zm_W  : real[J, H];   zm_b  : real[J];
  zv_W  : real[J, H];   zv_b  : real[J];
}
latent { z : real[N, J]; }
fn mlp(W, b, v) = tanh(W * v + b);
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    let h = mlp(dec_W, dec_b, z[i]);
    x[i] ~ normal(mu_W * h + mu_b, 0.01 + exp(0.5 * (lv_W * h + lv_b)));
  }
}
guide {
  plate i in N subsample {
    let e = mlp(enc_W, enc_b, x[i]);
    z[i] ~ normal(zm_W * e + zm_b, exp(0.5 * (zv_W * e + zv_b)));
  }
}
)";

const char* const kLogisticRegression = R"(model logistic_regression;
dims { N; D; }
data { X : real[N, D]; y : int<lower=0, upper=1>[N]; }
latent { w : real[D]; b : real; }
param { w_loc : real[D]; w_ls : real[D] init -2; b_loc : real; b_ls : real init -2; }
model {
  w ~ normal(0, 1);
  b ~ normal(0, 5);
  y ~ bernoulli_logit(X * w + b);
}
guide {
  w ~ normal(w_loc, exp(w_ls));
  b ~ normal(b_loc, exp(b_ls));
}
)";

// A minimal well-formed model around the given blocks.
std::string with_model(const std::string& decls, const std::string& model = "") {
  return "model m;\n" + decls + "\nmodel {" + model + "}\n";
}

}  // namespace

TEST_CASE("the gaussian VAE checks, with symbolic N and D") {
  Checked c(kGaussianVae);
  REQUIRE(c.model);
  CHECK(sema::summary_line(*c.model) ==
        "ok: 12 params (1202*D + 24840 values), 1 latents (1 local, 0 global), 1 data, 4 dims; "
        "model gaussian_vae");
  const sema::Model& m = *c.model;
  CHECK(m.name == "gaussian_vae");
  REQUIRE(m.latents.size() == 1);
  CHECK(m.latents[0].local);
  CHECK(m.latents[0].plate_dim == "N");
  CHECK(m.latents[0].prior->name == "normal");
  CHECK(m.latents[0].guide_family->name == "normal");
  CHECK(m.latents[0].closed_form_kl);
  CHECK(to_string(m.find_variable("x")->type) == "real[N, D]");
  CHECK(to_string(m.find_variable("dec_W")->type) == "real[400, 20]");
  CHECK(m.find_dim("N")->source == sema::DimSource::Unknown);
  CHECK(m.find_dim("J")->source == sema::DimSource::Default);
  CHECK(m.find_dim("J")->value == 20);
  CHECK(m.find_variable("dec_W")->init.kind == sema::ParamInit::Kind::Default);
  CHECK(m.functions.count("mlp") == 1);
  REQUIRE(m.samples.size() == 3);
  CHECK(m.samples[0].variable == "z");
  CHECK(m.samples[0].block == ast::BlockKind::Model);
  CHECK(m.samples[1].variable == "x");
  CHECK(m.samples[1].role == sema::Role::Data);
  CHECK(m.samples[2].block == ast::BlockKind::Guide);
  // The likelihood's mean is a vector of D values per datapoint.
  const ast::Sample& lik = *m.model_block->statements[0]->as<ast::Plate>()->body[2]->as<ast::Sample>();
  CHECK(to_string(*m.type_of(*lik.dist.args[0])) == "real[D]");
  CHECK(to_string(*m.type_of(*lik.lhs)) == "real[D]");
  CHECK(m.site_of(lik)->dist->name == "normal");
}

TEST_CASE("the gaussian VAE with data and --set") {
  sema::Options o;
  o.data_shapes["x"] = {60000, 784};
  o.set_dims["J"] = 2;
  Checked c(kGaussianVae, o);
  REQUIRE(c.model);
  CHECK(sema::summary_line(*c.model) ==
        "ok: 12 params (945572 values), 1 latents (1 local, 0 global), 1 data, 4 dims; "
        "model gaussian_vae");
}

TEST_CASE("logistic regression: global latents, int data, constant inits") {
  Checked c(kLogisticRegression);
  REQUIRE(c.model);
  CHECK(sema::summary_line(*c.model) ==
        "ok: 4 params (2*D + 2 values), 2 latents (0 local, 2 global), 2 data, 2 dims; "
        "model logistic_regression");
  const sema::Variable& w_ls = *c.model->find_variable("w_ls");
  CHECK(w_ls.init.kind == sema::ParamInit::Kind::Constant);
  CHECK(w_ls.init.value == -2);
  CHECK_FALSE(c.model->latents[0].local);
}

// INTERFACE.md's `ok: N params (P values), L latents, ...`: the words stay for any count.
TEST_CASE("the summary keeps INTERFACE.md's words for counts of one") {
  Checked c("model one;\ndims { K = 1; }\ndata { y : real; }\nparam { mu : real; }\n"
            "model { y ~ normal(mu, 1); }\n");
  REQUIRE(c.model);
  CHECK(sema::summary_line(*c.model) ==
        "ok: 1 params (1 values), 0 latents (0 local, 0 global), 1 data, 1 dims; model one");
}

TEST_CASE("the model name and the blocks") {
  SUBCASE("no name") {
    Checked c("dims { N = 1; }\nmodel { }\n");
    CHECK(c.errors() == Lines{"1:1: the file does not name its model; begin it with 'model NAME;'"});
  }
  SUBCASE("two names") {
    Checked c("model a;\nmodel b;\nmodel { }\n");
    CHECK(c.errors() == Lines{"2:7: a second model name; a file declares one model"});
    CHECK(c.notes() == Lines{"1:7: the model is named here"});
  }
  SUBCASE("a block twice") {
    Checked c("model m;\ndata { x : real; }\nmodel { }\ndata { y : real; }\n");
    CHECK(c.errors() == Lines{"4:1: duplicate 'data' block"});
    CHECK(c.notes() == Lines{"2:1: first 'data' block is here"});
  }
  SUBCASE("no model block") {
    Checked c("model m;\ndims { N = 1; }\n");
    CHECK(c.errors() == Lines{"1:7: model 'm' has no 'model' block"});
  }
}

TEST_CASE("a model with latents needs a guide block or an automatic guide") {
  const std::string text = "model m;\nlatent { z : real; }\nmodel { z ~ normal(0, 1); }\n";
  SUBCASE("neither") {
    Checked c(text);
    CHECK(c.errors() == Lines{"2:1: model 'm' has latents but no guide block; add a guide block, "
                              "or fit with --guide meanfield|fullrank|lowrank:R"});
  }
  SUBCASE("meanfield") {
    sema::Options o;
    o.auto_guide = "meanfield";
    Checked c(text, o);
    REQUIRE(c.model);
    CHECK(c.model->auto_guide == sema::find_auto_guide("meanfield"));
    CHECK(c.model->latents[0].guide_family->name == "normal");
    CHECK(c.model->latents[0].closed_form_kl);
  }
  SUBCASE("an unknown automatic guide") {
    sema::Options o;
    o.auto_guide = "meanfeld";
    Checked c(text, o);
    CHECK(c.errors() == Lines{"--guide: unknown automatic guide 'meanfeld'; did you mean "
                              "'meanfield'?",
                              "2:1: model 'm' has latents but no guide block; add a guide block, "
                              "or fit with --guide meanfield|fullrank|lowrank:R"});
  }
  SUBCASE("an unknown automatic guide, nothing like one") {
    sema::Options o;
    o.auto_guide = "laplace";
    Checked c(text, o);
    CHECK(c.errors().at(0) == "--guide: unknown automatic guide 'laplace'; use meanfield, fullrank or lowrank:R");
  }
  SUBCASE("an automatic guide for a model that has one") {
    sema::Options o;
    o.auto_guide = "fullrank";
    Checked c(text + "guide { z ~ normal(0, 1); }\n", o);
    CHECK(c.errors() == Lines{"--guide: model 'm' has a guide block; --guide fullrank applies "
                              "only to models without one"});
  }
}

TEST_CASE("the automatic guides: one registry, properties not names") {
  std::set<std::string> names;
  for (const sema::AutoGuide& g : sema::auto_guides()) {
    CHECK(names.insert(std::string(g.name)).second);
    CHECK(sema::find_auto_guide(g.name) == &g);
    CHECK(sema::auto_guides_reference().find("| " + std::string(g.name) + (g.ranked ? ":R" : "") + " | " +
                                             std::string(g.summary)) !=
          std::string::npos);
  }
  CHECK(sema::find_auto_guide("nosuch") == nullptr);
  CHECK_FALSE(sema::factorized_auto_guide().joint);
  CHECK(sema::auto_guide_list() == "meanfield, fullrank or lowrank:R");
  int rank = 0;
  std::string problem;
  CHECK(sema::parse_auto_guide("lowrank:3", rank, problem) == sema::find_auto_guide("lowrank"));
  CHECK(rank == 3);
  CHECK(sema::parse_auto_guide("fullrank", rank, problem) == sema::find_auto_guide("fullrank"));
  CHECK(rank == 0);
  for (const char* bad : {"lowrank", "lowrank:0", "lowrank:17", "lowrank:x", "lowrank:", "fullrank:2", "nosuch"}) {
    problem.clear();
    CHECK_MESSAGE(sema::parse_auto_guide(bad, rank, problem) == nullptr, bad);
    CHECK_MESSAGE(!problem.empty(), bad);
  }
  // A joint guide covers the global latents; a local one keeps the factorized guide (a normal).
  const std::string local = "model m;\ndims { N = 10; }\ndata { x : real[N]; }\nlatent { z : real[N]; }\n"
                            "model { plate i in N subsample { z[i] ~ normal(0, 1); x[i] ~ normal(z[i], 1); } }\n";
  for (const sema::AutoGuide& g : sema::auto_guides()) {
    sema::Options o;
    o.auto_guide = std::string(g.name) + (g.ranked ? ":2" : "");
    o.lowering = true;
    Checked c(local, o);
    CHECK(c.errors().empty());
    REQUIRE(c.model);
    REQUIRE(c.model->latents.size() == 1);
    REQUIRE(c.model->latents[0].guide_family);
    CHECK(c.model->latents[0].guide_family->name == "normal");
  }
}

TEST_CASE("every name is declared once") {
  Checked c(with_model("dims { N; K = 3; K = 4; }\ndata { x : real[N]; }\nparam { x : real; }\n"
                       "fn N(a) = a;"));
  CHECK(c.errors() == Lines{"2:18: 'K' is already declared", "4:9: 'x' is already declared",
                            "5:4: 'N' is already declared"});
  CHECK(c.notes(0) == Lines{"2:11: 'K' is first declared here, as a dim"});
  CHECK(c.notes(1) == Lines{"3:8: 'x' is first declared here, as data"});
  CHECK(c.notes(2) == Lines{"2:8: 'N' is first declared here, as a dim"});
}

TEST_CASE("dims: defaults, --set and inference from data") {
  const std::string text = with_model("dims { N; D; J = 2 * K; K = 3; H = K + 1; }\n"
                                      "data { x : real[N, D]; y : real[N]; }");
  SUBCASE("defaults may use the dims before them") {
    Checked c(text);
    CHECK(c.errors() == Lines{"2:18: the default of dim 'J' must be a constant, but it depends on "
                              "K, which has no value here"});
  }
  const std::string ok = with_model("dims { N; D; K = 3; H = K + 1; }\n"
                                    "data { x : real[N, D]; y : real[N]; w : real[H]; }");
  SUBCASE("values from defaults, --set and data") {
    sema::Options o;
    o.set_dims["K"] = 5;
    o.data_shapes = {{"x", {100, 7}}, {"y", {100}}, {"unused", {3}}};
    Checked c(ok, o);
    REQUIRE(c.model);
    CHECK(c.model->find_dim("N")->value == 100);
    CHECK(c.model->find_dim("N")->source == sema::DimSource::Data);
    CHECK(c.model->find_dim("K")->value == 5);
    CHECK(c.model->find_dim("K")->source == sema::DimSource::Set);
    CHECK(c.model->find_dim("H")->value == 6);
    CHECK(to_string(c.model->find_variable("w")->type) == "real[6]");
  }
  SUBCASE("--set of an unknown dim, or a value that is not positive") {
    sema::Options o;
    o.set_dims = {{"H", 0}, {"k", 2}};
    Checked c(ok, o);
    CHECK(c.errors() == Lines{"--set: dim 'H' must be positive, but --set H=0 is not",
                              "--set: unknown dim 'k'; the dims are N, D, K and H"});
  }
  SUBCASE("two data arrays disagree") {
    sema::Options o;
    o.data_shapes = {{"x", {100, 7}}, {"y", {99}}};
    Checked c(ok, o);
    CHECK(c.errors() == Lines{"3:24: the data given for 'y' has N = 99, but the data given for "
                              "'x' has N = 100"});
    CHECK(c.notes() == Lines{"3:8: 'x' is declared here"});
  }
  SUBCASE("--set disagrees with the data") {
    sema::Options o;
    o.set_dims["D"] = 8;
    o.data_shapes = {{"x", {100, 7}}};
    Checked c(ok, o);
    CHECK(c.errors() == Lines{"3:8: the data given for 'x' has D = 7, but --set D=8"});
  }
  SUBCASE("data of the wrong rank, or against a fixed extent") {
    sema::Options o;
    o.data_shapes = {{"x", {100}}, {"w", {5}}};
    Checked c(ok, o);
    CHECK(c.errors() == Lines{"3:8: the data given for 'x' has shape [100], but 'x' is declared "
                              "real[N, D]",
                              "3:37: the data given for 'w' has shape [5], but 'w' is declared "
                              "real[4]"});
  }
}

TEST_CASE("dim defaults are positive integer constants") {
  Checked c(with_model("dims { A = 0; B = 2.5; C = x; E = 2 - 5; }\ndata { x : real; }"));
  CHECK(c.errors() == Lines{"2:12: dim 'A' must be positive, but its default is 0",
                            "2:19: the default of dim 'B' must be an integer, but 2.5 is not",
                            "2:28: the default of dim 'C' may use only integers and dims, but "
                            "'x' is data",
                            "2:35: dim 'E' must be positive, but its default is -3"});
}

TEST_CASE("declared types") {
  SUBCASE("params and latents are real") {
    Checked c(with_model("param { k : int; }\nlatent { n : int<lower=0>; }"));
    CHECK(c.errors() == Lines{"2:13: param 'k' cannot be int; params and latents are real",
                              "3:14: latent 'n' cannot be int; params and latents are real",
                              "3:1: model 'm' has latents but no guide block; add a guide block, "
                              "or fit with --guide meanfield|fullrank|lowrank:R",
                              "3:10: latent 'n' has no '~' in the model block: its prior is flat (improper) on its support, so the bound is on log p(data) up to that prior's infinite constant"});
  }
  SUBCASE("extents") {
    Checked c(with_model("dims { K = 3; }\ndata { a : real[K - 3]; b : real[K / 2]; c : real[q]; "
                         "d : real[2 * K + 1]; }"));
    CHECK(c.errors() == Lines{"3:17: the first extent of 'a', K - 3, is 0; extents must be positive",
                              "3:36: the shape of 'b' may use only integers, dims, '+', '-' and "
                              "'*'",
                              "3:51: unknown dim 'q'"});
  }
  SUBCASE("constraints") {
    Checked c(with_model(
        "dims { K = 3; }\nparam { a : real<lowr=0>; b : real<lower=1, upper=1>; "
        "c : real<lower=0, lower=1>; d : real<lower>; e : real<cholesky>[K, 2];\n"
        "f : real<cholesky, lower=0>[K, K]; g : real<cholesky>[K, K]; h : real<upper=-pi>; }"));
    CHECK(c.errors() ==
          Lines{"3:18: unknown constraint 'lowr'; did you mean 'lower'? (constraints are lower, "
                "upper, cholesky, ordered, positive_ordered, simplex and cholesky_corr)",
                "3:31: the bounds of 'b' are empty: lower=1 is not below upper=1",
                "3:73: constraint 'lower' is given twice",
                "3:92: 'lower' needs a value, as in lower=0",
                "3:109: 'cholesky' needs a square real matrix real[K, K], but 'e' is "
                "real[3, 2]",
                "4:10: 'cholesky' cannot be combined with lower or upper"});
    CHECK(c.notes(2) == Lines{"3:64: first 'lower' is here"});
  }
}

TEST_CASE("param inits") {
  Checked c(with_model(
      "dims { K = 2; }\nparam { a : real<lower=0> init 0; b : real<lower=0, upper=1> init 1.5;\n"
      "c : real init normal(0); d : real init poisson(1); e : real init log(2) * K;\n"
      "f : real<cholesky>[K, K] init 1; g : real init uniform(1, 0); h : real init x; }\n"
      "data { x : real init 1; }"));
  CHECK(c.errors() ==
        Lines{"3:32: init 0 is on the boundary of the support (lower=0); use a value inside it",
              "3:67: init 1.5 is outside the support (lower=0, upper=1) of 'b'",
              "4:15: 'normal' takes 2 arguments (mu, sigma), but 1 was given",
              "4:40: 'poisson' cannot draw an init; use a scalar continuous distribution such "
              "as normal",
              "5:31: a cholesky factor cannot start as a constant; use a distribution such as "
              "'init normal(0, 0.1)'",
              "5:48: 'uniform' needs lo < hi, but its bounds are 1 and 0",
              "5:77: the init of 'h' must be a constant, but 'x' is data",
              "6:17: 'init' is only for params; 'x' is data"});
  REQUIRE(c.program);
}

TEST_CASE("a constant init folds builtins and dims") {
  Checked c(with_model("dims { K = 2; }\nparam { e : real init log(2) * K; "
                       "s : real<lower=0> init normal(0, 0.1); }"));
  REQUIRE(c.model);
  CHECK(c.model->find_variable("e")->init.value == doctest::Approx(2 * std::log(2.0)));
  const sema::ParamInit& s = c.model->find_variable("s")->init;
  CHECK(s.kind == sema::ParamInit::Kind::Distribution);
  CHECK(s.args == std::vector<double>{0, 0.1});
}

TEST_CASE("constant folding is the interpreter's scalar code") {
  // digamma and sigmoid once had private copies here that differed from the runtime's in the
  // last bits; now every builtin folds through ir::unary_value / binary_value.
  Checked c(with_model("param { a : real init digamma(0.7); b : real init sigmoid(-30); "
                       "c : real init log_sum_exp(-1e308, -1e308); d : real init min(3, 2); "
                       "e : real init mean(4); }"));
  REQUIRE(c.model);
  CHECK(c.model->find_variable("a")->init.value == vmc::ir::unary_value(vmc::ir::Op::Digamma, 0.7));
  CHECK(c.model->find_variable("b")->init.value == vmc::ir::unary_value(vmc::ir::Op::Sigmoid, -30));
  CHECK(c.model->find_variable("c")->init.value ==
        vmc::ir::binary_value(vmc::ir::Op::LogAddExp, -1e308, -1e308));
  CHECK(c.model->find_variable("d")->init.value == 2);
  CHECK(c.model->find_variable("e")->init.value == 4);
}

TEST_CASE("the builtins are the ops of ops.def with a builtin name, Stan's names for some, and compositions") {
  std::size_t ops = 0;
  for (int k = 0; k < vmc::ir::kOpCount; ++k) {
    auto op = static_cast<vmc::ir::Op>(k);
    std::string name = vmc::ir::info(op).builtin;
    if (name.empty()) continue;
    ++ops;
    const sema::Builtin* b = sema::find_builtin(name);
    REQUIRE(b);
    CHECK(b->op(vmc::ir::info(op).arity) == op);
  }
  std::size_t listed = 0;
  for (const sema::Builtin& b : sema::builtins()) {
    if (b.rule == sema::BuiltinRule::Op && b.alias_of.empty()) listed += b.ops.size();
    // An alias is one op that has its own builtin name; a composition has its parts.
    if (!b.alias_of.empty()) CHECK(b.ops.size() == 1);
    if (b.rule == sema::BuiltinRule::Elementwise || b.rule == sema::BuiltinRule::AlongVector) {
      CHECK((b.ops.empty() && b.expand && b.arity > 0));
    }
    if (b.rule == sema::BuiltinRule::Structure) CHECK((b.ops.empty() && !b.formula.empty() && b.arity > 0));
  }
  CHECK(listed == ops);
  CHECK(sema::find_builtin("inv_logit")->op(1) == vmc::ir::Op::Sigmoid);
  CHECK(sema::find_builtin("fmin")->arity_text() == "2 arguments");
  CHECK(sema::find_builtin("log_mix")->arity_text() == "3 arguments");
  CHECK(sema::find_builtin("min")->arity_text() == "1 or 2 arguments");
  CHECK(sema::find_builtin("dot")->arity_text() == "2 arguments");
  CHECK(sema::find_builtin("neg") == nullptr);  // an op the language spells '-'
}

TEST_CASE("fn definitions") {
  SUBCASE("names and parameters") {
    Checked c(with_model("data { x : real; }\nfn exp(a) = a;\nfn normal(a) = a;\n"
                         "fn f(a, b, a) = a;\nfn g(x) = x;"));
    CHECK(c.errors() == Lines{"3:4: fn 'exp' has the name of a builtin function",
                              "4:4: fn 'normal' has the name of a distribution",
                              "5:12: parameter 'a' of fn 'f' is declared twice",
                              "6:6: parameter 'x' of fn 'g' shadows data 'x'; choose another name"});
    CHECK(c.notes(2) == Lines{"5:6: first 'a' is here"});
    CHECK(c.notes(3) == Lines{"2:8: 'x' is declared here"});
  }
  SUBCASE("recursion") {
    Checked c(with_model("fn f(a) = f(a) + 1;\nfn g(a) = h(a);\nfn h(a) = 2 * g(a);",
                         " target += g(1); "));
    CHECK(c.errors() ==
          Lines{"2:11: recursive call: 'f' -> 'f'; fns cannot call themselves, directly or "
                "through others",
                "4:15: recursive call: 'g' -> 'h' -> 'g'; fns cannot call themselves, directly "
                "or through others"});
    CHECK(c.notes(1) == Lines{"3:11: 'g' calls 'h' here"});
  }
  SUBCASE("bodies: unknown names, no lets or latents") {
    Checked c("model m;\nlatent { z : real; }\nfn f(a) = a + z;\nfn g(a) = a * h;\n"
              "model { let h = 1; z ~ normal(0, 1); }\nguide { z ~ normal(0, 1); }\n");
    CHECK(c.errors() == Lines{"3:15: fn 'f' cannot read latent 'z'; pass it as an argument",
                              "4:15: fn 'g' cannot read 'h', a let of the model block; pass it as "
                              "an argument"});
    CHECK(c.notes(1) == Lines{"5:13: 'h' is defined here"});
  }
  SUBCASE("calls: arity, and errors in the body at each call") {
    Checked c(with_model("param { W : real[3, 4]; v : real[4]; u : real[5]; }\n"
                         "fn mlp(W2, b, v2) = tanh(W2 * v2 + b);",
                         "\n  target += sum(mlp(W, v));\n  target += sum(mlp(W, 0, u));\n"
                         "  target += sum(mlp(W, 0, u)) + sum(mlp(W, 0, v));\n"));
    CHECK(c.errors() == Lines{"5:17: 'mlp' takes 3 arguments (W2, b, v2), but 2 were given",
                              "3:26: shapes do not agree for '*': real[3, 4] and real[5]"});
    CHECK(c.notes(0) == Lines{"3:4: 'mlp' is defined here"});
    CHECK(c.notes(1) == Lines{"6:17: in call to 'mlp' here"});
  }
}

TEST_CASE("a fn call has the type of its body for the arguments' types") {
  Checked c(with_model("param { W : real[3, 4]; v : real[4]; }\nfn affine(A, x, b) = A * x + b;",
                       " target += sum(affine(W, v, 1)) + affine(2, 3, 4); "));
  REQUIRE(c.model);
  const ast::Expr& sum = *c.model->model_block->statements[0]->as<ast::TargetIncrement>()->value;
  const ast::Binary& plus = *sum.as<ast::Binary>();
  CHECK(to_string(*c.model->type_of(*plus.lhs->as<ast::Call>()->args[0])) == "real[3]");
  CHECK(to_string(*c.model->type_of(*plus.rhs)) == "int");
}

TEST_CASE("a dim without a default must be an extent of some data") {
  Checked c(with_model("dims { N; J; }\ndata { x : real[N, 2 * J]; }\nparam { w : real[J]; }"));
  CHECK(c.errors() == Lines{"2:11: dim 'J' has no value, and no data extent gives it; give it a "
                            "default, as in 'J = 2;', or set it with --set J=2"});
  sema::Options o;
  o.set_dims["J"] = 4;
  Checked set(with_model("dims { N; J; }\ndata { x : real[N, 2 * J]; }"), o);
  CHECK(set.errors().empty());
}

TEST_CASE("more init errors") {
  Checked c(with_model("param { a : real init log(0); b : real init f(1); c : real init normall(0, 1); }\n"
                       "fn f(x) = x;"));
  CHECK(c.errors() ==
        Lines{"2:23: the init of 'a' is not finite: 'log(0)' is -inf",
              "2:45: the init of 'b' must be a constant or a distribution, but 'f' is a fn",
              "2:65: unknown distribution 'normall' in the init of 'c'; did you mean 'normal'? (vmc help distributions lists them all)"});
}

TEST_CASE("an extent past int64 is too large") {
  Checked c(with_model("param { d : real[3000000000 * 3000000000 * 3000000000]; }"));
  CHECK(c.errors() == Lines{"2:18: extent '3000000000 * 3000000000 * 3000000000' is too large"});
}

TEST_CASE("a fn with a parameter declared twice gives its calls no type") {
  Checked c(with_model("param { w : real[3]; }\nfn f(a, a) = a * w;", " target += sum(f(w, 1)); "));
  CHECK(c.errors() == Lines{"3:9: parameter 'a' of fn 'f' is declared twice"});
}

TEST_CASE("a fullrank automatic guide has no per-latent family") {
  sema::Options o;
  o.auto_guide = "fullrank";
  Checked c("model m;\nlatent { z : real; }\nmodel { z ~ normal(0, 1); }\n", o);
  REQUIRE(c.model);
  CHECK(c.model->latents[0].guide_family == nullptr);
  CHECK_FALSE(c.model->latents[0].closed_form_kl);
}

TEST_CASE("the model records what each name refers to") {
  Checked c(kGaussianVae);
  REQUIRE(c.model);
  const sema::Model& m = *c.model;
  const ast::Plate& plate = *m.model_block->statements[0]->as<ast::Plate>();
  const ast::Sample& prior = *plate.body[0]->as<ast::Sample>();
  const ast::Index& z_i = *prior.lhs->as<ast::Index>();
  CHECK(m.names.at(z_i.base.get()).kind == sema::NameKind::Latent);
  const sema::NameRef& i = m.names.at(z_i.subscripts[0].lo.get());
  CHECK(i.kind == sema::NameKind::PlateIndex);
  CHECK(i.plate == &plate);
  // `h` in the likelihood's mean refers to the let.
  const ast::Let& h = *plate.body[1]->as<ast::Let>();
  const ast::Sample& lik = *plate.body[2]->as<ast::Sample>();
  const ast::Expr& mu = *lik.dist.args[0];                   // mu_W * h + mu_b
  const ast::Expr& product = *mu.as<ast::Binary>()->lhs;     // mu_W * h
  const ast::Expr& h_use = *product.as<ast::Binary>()->rhs;  // h
  CHECK(m.names.at(&h_use).kind == sema::NameKind::Let);
  CHECK(m.names.at(&h_use).let == &h);
  CHECK(to_string(*m.type_of(h_use)) == "real[400]");
  CHECK(m.names.at(product.as<ast::Binary>()->lhs.get()).kind == sema::NameKind::Param);
}

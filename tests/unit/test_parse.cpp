// The grammar of LANGUAGE.md, construct by construct: file layout, blocks, declarations and
// their types, statements, expressions and the precedence table (through ast::to_sexpr),
// numbers and comments. Spans are in test_parse_spans.cpp, syntax errors in
// test_parse_errors.cpp.
#include <doctest/doctest.h>

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "parse/ast.hpp"
#include "parse/ast_printer.hpp"
#include "parse/parser.hpp"
#include "support/diagnostics.hpp"
#include "support/source.hpp"
#include "test_support.hpp"

namespace {

using namespace vmc;
using test_support::Parsed;

// The first statement of the first block, which must be a `T`.
template <class T>
const T& first_stmt(const Parsed& p) {
  REQUIRE(p.program);
  REQUIRE_FALSE(p.program->blocks.empty());
  REQUIRE_FALSE(p.block(0).statements.empty());
  const T* s = p.block(0).statements[0]->as<T>();
  REQUIRE(s != nullptr);
  return *s;
}

// The s-expression of `expr` parsed as the value of a let, or "error: MESSAGE" if it does not
// parse.
std::string sexpr(const std::string& expr) {
  Parsed p("model m;\nmodel { let t = " + expr + "; }\n");
  if (!p.program) {
    return "error: " + (p.diags.all().empty() ? std::string("?") : p.diags.all()[0].message);
  }
  return ast::to_sexpr(*first_stmt<ast::Let>(p).value);
}

// A declaration's type, written back in the language's syntax with to_sexpr for expressions.
std::string type_text(const ast::TypeExpr& t) {
  std::string out = t.base.name;
  if (!t.constraints.empty()) {
    out += '<';
    for (std::size_t i = 0; i < t.constraints.size(); ++i) {
      if (i) out += ", ";
      out += t.constraints[i].key.name;
      if (t.constraints[i].value) {
        out += '=';
        out += ast::to_sexpr(*t.constraints[i].value);
      }
    }
    out += '>';
  }
  if (!t.shape.empty()) {
    out += '[';
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i) out += ", ";
      out += ast::to_sexpr(*t.shape[i]);
    }
    out += ']';
  }
  return out;
}

std::string sample_text(const ast::Sample& s) {
  std::string out = ast::to_sexpr(*s.lhs) + " ~ " + s.dist.callee.name + "(";
  for (std::size_t i = 0; i < s.dist.args.size(); ++i) {
    if (i) out += ", ";
    out += ast::to_sexpr(*s.dist.args[i]);
  }
  return out + ")";
}

const char* kCanonical = R"(// Gaussian VAE (Kingma & Welling, AEVB, appendix C.2)
model gaussian_vae;

dims {
  N;                 // datapoints: taken from the data
  D;
  J = 20;            // latent size
  H = 400;
}

data {
  x : real[N, D];
}

param {
  dec_W : real[H, J];   dec_b : real[H];
  mu_W  : real[D, H];   mu_b  : real[D];
}

latent {
  z : real[N, J];
}

fn mlp(W, b, v) = tanh(W * v + b);

model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    let h = mlp(dec_W, dec_b, z[i]);
    x[i] ~ normal(mu_W * h + mu_b, 0.01);
  }
}

guide {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
  }
}
)";

}  // namespace

TEST_SUITE("parse") {

// --- file layout ---

TEST_CASE("the canonical model parses into its blocks, in source order") {
  Parsed p(kCanonical);
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.program->model_name);
  CHECK(p.program->model_name->name == "gaussian_vae");
  CHECK(p.program->extra_model_names.empty());
  REQUIRE(p.program->blocks.size() == 6);
  CHECK(p.block(0).kind == ast::BlockKind::Dims);
  CHECK(p.block(1).kind == ast::BlockKind::Data);
  CHECK(p.block(2).kind == ast::BlockKind::Param);
  CHECK(p.block(3).kind == ast::BlockKind::Latent);
  CHECK(p.block(4).kind == ast::BlockKind::Model);
  CHECK(p.block(5).kind == ast::BlockKind::Guide);
  REQUIRE(p.program->functions.size() == 1);
  CHECK(p.program->functions[0].name.name == "mlp");
  CHECK(p.block(2).vars.size() == 4);
}

TEST_CASE("blocks may come in any order, and fn definitions between them") {
  Parsed p(
      "guide { }\n"
      "fn f(a) = a;\n"
      "latent { z : real; }\n"
      "model { }\n"
      "model m;\n"
      "param { p : real; }\n"
      "fn g(a) = a;\n"
      "data { x : real; }\n"
      "dims { N; }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.program->model_name);
  CHECK(p.program->model_name->name == "m");
  std::vector<ast::BlockKind> kinds;
  for (const ast::Block& b : p.program->blocks) kinds.push_back(b.kind);
  CHECK(kinds == std::vector<ast::BlockKind>{ast::BlockKind::Guide, ast::BlockKind::Latent,
                                              ast::BlockKind::Model, ast::BlockKind::Param,
                                              ast::BlockKind::Data, ast::BlockKind::Dims});
  REQUIRE(p.program->functions.size() == 2);
  CHECK(p.program->functions[0].name.name == "f");
  CHECK(p.program->functions[1].name.name == "g");
}

TEST_CASE("an empty file parses to an empty program (sema asks for the model block)") {
  Parsed p("");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  CHECK_FALSE(p.program->model_name);
  CHECK(p.program->blocks.empty());
  CHECK(p.program->functions.empty());
}

TEST_CASE("a file of only comments and blanks is an empty program") {
  Parsed p("// nothing\n/* here */\n\t \r\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  CHECK(p.program->blocks.empty());
}

TEST_CASE("model NAME; is kept; later ones go to extra_model_names for sema to report") {
  Parsed p("model first;\nmodel second;\nmodel { }\nmodel third;\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.program->model_name);
  CHECK(p.program->model_name->name == "first");
  REQUIRE(p.program->extra_model_names.size() == 2);
  CHECK(p.program->extra_model_names[0].name == "second");
  CHECK(p.program->extra_model_names[1].name == "third");
  REQUIRE(p.program->blocks.size() == 1);
  CHECK(p.block(0).kind == ast::BlockKind::Model);
}

TEST_CASE("a repeated block is not a syntax error (sema reports duplicates)") {
  Parsed p("model m;\nmodel { }\ndims { N; }\nmodel { }\ndims { D; }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  CHECK(p.program->blocks.size() == 4);
}

TEST_CASE("every block may be empty") {
  Parsed p("model m; dims { } data { } param { } latent { } model { } guide { }");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.program->blocks.size() == 6);
  for (const ast::Block& b : p.program->blocks) {
    CHECK(b.dims.empty());
    CHECK(b.vars.empty());
    CHECK(b.statements.empty());
  }
}

// --- dims ---

TEST_CASE("dims with and without values") {
  Parsed p("model m;\ndims { N; D; J = 20; H = 400; K = 2 * J; }\nmodel { }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  const auto& dims = p.block(0).dims;
  REQUIRE(dims.size() == 5);
  CHECK(dims[0].name.name == "N");
  CHECK(dims[0].value == nullptr);
  CHECK(dims[1].name.name == "D");
  CHECK(dims[1].value == nullptr);
  CHECK(dims[2].name.name == "J");
  REQUIRE(dims[2].value);
  CHECK(ast::to_sexpr(*dims[2].value) == "20");
  CHECK(dims[3].name.name == "H");
  REQUIRE(dims[3].value);
  CHECK(ast::to_sexpr(*dims[3].value) == "400");
  REQUIRE(dims[4].value);
  CHECK(ast::to_sexpr(*dims[4].value) == "(* 2 J)");
}

// --- declarations ---

TEST_CASE("declarations with every type form") {
  struct Case {
    const char* decl;
    const char* type;
  };
  const Case cases[] = {
      {"a : real;", "real"},
      {"a : int;", "int"},
      {"a : real[D];", "real[D]"},
      {"a : real[N, D];", "real[N, D]"},
      {"a : real[N, D, K];", "real[N, D, K]"},
      {"a : real<lower=0>[K];", "real<lower=0>[K]"},
      {"a : real<lower=0>;", "real<lower=0>"},
      {"a : real<upper=1>;", "real<upper=1>"},
      {"a : int<lower=0, upper=1>[N];", "int<lower=0, upper=1>[N]"},
      {"a : real<lower=-1, upper=1>;", "real<lower=(neg 1), upper=1>"},
      {"a : real<lower=0.5>;", "real<lower=0.5>"},
      {"a : real<cholesky>[K, K];", "real<cholesky>[K, K]"},
      {"a : real[2 * J];", "real[(* 2 J)]"},
      {"a : real[J + 1, 3];", "real[(+ J 1), 3]"},
      {"a : real[10];", "real[10]"},
      {"a : real < lower = 0 > [ K ] ;", "real<lower=0>[K]"},
  };
  for (const Case& c : cases) {
    std::string shown = c.decl;
    CAPTURE(shown);
    Parsed p(std::string("model m;\ndata { ") + c.decl + " }\nmodel { }\n");
    CHECK(p.errors().empty());
    REQUIRE(p.program);
    REQUIRE(p.block(0).vars.size() == 1);
    const ast::VarDecl& v = p.block(0).vars[0];
    CHECK(v.name.name == "a");
    CHECK(type_text(v.type) == c.type);
    CHECK(v.init == nullptr);
  }
}

TEST_CASE("declarations in data, param and latent blocks, several to a line") {
  Parsed p(
      "model m;\n"
      "data { X : real[N, D]; y : int<lower=0, upper=1>[N]; }\n"
      "latent { w : real[D]; b : real; }\n"
      "param { w_loc : real[D]; w_ls : real[D]; }\n"
      "model { }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.program->blocks.size() == 4);
  CHECK(p.block(0).kind == ast::BlockKind::Data);
  CHECK(p.block(1).kind == ast::BlockKind::Latent);
  CHECK(p.block(2).kind == ast::BlockKind::Param);
  REQUIRE(p.block(0).vars.size() == 2);
  CHECK(p.block(0).vars[1].name.name == "y");
  CHECK(type_text(p.block(0).vars[1].type) == "int<lower=0, upper=1>[N]");
  REQUIRE(p.block(1).vars.size() == 2);
  CHECK(p.block(1).vars[0].name.name == "w");
  CHECK(p.block(1).vars[1].name.name == "b");
  CHECK(p.block(2).vars.size() == 2);
}

TEST_CASE("init with constants and with distributions") {
  Parsed p(
      "model m;\n"
      "param {\n"
      "  a : real[D] init -2;\n"
      "  b : real<lower=0> init 0.5;\n"
      "  c : real init normal(0, 0.01);\n"
      "  d : real[H, J] init uniform(-1, 1);\n"
      "  e : real init 1e-3;\n"
      "  f : real;\n"
      "}\n"
      "model { }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  const auto& vars = p.block(0).vars;
  REQUIRE(vars.size() == 6);
  const char* expected[] = {"(neg 2)", "0.5", "(normal 0 0.01)", "(uniform (neg 1) 1)", "1e-3"};
  for (std::size_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    REQUIRE(vars[i].init);
    CHECK(ast::to_sexpr(*vars[i].init) == expected[i]);
    CHECK(vars[i].init_span.valid());
  }
  CHECK(vars[5].init == nullptr);
  CHECK(type_text(vars[1].type) == "real<lower=0>");
  CHECK(type_text(vars[3].type) == "real[H, J]");
}

// --- fn ---

TEST_CASE("fn definitions with zero, one and several parameters") {
  Parsed p(
      "model m;\n"
      "fn zero() = 1;\n"
      "fn one(x) = exp(x);\n"
      "fn mlp(W, b, v) = tanh(W * v + b);\n"
      "model { }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  const auto& fns = p.program->functions;
  REQUIRE(fns.size() == 3);
  CHECK(fns[0].name.name == "zero");
  CHECK(fns[0].params.empty());
  CHECK(ast::to_sexpr(*fns[0].body) == "1");
  CHECK(fns[1].name.name == "one");
  REQUIRE(fns[1].params.size() == 1);
  CHECK(fns[1].params[0].name == "x");
  CHECK(ast::to_sexpr(*fns[1].body) == "(exp x)");
  REQUIRE(fns[2].params.size() == 3);
  CHECK(fns[2].params[0].name == "W");
  CHECK(fns[2].params[1].name == "b");
  CHECK(fns[2].params[2].name == "v");
  CHECK(ast::to_sexpr(*fns[2].body) == "(tanh (+ (* W v) b))");
}

// --- statements ---

TEST_CASE("let") {
  Parsed p("model m;\nmodel { let h = mlp(dec_W, dec_b, z[i]); }\n");
  const ast::Let& let = first_stmt<ast::Let>(p);
  CHECK(let.name.name == "h");
  CHECK(ast::to_sexpr(*let.value) == "(mlp dec_W dec_b (index z i))");
}

TEST_CASE("~ statements: data, indexed and expression left-hand sides") {
  Parsed p(
      "model m;\n"
      "model {\n"
      "  w ~ normal(0, 1);\n"
      "  y ~ bernoulli_logit(X * w + b);\n"
      "  x[i] ~ normal(mu_W * h + mu_b, 0.01 + exp(0.5 * (lv_W * h + lv_b)));\n"
      "  L ~ mvnormal_cholesky(mu, L0);\n"
      "  a ~ student_t(3, 0, 1);\n"
      "  z ~ exponential(1);\n"
      "}\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  const auto& body = p.block(0).statements;
  REQUIRE(body.size() == 6);
  std::vector<std::string> got;
  for (const ast::StmtPtr& s : body) {
    const ast::Sample* smp = s->as<ast::Sample>();
    REQUIRE(smp != nullptr);
    got.push_back(sample_text(*smp));
  }
  CHECK(got == std::vector<std::string>{
                   "w ~ normal(0, 1)",
                   "y ~ bernoulli_logit((+ (* X w) b))",
                   "(index x i) ~ normal((+ (* mu_W h) mu_b), (+ 0.01 (exp (* 0.5 (+ (* lv_W h) "
                   "lv_b)))))",
                   "L ~ mvnormal_cholesky(mu, L0)",
                   "a ~ student_t(3, 0, 1)",
                   "z ~ exponential(1)",
               });
}

TEST_CASE("a distribution with no arguments parses (sema checks arity)") {
  Parsed p("model m;\nmodel { x ~ foo(); }\n");
  const ast::Sample& s = first_stmt<ast::Sample>(p);
  CHECK(s.dist.callee.name == "foo");
  CHECK(s.dist.args.empty());
}

TEST_CASE("target +=") {
  Parsed p("model m;\nmodel { target += -0.5 * sum(square(w)); }\n");
  const ast::TargetIncrement& t = first_stmt<ast::TargetIncrement>(p);
  CHECK(ast::to_sexpr(*t.value) == "(* (neg 0.5) (sum (square w)))");
}

TEST_CASE("target+= needs no blanks") {
  Parsed p("model m;\nmodel { target+=x; }\n");
  CHECK(p.errors().empty());
  CHECK(ast::to_sexpr(*first_stmt<ast::TargetIncrement>(p).value) == "x");
}

TEST_CASE("plates: with and without subsample, nested, in model and guide") {
  Parsed p(
      "model m;\n"
      "model {\n"
      "  plate g in G {\n"
      "    mu[g] ~ normal(0, 1);\n"
      "    plate i in N subsample {\n"
      "      let e = x[g, i];\n"
      "      y[g, i] ~ normal(mu[g], 1);\n"
      "    }\n"
      "  }\n"
      "  plate j in J subsample { }\n"
      "}\n"
      "guide { plate i in N { plate k in K subsample { z[i, k] ~ normal(0, 1); } } }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  const auto& model = p.block(0).statements;
  REQUIRE(model.size() == 2);
  const ast::Plate* outer = model[0]->as<ast::Plate>();
  REQUIRE(outer != nullptr);
  CHECK(outer->index.name == "g");
  CHECK(outer->dim.name == "G");
  CHECK_FALSE(outer->subsample);
  CHECK_FALSE(outer->subsample_span.valid());
  REQUIRE(outer->body.size() == 2);
  CHECK(outer->body[0]->as<ast::Sample>() != nullptr);
  const ast::Plate* inner = outer->body[1]->as<ast::Plate>();
  REQUIRE(inner != nullptr);
  CHECK(inner->index.name == "i");
  CHECK(inner->dim.name == "N");
  CHECK(inner->subsample);
  CHECK(inner->subsample_span.valid());
  REQUIRE(inner->body.size() == 2);
  CHECK(inner->body[0]->as<ast::Let>() != nullptr);
  REQUIRE(inner->body[1]->as<ast::Sample>() != nullptr);
  CHECK(sample_text(*inner->body[1]->as<ast::Sample>()) ==
        "(index y g i) ~ normal((index mu g), 1)");
  const ast::Plate* empty = model[1]->as<ast::Plate>();
  REQUIRE(empty != nullptr);
  CHECK(empty->subsample);
  CHECK(empty->body.empty());

  const auto& guide = p.block(1).statements;
  REQUIRE(guide.size() == 1);
  const ast::Plate* g_outer = guide[0]->as<ast::Plate>();
  REQUIRE(g_outer != nullptr);
  CHECK_FALSE(g_outer->subsample);
  REQUIRE(g_outer->body.size() == 1);
  const ast::Plate* g_inner = g_outer->body[0]->as<ast::Plate>();
  REQUIRE(g_inner != nullptr);
  CHECK(g_inner->subsample);
  CHECK(g_inner->index.name == "k");
}

TEST_CASE("guide block statements") {
  Parsed p("model m;\nguide {\n  w ~ normal(w_loc, exp(w_ls));\n  let s = 1;\n}\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.block(0).kind == ast::BlockKind::Guide);
  REQUIRE(p.block(0).statements.size() == 2);
  CHECK(sample_text(*p.block(0).statements[0]->as<ast::Sample>()) ==
        "w ~ normal(w_loc, (exp w_ls))");
}

TEST_CASE("a target += in a guide parses (sema rejects it)") {
  Parsed p("model m;\nguide { target += 1; }\n");
  CHECK(p.errors().empty());
  CHECK(first_stmt<ast::TargetIncrement>(p).value != nullptr);
}

// --- expressions ---

TEST_CASE("indexing, slices, gathers, calls and transposes") {
  struct Case {
    const char* expr;
    const char* sexpr;
  };
  const Case cases[] = {
      {"x[0]", "(index x 0)"},
      {"x[i]", "(index x i)"},
      {"x[i, j]", "(index x i j)"},
      {"x[N - 1]", "(index x (- N 1))"},
      {"v[0:J]", "(index v (: 0 J))"},
      {"v[J:]", "(index v (: J _))"},
      {"v[:J]", "(index v (: _ J))"},
      {"v[:]", "(index v (: _ _))"},
      {"v[J:2 * J]", "(index v (: J (* 2 J)))"},
      {"W[:, j]", "(index W (: _ _) j)"},
      {"W[i, :]", "(index W i (: _ _))"},
      {"z[i, 0:J]", "(index z i (: 0 J))"},
      {"a[g[i]]", "(index a (index g i))"},
      {"a[g]", "(index a g)"},
      {"x[i][j]", "(index (index x i) j)"},
      {"f()", "(f)"},
      {"exp(x)", "(exp x)"},
      {"max(a, b)", "(max a b)"},
      {"f(g(x), h(y, z))", "(f (g x) (h y z))"},
      {"A'", "(' A)"},
      {"A''", "(' (' A))"},
      {"u' * v", "(* (' u) v)"},
      {"u * v'", "(* u (' v))"},
      {"x[i]'", "(' (index x i))"},
      {"f(x)'", "(' (f x))"},
      {"f(x)[0]", "(index (f x) 0)"},
      {"pi", "pi"},
      {"2 * pi", "(* 2 pi)"},
      {"x'[0]", "(index (' x) 0)"},
  };
  for (const Case& c : cases) {
    std::string shown = c.expr;
    CAPTURE(shown);
    CHECK(sexpr(c.expr) == c.sexpr);
  }
}

TEST_CASE("precedence and associativity (LANGUAGE.md's table)") {
  struct Case {
    const char* expr;
    const char* sexpr;
  };
  // postfix ' [] ()  >  ^ (right)  >  unary -  >  .* ./  >  * /  >  + -   (all others left)
  const Case cases[] = {
      {"a + b * c'", "(+ a (* b (' c)))"},
      {"-a^b", "(neg (^ a b))"},
      {"-2^2", "(neg (^ 2 2))"},
      {"a^b^c", "(^ a (^ b c))"},
      {"a^-b", "(^ a (neg b))"},
      {"a^-b^c", "(^ a (neg (^ b c)))"},
      {"a ^ -b .* c", "(.* (^ a (neg b)) c)"},
      {"a'^2", "(^ (' a) 2)"},
      {"x[i]^2", "(^ (index x i) 2)"},
      {"a .* b * c", "(* (.* a b) c)"},
      {"a * b .* c", "(* a (.* b c))"},
      {"a ./ b * c .* d", "(* (./ a b) (.* c d))"},
      {"a .* b ./ c", "(./ (.* a b) c)"},
      {"a ./ b ./ c", "(./ (./ a b) c)"},
      {"a .* b .* c", "(.* (.* a b) c)"},
      {"a + b * c", "(+ a (* b c))"},
      {"a * b + c", "(+ (* a b) c)"},
      {"a + b .* c ^ d", "(+ a (.* b (^ c d)))"},
      {"a ^ b .* c", "(.* (^ a b) c)"},
      {"a - b - c", "(- (- a b) c)"},
      {"a - b + c", "(+ (- a b) c)"},
      {"a + b - c", "(- (+ a b) c)"},
      {"a / b / c", "(/ (/ a b) c)"},
      {"a / b * c", "(* (/ a b) c)"},
      {"a * b / c", "(/ (* a b) c)"},
      {"-a * b", "(* (neg a) b)"},
      {"-a .* b", "(.* (neg a) b)"},
      {"-a - b", "(- (neg a) b)"},
      {"a - -b", "(- a (neg b))"},
      {"a * -b", "(* a (neg b))"},
      {"- -a", "(neg (neg a))"},
      {"-x'", "(neg (' x))"},
      {"-x[0]", "(neg (index x 0))"},
      {"-(a + b)", "(neg (+ a b))"},
      {"A' * v", "(* (' A) v)"},
      {"a .* b'", "(.* a (' b))"},
      {"(a + b) * c", "(* (+ a b) c)"},
      {"a * (b + c)", "(* a (+ b c))"},
      {"a^(b + c)", "(^ a (+ b c))"},
      {"((a))", "a"},
      {"1 + 2.5 * 1e-3 - .5", "(- (+ 1 (* 2.5 1e-3)) .5)"},
      {"tanh(W * v + b)", "(tanh (+ (* W v) b))"},
      {"0.01 + exp(0.5 * (lv_W * h + lv_b))", "(+ 0.01 (exp (* 0.5 (+ (* lv_W h) lv_b))))"},
  };
  for (const Case& c : cases) {
    std::string shown = c.expr;
    CAPTURE(shown);
    CHECK(sexpr(c.expr) == c.sexpr);
  }
}

TEST_CASE("numbers: integers, decimals, exponents, a leading dot") {
  struct Case {
    const char* text;
    double value;
    bool is_integer;
  };
  const Case cases[] = {
      {"3", 3, true},        {"0", 0, true},          {"400", 400, true},
      {"2.5", 2.5, false},   {"1e-3", 1e-3, false},   {"1E+2", 100, false},
      {"1e3", 1000, false},  {".5", 0.5, false},      {"0.01", 0.01, false},
      {"2.5e-1", 0.25, false},
  };
  for (const Case& c : cases) {
    std::string shown = c.text;
    CAPTURE(shown);
    Parsed p(std::string("model m;\nmodel { let t = ") + c.text + "; }\n");
    CHECK(p.errors().empty());
    const ast::Let& let = first_stmt<ast::Let>(p);
    const ast::Number* n = let.value->as<ast::Number>();
    REQUIRE(n != nullptr);
    CHECK(n->text == c.text);
    CHECK(n->value == doctest::Approx(c.value));
    CHECK(n->is_integer == c.is_integer);
  }
}

TEST_CASE("2.*x is 2 .* x, not 2. * x") {
  CHECK(sexpr("2.*x") == "(.* 2 x)");
  CHECK(sexpr("2./x") == "(./ 2 x)");
  CHECK(sexpr("x.*2") == "(.* x 2)");
  CHECK(sexpr("2.5.*x") == "(.* 2.5 x)");
}

TEST_CASE("a negative literal is a negation of a number") {
  Parsed p("model m;\nmodel { let t = -3; }\n");
  const ast::Let& let = first_stmt<ast::Let>(p);
  const ast::Unary* u = let.value->as<ast::Unary>();
  REQUIRE(u != nullptr);
  CHECK(u->op == ast::UnaryOp::Neg);
  REQUIRE(u->operand->as<ast::Number>() != nullptr);
  CHECK(u->operand->as<ast::Number>()->value == 3);
}

TEST_CASE("node kinds of a binary operation, a call, an index, a transpose") {
  Parsed p("model m;\nmodel { let t = f(a)[i]' ./ b; }\n");
  const ast::Let& let = first_stmt<ast::Let>(p);
  const ast::Binary* div = let.value->as<ast::Binary>();
  REQUIRE(div != nullptr);
  CHECK(div->op == ast::BinaryOp::ElemDiv);
  CHECK(div->rhs->as<ast::Name>() != nullptr);
  const ast::Transpose* t = div->lhs->as<ast::Transpose>();
  REQUIRE(t != nullptr);
  const ast::Index* ix = t->operand->as<ast::Index>();
  REQUIRE(ix != nullptr);
  REQUIRE(ix->subscripts.size() == 1);
  CHECK_FALSE(ix->subscripts[0].is_slice);
  CHECK(ix->subscripts[0].hi == nullptr);
  const ast::Call* call = ix->base->as<ast::Call>();
  REQUIRE(call != nullptr);
  CHECK(call->callee.name == "f");
  REQUIRE(call->args.size() == 1);
}

TEST_CASE("slice subscripts record which bounds are present") {
  Parsed p("model m;\nmodel { let t = v[0:J, J:, :J, :, k]; }\n");
  const ast::Let& let = first_stmt<ast::Let>(p);
  const ast::Index* ix = let.value->as<ast::Index>();
  REQUIRE(ix != nullptr);
  REQUIRE(ix->subscripts.size() == 5);
  const auto& s = ix->subscripts;
  CHECK(s[0].is_slice);
  CHECK((s[0].lo && s[0].hi));
  CHECK(s[1].is_slice);
  CHECK((s[1].lo && !s[1].hi));
  CHECK(s[2].is_slice);
  CHECK((!s[2].lo && s[2].hi));
  CHECK(s[3].is_slice);
  CHECK((!s[3].lo && !s[3].hi));
  CHECK_FALSE(s[4].is_slice);
  CHECK((s[4].lo && !s[4].hi));
}

TEST_CASE("every binary operator's spelling") {
  CHECK(std::string(ast::spelling(ast::BinaryOp::Pow)) == "^");
  CHECK(std::string(ast::spelling(ast::BinaryOp::ElemMul)) == ".*");
  CHECK(std::string(ast::spelling(ast::BinaryOp::ElemDiv)) == "./");
  CHECK(std::string(ast::spelling(ast::BinaryOp::Mul)) == "*");
  CHECK(std::string(ast::spelling(ast::BinaryOp::Div)) == "/");
  CHECK(std::string(ast::spelling(ast::BinaryOp::Add)) == "+");
  CHECK(std::string(ast::spelling(ast::BinaryOp::Sub)) == "-");
  CHECK(std::string(ast::spelling(ast::BlockKind::Latent)) == "latent");
}

// --- lexical ---

TEST_CASE("comments anywhere, including between any two tokens") {
  const char* text =
      "/*0*/model/*1*/m/*2*/;//3\n"
      "dims/*4*/{/*5*/N/*6*/;/*7*/J/*8*/=/*9*/2/*10*/;/*11*/}\n"
      "param{w/**/:/**/real/**/</**/lower/**/=/**/0/**/>/**/[/**/J/**/]/**/init/**/-/**/1/**/;}\n"
      "fn/**/f/**/(/**/a/**/,/**/b/**/)/**/=/**/a/**/+/**/b/**/;\n"
      "model/* a\nmulti-line\ncomment */{\n"
      "  plate/**/i/**/in/**/N/**/subsample/**/{ // plate\n"
      "    x/**/[/**/i/**/,/**/0/**/:/**/J/**/]/**/~/**/normal/**/(/**/0/**/,/**/1/**/)/**/;\n"
      "    let/**/h/**/=/**/A/**/'/**/*/**/v/**/.*/**/u/**/^/**/2/**/;\n"
      "  }\n"
      "  target/**/+=/**/-/**/1/**/;\n"
      "}/* end */\n"
      "// last line, no newline";
  Parsed p(text);
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.program->model_name);
  CHECK(p.program->model_name->name == "m");
  REQUIRE(p.program->blocks.size() == 3);
  CHECK(p.block(0).dims.size() == 2);
  REQUIRE(p.block(1).vars.size() == 1);
  CHECK(type_text(p.block(1).vars[0].type) == "real<lower=0>[J]");
  REQUIRE(p.block(1).vars[0].init);
  CHECK(ast::to_sexpr(*p.block(1).vars[0].init) == "(neg 1)");
  REQUIRE(p.program->functions.size() == 1);
  CHECK(ast::to_sexpr(*p.program->functions[0].body) == "(+ a b)");
  const auto& model = p.block(2).statements;
  REQUIRE(model.size() == 2);
  const ast::Plate* plate = model[0]->as<ast::Plate>();
  REQUIRE(plate != nullptr);
  CHECK(plate->subsample);
  REQUIRE(plate->body.size() == 2);
  CHECK(sample_text(*plate->body[0]->as<ast::Sample>()) == "(index x i (: 0 J)) ~ normal(0, 1)");
  CHECK(ast::to_sexpr(*plate->body[1]->as<ast::Let>()->value) ==
        "(* (' A) (.* v (^ u 2)))");
  CHECK(ast::to_sexpr(*model[1]->as<ast::TargetIncrement>()->value) == "(neg 1)");
}

TEST_CASE("a // comment runs to the end of its line only") {
  Parsed p("model m; // model { broken\nmodel { x ~ normal(0, 1); } // } }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  REQUIRE(p.program->blocks.size() == 1);
  CHECK(p.block(0).statements.size() == 1);
}

TEST_CASE("/* */ comments do not nest; // inside /* */ is plain text") {
  Parsed p("model m; /* a // b\n /* c */ model { }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  CHECK(p.program->blocks.size() == 1);
}

TEST_CASE("CRLF line ends and tabs are blanks") {
  Parsed p("model m;\r\nmodel {\r\n\tx ~ normal(0,\t1);\r\n}\r\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  CHECK(p.block(0).statements.size() == 1);
}

TEST_CASE("identifiers: letters, digits and underscores, not starting with a digit") {
  Parsed p("model _m2;\ndata { _x : real; x_1_ : real; ABC_def9 : real; }\nmodel { }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  CHECK(p.program->model_name->name == "_m2");
  REQUIRE(p.block(0).vars.size() == 3);
  CHECK(p.block(0).vars[0].name.name == "_x");
  CHECK(p.block(0).vars[1].name.name == "x_1_");
  CHECK(p.block(0).vars[2].name.name == "ABC_def9");
}

TEST_CASE("a name may start with a keyword") {
  // `model_x`, `init_scale`, `index`, `intercept`, `real_part`, `pin`: words that begin with a
  // keyword are ordinary names.
  Parsed p(
      "model model_x;\n"
      "data { init_scale : real; intercept : real; real_part : real; pin : real; "
      "lowerb : real; }\n"
      "model { let index = intercept * pin; plated ~ normal(0, 1); }\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  CHECK(p.program->model_name->name == "model_x");
  CHECK(p.block(0).vars.size() == 5);
  CHECK(p.block(1).statements.size() == 2);
}

TEST_CASE("the canonical models of LANGUAGE.md print stably through ast::print") {
  Parsed p(
      "model logistic_regression;\n"
      "dims { N; D; }\n"
      "data { X : real[N, D]; y : int<lower=0, upper=1>[N]; }\n"
      "latent { w : real[D]; b : real; }\n"
      "param { w_loc : real[D]; w_ls : real[D] init -2; b_loc : real; b_ls : real init -2; }\n"
      "model {\n"
      "  w ~ normal(0, 1);\n"
      "  b ~ normal(0, 5);\n"
      "  y ~ bernoulli_logit(X * w + b);\n"
      "}\n"
      "guide {\n"
      "  w ~ normal(w_loc, exp(w_ls));\n"
      "  b ~ normal(b_loc, exp(b_ls));\n"
      "}\n");
  CHECK(p.errors().empty());
  REQUIRE(p.program);
  std::ostringstream out;
  ast::print(out, *p.program);
  CHECK(out.str() ==
        "model logistic_regression @1:7\n"
        "dims @2:1\n"
        "  dim N @2:8\n"
        "  dim D @2:11\n"
        "data @3:1\n"
        "  X : real[N, D] @3:8\n"
        "  y : int<lower=0, upper=1>[N] @3:24\n"
        "latent @4:1\n"
        "  w : real[D] @4:10\n"
        "  b : real @4:23\n"
        "param @5:1\n"
        "  w_loc : real[D] @5:9\n"
        "  w_ls : real[D] init (neg 2) @5:26\n"
        "  b_loc : real @5:50\n"
        "  b_ls : real init (neg 2) @5:64\n"
        "model @6:1\n"
        "  sample w ~ normal(0, 1) @7:3\n"
        "  sample b ~ normal(0, 5) @8:3\n"
        "  sample y ~ bernoulli_logit((+ (* X w) b)) @9:3\n"
        "guide @11:1\n"
        "  sample w ~ normal(w_loc, (exp w_ls)) @12:3\n"
        "  sample b ~ normal(b_loc, (exp b_ls)) @13:3\n");
}

TEST_CASE("the stdlib models parse without errors") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(VMC_SOURCE_DIR) / "stdlib";
  REQUIRE(fs::is_directory(dir));
  int count = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".vmodel") continue;
    std::string path = e.path().string();
    CAPTURE(path);
    SourceManager sources;
    std::string error;
    const SourceFile* file = sources.load(path, error);
    REQUIRE(file != nullptr);
    Diagnostics diags;
    auto program = parse::parse_program(*file, diags);
    std::ostringstream rendered;
    render(rendered, diags);
    CHECK(rendered.str() == "");
    CHECK(program.has_value());
    ++count;
  }
  CHECK(count >= 1);
}

}  // TEST_SUITE

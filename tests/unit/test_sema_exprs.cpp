// Semantic analysis of expressions: the types that well-formed expressions get, and the
// diagnostics of ill-formed ones (names, operators, indexing, builtins and fn calls).
#include "test_sema_helpers.hpp"

using namespace sema_test;

namespace {

// Lines 1-5 of every model below; the model block's statements start on line 6, inside
// `plate i in N {` on line 6 and `plate j in K {` on line 7.
const std::string kPrelude =
    "model m;\n"
    "dims { N; D; H = 4; K = 3; }\n"
    "data { x : real[N, D]; g : int[N]; G : int[N, K]; W : real[H, N]; y : int[N];\n"
    "       T : real[2, 3, 4]; Z : real[N, K]; E : real[3, 2]; }\n"
    "param { w : real[K]; v : real[H]; A : real[2 * K, K + 1]; M : real[H, K]; }\n";

// Checks `body` (statements, one per line, from line 8) inside the two plates.
std::string in_plates(const std::string& body) {
  return kPrelude + "model {\nplate i in N { plate j in K {\n" + body + "\n} }\n}\n";
}

// The type of `expr` as the value of a let inside the plates, or the first error.
std::string type_of(const std::string& expr) {
  Checked c(in_plates("let t = " + expr + ";"));
  if (!c.model) return "error: " + c.first_error();
  const ast::Plate& i = *c.model->model_block->statements[0]->as<ast::Plate>();
  const ast::Plate& j = *i.body[0]->as<ast::Plate>();
  return to_string(*c.model->type_of(*j.body[0]->as<ast::Let>()->value));
}

}  // namespace

TEST_CASE("types of well-formed expressions") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // numbers, names, arithmetic
      {"1", "int"},
      {"1.5", "real"},
      {"pi", "real"},
      {"N", "int"},
      {"N * 2.0", "real"},
      {"y[i] + 1", "int"},
      {"g[i] * 2", "int"},
      {"g[i] / 2", "real"},
      {"g[i] ^ 2", "real"},
      {"-w", "real[3]"},
      {"w .* w ./ 2 + 1", "real[3]"},
      {"w ^ 2", "real[3]"},
      // products
      {"w' * w", "real"},
      {"w * w'", "real[3, 3]"},
      {"v' * M", "real[3]'"},
      {"M * w", "real[4]"},
      {"M' * v", "real[3]"},
      {"A * A'", "real[6, 6]"},
      {"2 * M", "real[4, 3]"},
      {"x[i]' * x[i]", "real"},
      // transposes
      {"w'", "real[3]'"},
      {"w''", "real[3]"},
      {"M'", "real[3, 4]"},
      // indexing
      {"x[i]", "real[D]"},
      {"x[i, 0]", "real"},
      {"x[i, 1:3]", "real[2]"},
      {"x[i, :]", "real[D]"},
      {"x[i, 2:]", "real[D - 2]"},
      {"x[i, :D - 1]", "real[D - 1]"},
      {"A[:, 0]", "real[6]"},
      {"A[1:, :K]", "real[5, 3]"},
      {"Z[i, j]", "real"},
      {"w[K - 1]", "real"},
      {"w'[1:]", "real[2]'"},
      {"(M * w)[0]", "real"},
      // gathers by int data
      {"v[g]", "real[N]"},
      {"v[g[i]]", "real"},
      {"M[G[i]]", "real[3, 3]"},
      // builtins
      {"exp(x[i])", "real[D]"},
      {"sigmoid(w')", "real[3]'"},
      {"square(N)", "real"},
      {"sum(x[i])", "real"},
      {"sum(g)", "int"},
      {"mean(g)", "real"},
      {"log_sum_exp(w)", "real"},
      {"log_sum_exp(w, 0)", "real[3]"},
      {"min(g)", "int"},
      {"max(w, v[0:3])", "real[3]"},
      {"max(y[i], 1)", "int"},
      {"dot(w, w)", "real"},
  };
  for (const auto& [expr, type] : cases) {
    CAPTURE(expr);
    CHECK(type_of(expr) == type);
  }
}

TEST_CASE("the shape mismatch of INTERFACE.md, with D from the data") {
  sema::Options o;
  o.data_shapes["x"] = {60000, 784};
  Checked c(
      "model bad;\n"
      "dims { N; D; J = 20; H = 400; }\n"
      "data { x : real[N, D]; }\n"
      "param { dec_W : real[H, J]; dec_b : real[H]; }\n"
      "latent { z : real[N, J]; }\n"
      "model {\n"
      "  plate i in N subsample {\n"
      "    z[i] ~ normal(0, 1);\n"
      "    x[i] ~ normal(0, 1);\n"
      "  }\n"
      "  plate i in N {\n"
      "    let h = tanh(dec_W * x[i] + dec_b);\n"
      "  }\n"
      "}\n"
      "guide { plate i in N subsample { z[i] ~ normal(0, 1); } }\n",
      o);
  CHECK(c.errors() == Lines{"12:18: shapes do not agree for '*': real[400, 20] and real[784]"});
  // The span covers both operands.
  const Diagnostic& d = c.diags.all().at(0);
  CHECK(d.span.end - d.span.begin == std::string("dec_W * x[i]").size());
}

TEST_CASE("operator errors name both operand types") {
  Checked c(in_plates("let a = M * v;\nlet b = A / w;\nlet c = A .* A';\nlet d = w + w';\n"
                      "let e = T';\nlet f = w ^ w;\nlet g2 = -(M * v) + 1;\nlet h = w * w;"));
  CHECK(c.errors() ==
        Lines{"8:9: shapes do not agree for '*': real[4, 3] and real[4]",
              "9:9: '/' needs a scalar right operand, but 'w' is real[3]; './' divides elementwise",
              "10:9: shapes do not agree for '.*': real[6, 4] and real[4, 6]",
              "11:9: shapes do not agree for '+': real[3] and real[3]'",
              "12:9: cannot transpose real[2, 3, 4]: only vectors and matrices have a transpose",
              "13:9: '^' needs a scalar right operand, but 'w' is real[3]",
              "14:11: shapes do not agree for '*': real[4, 3] and real[4]",
              "15:9: shapes do not agree for '*': real[3] and real[3]; use '.*' for the "
              "elementwise product, or u' * v for the inner product"});
}

TEST_CASE("names") {
  Checked c(kPrelude +
            "fn mlp(a) = a;\nmodel {\n  let dec_w = 1;\n  let h = dec_W + mlp;\n  let k = q + 1;\n"
            "  let u = later;\n  let later = 2;\n}\n");
  CHECK(c.errors() == Lines{"9:11: unknown name 'dec_W'; did you mean 'dec_w'?",
                            "9:19: 'mlp' is a function; call it with its arguments",
                            "10:11: unknown name 'q'",
                            "11:11: 'later' is used before it is defined"});
  CHECK(c.notes(3) == Lines{"12:7: 'later' is defined here"});
}

TEST_CASE("indexing errors") {
  Checked c(in_plates("let a = w[3];\nlet b = w[-1];\nlet c = w[1:4];\nlet d = w[2:1];\n"
                      "let e = v[G];\nlet f = w[1.5];\nlet g2 = w[0, 1];\nlet h = N[0];\n"
                      "let k = W[i];\nlet l = x[0, i];\nlet m = w[j] + i;\nlet n = Z[j, i];\n"
                      "let o = Z[i, i];\nlet p = w[0:g[i]];\nlet q = w[0][1];"));
  CHECK(c.errors() ==
        Lines{"8:11: index 3 is out of bounds for 'w', whose first extent is 3",
              "9:11: index -1 is out of bounds for 'w', whose first extent is 3",
              "10:11: slice 1:4 is out of bounds for 'w', whose first extent is 3",
              "11:11: slice 2:1 of 'w' is empty",
              "12:11: a gather index must be an int scalar or vector, but 'G' is int[N, 3]",
              "13:11: subscripts must be ints, but '1.5' is real",
              "14:10: too many subscripts for 'w': 2 given, but it is real[3]",
              "15:9: 'N' is a scalar (int) and cannot be indexed",
              "16:11: plate 'i' runs over N but the first extent of 'W' is 4",
              "17:14: plate index 'i' must come before the other subscripts of 'x'",
              "18:16: plate index 'i' can only be a subscript, as in x[i]",
              "19:14: plate index 'i' comes after 'j', but its plate encloses that one; "
              "subscript in the plates' nesting order",
              "20:14: plate index 'i' is used twice in one subscript list",
              "21:13: slice bounds must be constant ints (integers, dims, '+', '-' and '*'), but "
              "'g[i]' is not",
              "22:9: 'w[0]' is a scalar (real) and cannot be indexed"});
}

TEST_CASE("a plate over a known dim matches an extent of that value") {
  CHECK(type_of("E[j]") == "real[2]");
  CHECK(type_of("M[j]") == "error: 8:11: plate 'j' runs over K = 3 but the first extent of 'M' is 4");
}

TEST_CASE("calls") {
  Checked c(kPrelude +
            "fn mlp(a, b) = a * b;\nmodel {\n  let a = exp(1, 2);\n  let b = tahn(w);\n"
            "  let c = normal(0, 1);\n  let d = x(1);\n  let e = dot(w, v) + min(w, v);\n"
            "  let f = sum();\n  let g2 = mlp(w);\n  let h = log_sum_exp(w, v, v);\n}\n");
  CHECK(c.errors() ==
        Lines{"8:11: 'exp' takes 1 argument, but 2 were given",
              "9:11: unknown function 'tahn'; did you mean 'tanh'?",
              "10:11: 'normal' is a distribution, not a function",
              "11:11: 'x' is data, not a function",
              "12:11: 'dot' needs two vectors of equal extent, but got real[3] and real[4]",
              "12:23: shapes do not agree for 'min': real[3] and real[4]",
              "13:11: 'sum' takes 1 argument, but 0 were given",
              "14:12: 'mlp' takes 2 arguments (a, b), but 1 was given",
              "15:11: 'log_sum_exp' takes 1 or 2 arguments, but 3 were given"});
  CHECK(c.notes(7) == Lines{"6:4: 'mlp' is defined here"});
}

TEST_CASE("a fn body is checked per call and errors in it point at the call") {
  Checked c(kPrelude +
            "fn f(a) = twice(a) + w;\nfn twice(b) = b * 2;\nmodel {\n  let a = f(v);\n  let b = f(v);\n"
            "  let c = f(1);\n}\n");
  CHECK(c.errors() == Lines{"6:11: shapes do not agree for '+': real[4] and real[3]"});
  CHECK(c.notes() == Lines{"9:11: in call to 'f' here"});
}

TEST_CASE("errors inside nested calls list every call") {
  Checked c(kPrelude + "fn f(a) = inner(a);\nfn inner(b) = b * w;\nmodel {\n  let a = f(v);\n}\n");
  CHECK(c.errors() == Lines{"7:15: shapes do not agree for '*': real[4] and real[3]"});
  CHECK(c.notes() == Lines{"6:11: in call to 'inner' here", "9:11: in call to 'f' here"});
}

TEST_CASE("builtins: Stan's names and the composed functions: their values, types and misuse") {
  // Constant folding computes each from its scalar value (the same formulas the IR uses).
  struct Fold {
    std::string expr;
    double want;
  };
  const Fold folds[] = {
      {"log1m(0.25)", std::log(0.75)},
      {"logit(0.8)", std::log(4.0)},
      {"inv_logit(0)", 0.5},
      {"log1m_inv_logit(2)", std::log(1 - 1 / (1 + std::exp(-2.0)))},
      {"log_inv_logit(-1)", std::log(1 / (1 + std::exp(1.0)))},
      {"fabs(-2.5)", 2.5},
      {"fmin(3, -1)", -1},
      {"fmax(3, -1)", 3},
      {"log_mix(0.3, -1, -2)", std::log(0.3 * std::exp(-1.0) + 0.7 * std::exp(-2.0))},
  };
  for (const Fold& f : folds) {
    INFO(f.expr);
    Checked c("model m;\ndims { N = 2; }\nparam { w : real init " + f.expr + "; }\nmodel { }\n");
    REQUIRE_MESSAGE(c.model, c.first_error());
    CHECK(c.model->params[0].init.value == doctest::Approx(f.want).epsilon(1e-14));
  }
  Checked bad("model m;\ndims { K = 3; }\nparam { v : real[K]; M : real[K, K]; a : real; }\n"
              "model {\n"
              "  target += softmax(a);\n"
              "  target += sum(log_softmax(M));\n"
              "  target += log_mix(a, v, M);\n"
              "  target += log1m(a, a);\n"
              "}\n");
  CHECK(bad.errors() == Lines{"5:13: 'softmax' needs a vector, but 'a' is real",
                              "6:17: 'log_softmax' needs a vector, but 'M' is real[3, 3]",
                              "7:13: shapes do not agree for 'log_mix': real[3] and real[3, 3]",
                              "8:13: 'log1m' takes 1 argument, but 2 were given"});
}

TEST_CASE("comparisons: int results of their operands' broadcast shape, one per expression, constant-folded") {
  Checked c("model m;\ndims { N; K = 3; }\ndata { y : real[N]; }\nparam { v : real[K]; a : real<upper=K - 1>; "
            "w : real init (2 > 1) + (3 == 3); }\n"
            "model {\n"
            "  let b = v > a;\n"
            "  let d = y == 1;\n"
            "  target += sum(b) + sum(d);\n"
            "}\n");
  REQUIRE_MESSAGE(c.model, c.first_error());
  CHECK(c.model->params[2].init.value == 2);
  CHECK(c.model->params[1].type.constraint.upper == 2);
  Checked bad("model m;\ndims { K = 3; }\nparam { v : real[K]; M : real[K, K]; a : real; }\n"
              "model {\n"
              "  target += sum(v < M);\n"
              "}\n");
  CHECK(bad.errors() == Lines{"5:17: shapes do not agree for '<': real[3] and real[3, 3]"});
}

// Spans: every AST node points at exactly its own text, with no leading or trailing blanks or
// comments, so a diagnostic's caret and tildes cover what the message talks about.
#include <doctest/doctest.h>

#include <string>

#include "parse/ast.hpp"
#include "support/source.hpp"
#include "test_support.hpp"

namespace {

using namespace vmc;

// A parse that must succeed with no diagnostics.
struct Parsed : test_support::Parsed {
  explicit Parsed(std::string text) : test_support::Parsed(std::move(text)) {
    REQUIRE(diags.size() == 0);
    REQUIRE(program);
  }
  const ast::Stmt& stmt(std::size_t block_index, std::size_t i) const {
    return *block(block_index).statements.at(i);
  }
};

// The text a span covers.
std::string text(const Span& s) {
  REQUIRE(s.valid());
  REQUIRE(s.begin <= s.end);
  REQUIRE(s.end <= s.file->text().size());
  return s.file->text().substr(s.begin, s.end - s.begin);
}

// "line:col-line:col" of a span's first byte and of its end.
std::string where(const Span& s) {
  REQUIRE(s.valid());
  LineCol b = s.file->line_col(s.begin);
  LineCol e = s.file->line_col(s.end);
  return std::to_string(b.line) + ":" + std::to_string(b.col) + "-" + std::to_string(e.line) +
         ":" + std::to_string(e.col);
}

const ast::Expr& let_value(const ast::Stmt& s) {
  const ast::Let* let = s.as<ast::Let>();
  REQUIRE(let != nullptr);
  return *let->value;
}

const ast::Binary& binary(const ast::Expr& e) {
  const ast::Binary* b = e.as<ast::Binary>();
  REQUIRE(b != nullptr);
  return *b;
}

}  // namespace

TEST_SUITE("parse spans") {

TEST_CASE("the INTERFACE.md example: the span of dec_W * x[i] and of its operator") {
  std::string src = "model m;\nmodel {\n    let h = tanh(dec_W * x[i] + dec_b);\n}\n";
  Parsed p(src);
  const ast::Stmt& s = p.stmt(0, 0);
  CHECK(text(s.span) == "let h = tanh(dec_W * x[i] + dec_b);");
  CHECK(where(s.span) == "3:5-3:40");
  const ast::Let* let = s.as<ast::Let>();
  CHECK(text(let->name.span) == "h");
  const ast::Expr& call = *let->value;
  CHECK(text(call.span) == "tanh(dec_W * x[i] + dec_b)");
  const ast::Call* c = call.as<ast::Call>();
  REQUIRE(c != nullptr);
  CHECK(text(c->callee.span) == "tanh");
  const ast::Expr& sum = *c->args.at(0);
  CHECK(text(sum.span) == "dec_W * x[i] + dec_b");
  CHECK(text(binary(sum).op_span) == "+");
  const ast::Expr& product = *binary(sum).lhs;
  CHECK(text(product.span) == "dec_W * x[i]");
  CHECK(where(product.span) == "3:18-3:30");  // INTERFACE.md: 12:18, twelve columns wide
  CHECK(text(binary(product).op_span) == "*");
  CHECK(where(binary(product).op_span) == "3:24-3:25");
  CHECK(text(binary(product).lhs->span) == "dec_W");
  const ast::Expr& index = *binary(product).rhs;
  CHECK(text(index.span) == "x[i]");
  const ast::Index* ix = index.as<ast::Index>();
  REQUIRE(ix != nullptr);
  CHECK(text(ix->base->span) == "x");
  CHECK(text(ix->subscripts.at(0).lo->span) == "i");
}

TEST_CASE("declarations, types, constraints and init clauses") {
  Parsed p(
      "model  gaussian_vae ;\n"
      "dims { N ; J = 20 ; }\n"
      "param {\n"
      "  w : real < lower = 0 > [ N , 2 * J ]  init  normal ( 0 , 1 ) ;\n"
      "  L : real<cholesky>[K, K];\n"
      "}\n");
  CHECK(text(p.program->model_name->span) == "gaussian_vae");
  CHECK(where(p.program->model_name->span) == "1:8-1:20");

  const ast::Block& dims = p.block(0);
  CHECK(text(dims.keyword_span) == "dims");
  CHECK(text(dims.span) == "dims { N ; J = 20 ; }");
  CHECK(text(dims.dims.at(0).name.span) == "N");
  CHECK(text(dims.dims.at(0).span) == "N ;");
  CHECK(text(dims.dims.at(1).span) == "J = 20 ;");
  CHECK(text(dims.dims.at(1).value->span) == "20");

  const ast::Block& param = p.block(1);
  CHECK(text(param.keyword_span) == "param");
  CHECK(where(param.span) == "3:1-6:2");
  const ast::VarDecl& w = param.vars.at(0);
  CHECK(text(w.span) == "w : real < lower = 0 > [ N , 2 * J ]  init  normal ( 0 , 1 ) ;");
  CHECK(where(w.span) == "4:3-4:65");
  CHECK(text(w.name.span) == "w");
  CHECK(text(w.type.span) == "real < lower = 0 > [ N , 2 * J ]");
  CHECK(text(w.type.base.span) == "real");
  CHECK(text(w.type.constraints.at(0).span) == "lower = 0");
  CHECK(text(w.type.constraints.at(0).key.span) == "lower");
  CHECK(text(w.type.constraints.at(0).value->span) == "0");
  CHECK(text(w.type.shape.at(0)->span) == "N");
  CHECK(text(w.type.shape.at(1)->span) == "2 * J");
  CHECK(text(w.init_span) == "init  normal ( 0 , 1 )");
  CHECK(text(w.init->span) == "normal ( 0 , 1 )");
  const ast::VarDecl& L = param.vars.at(1);
  CHECK(text(L.type.span) == "real<cholesky>[K, K]");
  CHECK(text(L.type.constraints.at(0).span) == "cholesky");
}

TEST_CASE("a scalar type followed by init or ';' ends at its base word") {
  Parsed p("model m;\nparam { b : real  init  -2 ; c : int ; }\n");
  const ast::VarDecl& b = p.block(0).vars.at(0);
  CHECK(text(b.type.span) == "real");
  CHECK(text(b.init_span) == "init  -2");
  CHECK(text(b.init->span) == "-2");
  CHECK(text(b.span) == "b : real  init  -2 ;");
  CHECK(text(p.block(0).vars.at(1).type.span) == "int");
}

TEST_CASE("fn definitions") {
  Parsed p("model m;\nfn  mlp ( W , b , v )  =  tanh ( W * v + b ) ;\n");
  const ast::FnDef& f = p.program->functions.at(0);
  CHECK(text(f.span) == "fn  mlp ( W , b , v )  =  tanh ( W * v + b ) ;");
  CHECK(text(f.name.span) == "mlp");
  CHECK(where(f.name.span) == "2:5-2:8");
  CHECK(text(f.params.at(2).span) == "v");
  CHECK(text(f.body->span) == "tanh ( W * v + b )");
}

TEST_CASE("statements: ~, target +=, plates, model and guide keywords") {
  Parsed p(
      "model m;\n"
      "model  {\n"
      "  plate  i  in  N  subsample  {\n"
      "    x [ i ]  ~  normal ( mu , 1 ) ;\n"
      "  }\n"
      "  target  +=  - 0.5 * w ;\n"
      "}\n"
      "guide {\n"
      "  w\n"
      "    ~ normal(0,\n"
      "             1);\n"
      "}\n");
  const ast::Block& model = p.block(0);
  CHECK(text(model.keyword_span) == "model");
  CHECK(where(model.keyword_span) == "2:1-2:6");
  CHECK(where(model.span) == "2:1-7:2");

  const ast::Stmt& plate_stmt = p.stmt(0, 0);
  CHECK(where(plate_stmt.span) == "3:3-5:4");
  const ast::Plate* plate = plate_stmt.as<ast::Plate>();
  REQUIRE(plate != nullptr);
  CHECK(text(plate->index.span) == "i");
  CHECK(text(plate->dim.span) == "N");
  CHECK(text(plate->subsample_span) == "subsample");
  CHECK(where(plate->subsample_span) == "3:20-3:29");

  const ast::Stmt& sample_stmt = *plate->body.at(0);
  CHECK(text(sample_stmt.span) == "x [ i ]  ~  normal ( mu , 1 ) ;");
  const ast::Sample* sample = sample_stmt.as<ast::Sample>();
  REQUIRE(sample != nullptr);
  CHECK(text(sample->lhs->span) == "x [ i ]");
  CHECK(text(sample->tilde_span) == "~");
  CHECK(where(sample->tilde_span) == "4:14-4:15");
  CHECK(text(sample->dist_span) == "normal ( mu , 1 )");
  CHECK(text(sample->dist.callee.span) == "normal");
  CHECK(text(sample->dist.args.at(0)->span) == "mu");

  const ast::Stmt& target = p.stmt(0, 1);
  CHECK(text(target.span) == "target  +=  - 0.5 * w ;");
  const ast::Expr& value = *target.as<ast::TargetIncrement>()->value;
  CHECK(text(value.span) == "- 0.5 * w");
  CHECK(text(binary(value).lhs->span) == "- 0.5");

  const ast::Block& guide = p.block(1);
  CHECK(text(guide.keyword_span) == "guide");
  const ast::Stmt& multi = p.stmt(1, 0);
  CHECK(where(multi.span) == "9:3-11:17");
  CHECK(where(multi.as<ast::Sample>()->dist_span) == "10:7-11:16");
}

TEST_CASE("expression spans: postfix, unary, power, chains, numbers") {
  Parsed p(
      "model m;\n"
      "model {\n"
      "  let a = - u ^ 2  .*  c [ i ] '  ;\n"
      "  let b = f ( x ) [ 0 : J ] ;\n"
      "  let c = 1.5e-3 + .5 ;\n"
      "}\n");
  const ast::Expr& a = let_value(p.stmt(0, 0));
  CHECK(text(a.span) == "- u ^ 2  .*  c [ i ] '");
  CHECK(text(binary(a).op_span) == ".*");
  const ast::Expr& neg = *binary(a).lhs;
  CHECK(text(neg.span) == "- u ^ 2");
  const ast::Expr& pow = *neg.as<ast::Unary>()->operand;
  CHECK(text(pow.span) == "u ^ 2");
  CHECK(text(binary(pow).op_span) == "^");
  const ast::Expr& transpose = *binary(a).rhs;
  CHECK(text(transpose.span) == "c [ i ] '");
  CHECK(text(transpose.as<ast::Transpose>()->operand->span) == "c [ i ]");

  const ast::Expr& b = let_value(p.stmt(0, 1));
  CHECK(text(b.span) == "f ( x ) [ 0 : J ]");
  const ast::Index* ix = b.as<ast::Index>();
  REQUIRE(ix != nullptr);
  CHECK(text(ix->base->span) == "f ( x )");
  CHECK(text(ix->subscripts.at(0).span) == "0 : J");
  CHECK(text(ix->subscripts.at(0).lo->span) == "0");
  CHECK(text(ix->subscripts.at(0).hi->span) == "J");

  const ast::Expr& c = let_value(p.stmt(0, 2));
  CHECK(text(binary(c).lhs->span) == "1.5e-3");
  CHECK(text(binary(c).rhs->span) == ".5");
  CHECK(where(binary(c).rhs->span) == "5:20-5:22");
}

TEST_CASE("comments inside an expression are inside its span, comments around it are not") {
  Parsed p("model m;\nmodel { let t = /* a */ x /* b */ + /* c */ y /* d */ ; }\n");
  const ast::Expr& e = let_value(p.stmt(0, 0));
  CHECK(text(e.span) == "x /* b */ + /* c */ y");
  CHECK(text(binary(e).op_span) == "+");
  CHECK(text(binary(e).lhs->span) == "x");
  CHECK(text(binary(e).rhs->span) == "y");
}

TEST_CASE("spans and columns after multi-byte UTF-8 in a comment") {
  Parsed p("model m;\nmodel { /* µ→σ */ let t = a * b; }\n");
  const ast::Expr& e = let_value(p.stmt(0, 0));
  CHECK(text(e.span) == "a * b");
  // "model { /* µ→σ */ let t = " is 26 code points (30 bytes).
  CHECK(where(e.span) == "2:27-2:32");
}

// --- regressions: bugs these tests found, now fixed ---------------------------------------

// Regression: a parenthesised operand's span once excluded its parentheses, and a binary, power, index or
// transpose node's span is the cover of its operands' spans, so the node's span starts or ends
// inside the parentheses: `(a + b) * c` gets the span `a + b) * c`. A diagnostic on the '*'
// then underlines an unbalanced text.
TEST_CASE("a node's span includes the parentheses of its first and last operands") {
  Parsed p(
      "model m;\n"
      "model {\n"
      "  let a = (u + v) * c;\n"
      "  let b = c * (u + v);\n"
      "  let c = (u)^2;\n"
      "  let d = (x)[0];\n"
      "  let e = (A)';\n"
      "}\n");
  CHECK(text(let_value(p.stmt(0, 0)).span) == "(u + v) * c");
  CHECK(text(let_value(p.stmt(0, 1)).span) == "c * (u + v)");
  CHECK(text(let_value(p.stmt(0, 2)).span) == "(u)^2");
  CHECK(text(let_value(p.stmt(0, 3)).span) == "(x)[0]");
  CHECK(text(let_value(p.stmt(0, 4)).span) == "(A)'");
}

// Regression: the subscript rule ended with `matches[':'] >> -expr_r`; when there is no ':' the
// failed literal has already skipped the blanks after the index, so the span of the index
// subscript in `x[ i ]` is "i " (trailing blank, or comment).
TEST_CASE("an index subscript's span has no trailing blanks") {
  Parsed p("model m;\nmodel { let t = x[ i ] + y[i /* c */, j ]; }\n");
  const ast::Expr& e = let_value(p.stmt(0, 0));
  const ast::Index* x = binary(e).lhs->as<ast::Index>();
  REQUIRE(x != nullptr);
  CHECK(text(x->subscripts.at(0).span) == "i");
  const ast::Index* y = binary(e).rhs->as<ast::Index>();
  REQUIRE(y != nullptr);
  CHECK(text(y->subscripts.at(0).span) == "i");
  CHECK(text(y->subscripts.at(1).span) == "j");
}

// Regression: parser.cpp found the '^' of a power as the first '^' after the base, which is the wrong
// one when a comment holding a '^' lies between the base and the operator.
TEST_CASE("the op_span of '^' is the operator even after a comment holding a '^'") {
  Parsed p("model m;\nmodel { let t = a /* a^2 */ ^ b; }\n");
  const ast::Expr& e = let_value(p.stmt(0, 0));
  CHECK(text(e.span) == "a /* a^2 */ ^ b");
  CHECK(where(binary(e).op_span) == "2:29-2:30");
}

}  // TEST_SUITE

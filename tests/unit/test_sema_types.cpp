// Symbolic extents, type printing, and the shape rule of every operator (sema/extent.hpp,
// sema/types.hpp), without parsing.
#include <doctest/doctest.h>

#include <limits>

#include "sema/extent.hpp"
#include "sema/types.hpp"

namespace {

using namespace vmc::sema;
using vmc::ast::BinaryOp;

Extent c(std::int64_t v) { return Extent::constant(v); }
Extent s(const char* dim) { return Extent::symbol(dim); }

Type real(std::vector<Extent> shape = {}) { return Type::real(std::move(shape)); }
Type integer(std::vector<Extent> shape = {}) { return Type::integer(std::move(shape)); }
Type row(Extent n) {
  Type t = real({std::move(n)});
  t.row = true;
  return t;
}

// The printed result of `a op b`, or "mismatch".
std::string result(BinaryOp op, const Type& a, const Type& b) {
  std::optional<Type> t = binary_type(op, a, b);
  return t ? to_string(*t) : "mismatch";
}

}  // namespace

TEST_CASE("extents are canonical polynomials") {
  CHECK(c(400).to_string() == "400");
  CHECK(Extent().to_string() == "0");
  CHECK(s("N").to_string() == "N");
  CHECK((c(2) * s("J") + c(1)).to_string() == "2*J + 1");
  CHECK((s("N") * s("D") - c(3)).to_string() == "D*N - 3");
  CHECK((s("J") * s("J")).to_string() == "J^2");
  CHECK((c(0) - s("N")).to_string() == "-N");
  CHECK((c(1202) * s("D") + c(24840)).to_string() == "1202*D + 24840");
  // Equal polynomials compare equal however they were built.
  CHECK(s("D") * s("N") == s("N") * s("D"));
  CHECK(s("N") + s("N") == c(2) * s("N"));
  CHECK(s("N") - s("N") == Extent());
  CHECK((s("J") + c(1)) * (s("J") - c(1)) == s("J") * s("J") - c(1));
  CHECK_FALSE(s("N") == s("D"));
  CHECK_FALSE(s("N") == c(5));
}

TEST_CASE("extents substitute known dims and fold to constants") {
  Extent e = c(2) * s("J") + s("N");
  CHECK(e.substitute({{"J", 20}}).to_string() == "N + 40");
  CHECK(e.substitute({{"J", 20}, {"N", 5}}).constant_value() == 45);
  CHECK_FALSE(e.constant_value().has_value());
  CHECK(Extent().constant_value() == 0);
}

TEST_CASE("extent arithmetic past int64 throws ExtentOverflow") {
  Extent big = c(std::numeric_limits<std::int64_t>::max() / 2 + 1);
  CHECK_THROWS_AS(big * c(2), ExtentOverflow);
  CHECK_THROWS_AS(big + big, ExtentOverflow);
}

TEST_CASE("types print kind, constraint, shape and orientation") {
  CHECK(to_string(real()) == "real");
  CHECK(to_string(real({c(400), c(20)})) == "real[400, 20]");
  CHECK(to_string(real({s("N"), s("D")})) == "real[N, D]");
  Type y = integer({s("N")});
  y.constraint.lower = 0;
  y.constraint.upper = 1;
  CHECK(to_string(y) == "int<lower=0, upper=1>[N]");
  Type sd = real();
  sd.constraint.lower = 0.5;
  CHECK(to_string(sd) == "real<lower=0.5>");
  Type l = real({s("K"), s("K")});
  l.constraint.cholesky = true;
  CHECK(to_string(l) == "real<cholesky>[K, K]");
  CHECK(to_string(row(c(784))) == "real[784]'");
  CHECK(to_string(Type::error()) == "<error>");
  CHECK(format_number(0.01) == "0.01");
  CHECK(format_number(-2) == "-2");
}

TEST_CASE("'*' is the linear-algebra product") {
  Type m = real({c(400), c(20)});
  Type v20 = real({c(20)});
  CHECK(result(BinaryOp::Mul, real(), m) == "real[400, 20]");
  CHECK(result(BinaryOp::Mul, m, real()) == "real[400, 20]");
  CHECK(result(BinaryOp::Mul, m, v20) == "real[400]");
  CHECK(result(BinaryOp::Mul, m, real({c(20), c(3)})) == "real[400, 3]");
  CHECK(result(BinaryOp::Mul, row(c(20)), v20) == "real");
  CHECK(result(BinaryOp::Mul, v20, row(c(5))) == "real[20, 5]");
  CHECK(result(BinaryOp::Mul, row(c(400)), m) == "real[20]'");
  CHECK(result(BinaryOp::Mul, real(), row(c(3))) == "real[3]'");
  CHECK(result(BinaryOp::Mul, integer(), integer({c(2)})) == "int[2]");
  // Everything else is a mismatch.
  CHECK(result(BinaryOp::Mul, m, real({c(784)})) == "mismatch");
  CHECK(result(BinaryOp::Mul, v20, v20) == "mismatch");
  CHECK(result(BinaryOp::Mul, row(c(20)), row(c(20))) == "mismatch");
  CHECK(result(BinaryOp::Mul, m, row(c(20))) == "mismatch");
  CHECK(result(BinaryOp::Mul, v20, m) == "mismatch");
  CHECK(result(BinaryOp::Mul, real({c(2), c(2), c(2)}), real({c(2)})) == "mismatch");
  CHECK(result(BinaryOp::Mul, real({s("N"), s("D")}), real({s("H")})) == "mismatch");
  CHECK(result(BinaryOp::Mul, real({s("N"), s("D")}), real({s("D")})) == "real[N]");
}

TEST_CASE("+ - .* ./ need equal shapes or a scalar operand") {
  Type v = real({s("N")});
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::ElemMul, BinaryOp::ElemDiv}) {
    CAPTURE(vmc::ast::spelling(op));
    CHECK(result(op, v, v) == "real[N]");
    CHECK(result(op, real(), v) == "real[N]");
    CHECK(result(op, v, real()) == "real[N]");
    CHECK(result(op, row(s("N")), real()) == "real[N]'");
    CHECK(result(op, v, real({s("D")})) == "mismatch");
    CHECK(result(op, v, row(s("N"))) == "mismatch");
    CHECK(result(op, real({c(2), c(3)}), real({c(3), c(2)})) == "mismatch");
  }
}

TEST_CASE("/ and ^ need a scalar right operand") {
  Type m = real({c(2), c(3)});
  for (BinaryOp op : {BinaryOp::Div, BinaryOp::Pow}) {
    CAPTURE(vmc::ast::spelling(op));
    CHECK(result(op, m, real()) == "real[2, 3]");
    CHECK(result(op, real(), real()) == "real");
    CHECK(result(op, m, m) == "mismatch");
    CHECK(result(op, real(), real({c(3)})) == "mismatch");
  }
}

TEST_CASE("int stays int only for + - .* *") {
  CHECK(result(BinaryOp::Add, integer(), integer()) == "int");
  CHECK(result(BinaryOp::Sub, integer(), integer()) == "int");
  CHECK(result(BinaryOp::ElemMul, integer(), integer()) == "int");
  CHECK(result(BinaryOp::Mul, integer(), integer()) == "int");
  CHECK(result(BinaryOp::ElemDiv, integer(), integer()) == "real");
  CHECK(result(BinaryOp::Div, integer(), integer()) == "real");
  CHECK(result(BinaryOp::Pow, integer(), integer()) == "real");
  CHECK(result(BinaryOp::Add, integer(), real()) == "real");
}

TEST_CASE("results drop constraints, and an error operand gives an error") {
  Type pos = real({c(3)});
  pos.constraint.lower = 0;
  CHECK(result(BinaryOp::Add, pos, pos) == "real[3]");
  CHECK(result(BinaryOp::Mul, Type::error(), real({c(3)})) == "<error>");
  CHECK(result(BinaryOp::Add, real({c(2)}), Type::error()) == "<error>");
  CHECK(to_string(*transpose_type(Type::error())) == "<error>");
}

TEST_CASE("transpose") {
  CHECK(to_string(*transpose_type(real({c(2), c(3)}))) == "real[3, 2]");
  CHECK(to_string(*transpose_type(real({s("N")}))) == "real[N]'");
  CHECK(to_string(*transpose_type(row(s("N")))) == "real[N]");
  CHECK(to_string(*transpose_type(real())) == "real");
  CHECK(to_string(*transpose_type(integer({c(2)}))) == "int[2]'");
  CHECK_FALSE(transpose_type(real({c(2), c(3), c(4)})).has_value());
}

TEST_CASE("broadcast_type for two-argument builtins") {
  CHECK(to_string(*broadcast_type(real({c(3)}), real(), Kind::Real)) == "real[3]");
  CHECK(to_string(*broadcast_type(integer(), integer({c(3)}), Kind::Int)) == "int[3]");
  CHECK_FALSE(broadcast_type(real({c(3)}), real({c(4)}), Kind::Real).has_value());
}

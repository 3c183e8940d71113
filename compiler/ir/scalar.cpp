#include "ir/scalar.hpp"

#include <algorithm>
#include <cmath>

#include "ir/special.hpp"
#include "support/check.hpp"

namespace vmc::ir {

double unary_value(Op op, double x) {
  switch (op) {
    case Op::Neg: return -x;
    case Op::Exp: return std::exp(x);
    case Op::Log: return std::log(x);
    case Op::Log1p: return std::log1p(x);
    case Op::Expm1: return std::expm1(x);
    case Op::Sqrt: return std::sqrt(x);
    case Op::Square: return x * x;
    case Op::Abs: return std::abs(x);
    case Op::Tanh: return std::tanh(x);
    case Op::Tan: return std::tan(x);
    case Op::Sigmoid: return special::sigmoid(x);
    case Op::Softplus: return special::softplus(x);
    case Op::LogSigmoid: return special::log_sigmoid(x);
    case Op::Relu: return x > 0 ? x : 0;
    case Op::Step: return x > 0 ? 1 : 0;
    case Op::Sign: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case Op::Lgamma: return std::lgamma(x);
    case Op::Digamma: return special::digamma(x);
    case Op::Trigamma: return special::trigamma(x);
    case Op::Ndtri: return special::ndtri(x);
    case Op::StopGradient: return x;
    default: break;
  }
  VMC_ASSERT(false, std::string("not a unary op: ") + info(op).spelling);
}

double binary_value(Op op, double a, double b) {
  switch (op) {
    case Op::Add: return a + b;
    case Op::Sub: return a - b;
    case Op::Mul: return a * b;
    case Op::Div: return a / b;
    case Op::Pow: return std::pow(a, b);
    case Op::Min: return std::min(a, b);
    case Op::Max: return std::max(a, b);
    case Op::Greater: return a > b ? 1 : 0;
    case Op::Equal: return a == b ? 1 : 0;
    default: break;
  }
  VMC_ASSERT(false, std::string("not a binary op: ") + info(op).spelling);
}

}  // namespace vmc::ir

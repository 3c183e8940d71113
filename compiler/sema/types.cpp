#include "sema/types.hpp"

#include <algorithm>
#include <charconv>

namespace vmc::sema {
namespace {

Kind arithmetic_kind(ast::BinaryOp op, const Type& a, const Type& b) {
  bool int_closed = op == ast::BinaryOp::Add || op == ast::BinaryOp::Sub ||
                    op == ast::BinaryOp::ElemMul || op == ast::BinaryOp::Mul;
  return int_closed && a.is_int() && b.is_int() ? Kind::Int : Kind::Real;
}

Type with_shape(Kind kind, std::vector<Extent> shape, bool row = false) {
  return Type{kind, {}, std::move(shape), row, {}};
}

// The result's plates: both operands'.
std::optional<Type> over(std::optional<Type> t, const Type& a, const Type& b) {
  if (t && !t->is_error()) t->plates = union_plates(a.plates, b.plates);
  return t;
}

bool is_column(const Type& t) { return t.rank() == 1 && !t.row; }
bool is_row(const Type& t) { return t.rank() == 1 && t.row; }
bool is_matrix(const Type& t) { return t.rank() == 2; }

std::optional<Type> product(const Type& a, const Type& b, Kind kind) {
  if (a.is_scalar()) return with_shape(kind, b.shape, b.row);
  if (b.is_scalar()) return with_shape(kind, a.shape, a.row);
  if (is_matrix(a) && is_column(b) && a.shape[1] == b.shape[0])
    return with_shape(kind, {a.shape[0]});
  if (is_matrix(a) && is_matrix(b) && a.shape[1] == b.shape[0])
    return with_shape(kind, {a.shape[0], b.shape[1]});
  if (is_row(a) && is_column(b) && a.shape[0] == b.shape[0]) return with_shape(kind, {});
  if (is_column(a) && is_row(b)) return with_shape(kind, {a.shape[0], b.shape[0]});
  if (is_row(a) && is_matrix(b) && a.shape[0] == b.shape[0])
    return with_shape(kind, {b.shape[1]}, true);
  return std::nullopt;
}

}  // namespace

std::string format_number(double value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

std::string to_string(const Constraint& c) {
  if (c.empty()) return "";
  std::string out = "<";
  auto add = [&](const std::string& part) {
    if (out.size() > 1) out += ", ";
    out += part;
  };
  if (c.lower) add("lower=" + format_number(*c.lower));
  if (c.upper) add("upper=" + format_number(*c.upper));
  if (c.cholesky) add("cholesky");
  if (c.ordered) add("ordered");
  if (c.positive_ordered) add("positive_ordered");
  if (c.simplex) add("simplex");
  if (c.cholesky_corr) add("cholesky_corr");
  return out + ">";
}

std::string to_string(const Type& t) {
  if (t.is_error()) return "<error>";
  std::string out = t.is_int() ? "int" : "real";
  out += to_string(t.constraint);
  if (!t.shape.empty()) {
    out += '[';
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i) out += ", ";
      out += t.shape[i].to_string();
    }
    out += ']';
  }
  if (t.row) out += '\'';
  return out;
}

std::vector<const ast::Plate*> union_plates(const std::vector<const ast::Plate*>& a,
                                            const std::vector<const ast::Plate*>& b) {
  std::vector<const ast::Plate*> out = a;
  for (const ast::Plate* p : b) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  std::stable_sort(out.begin(), out.end(), [](const ast::Plate* x, const ast::Plate* y) {
    return x->index.span.begin < y->index.span.begin;
  });
  return out;
}

std::optional<Type> broadcast_type(const Type& a, const Type& b, Kind kind) {
  if (a.is_error() || b.is_error()) return Type::error();
  if (a.is_scalar()) return over(with_shape(kind, b.shape, b.row), a, b);
  if (b.is_scalar() || a.same_shape(b)) return over(with_shape(kind, a.shape, a.row), a, b);
  return std::nullopt;
}

std::optional<Type> binary_type(ast::BinaryOp op, const Type& lhs, const Type& rhs) {
  if (lhs.is_error() || rhs.is_error()) return Type::error();
  Kind kind = arithmetic_kind(op, lhs, rhs);
  switch (op) {
    case ast::BinaryOp::Mul:
      return over(product(lhs, rhs, kind), lhs, rhs);
    case ast::BinaryOp::Div:
    case ast::BinaryOp::Pow:
      if (!rhs.is_scalar()) return std::nullopt;
      return over(with_shape(kind, lhs.shape, lhs.row), lhs, rhs);
    case ast::BinaryOp::Add:
    case ast::BinaryOp::Sub:
    case ast::BinaryOp::ElemMul:
    case ast::BinaryOp::ElemDiv:
      return broadcast_type(lhs, rhs, kind);
    case ast::BinaryOp::Less:
    case ast::BinaryOp::LessEqual:
    case ast::BinaryOp::Greater:
    case ast::BinaryOp::GreaterEqual:
    case ast::BinaryOp::Equal:
    case ast::BinaryOp::NotEqual:
      return broadcast_type(lhs, rhs, Kind::Int);  // 1 or 0, elementwise
  }
  return std::nullopt;
}

std::optional<Type> transpose_type(const Type& t) {
  if (t.is_error()) return Type::error();
  std::optional<Type> out;
  switch (t.rank()) {
    case 0: out = t.value(); break;
    case 1: out = with_shape(t.kind, t.shape, !t.row); break;
    case 2: out = with_shape(t.kind, {t.shape[1], t.shape[0]}); break;
    default: return std::nullopt;
  }
  out->plates = t.plates;
  return out;
}

}  // namespace vmc::sema

#include "ir/node.hpp"

#include <functional>

#include "support/check.hpp"

namespace vmc::ir {
namespace {

constexpr OpInfo kInfo[] = {
#define VMC_OP(name, spelling, arity, category) {spelling, arity, Category::category},
#include "ir/ops.def"
#undef VMC_OP
};

void hash_combine(std::size_t& seed, std::size_t v) {
  seed ^= v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

std::size_t hash_node(const Node& n) {
  std::size_t h = static_cast<std::size_t>(n.op());
  hash_combine(h, static_cast<std::size_t>(n.dtype()));
  for (const Extent& e : n.shape()) {
    hash_combine(h, std::hash<std::int64_t>()(e.size));
    hash_combine(h, std::hash<std::int32_t>()(e.symbol));
  }
  for (const Node* a : n.args()) hash_combine(h, std::hash<const Node*>()(a));
  const Attrs& at = n.attrs();
  hash_combine(h, std::hash<double>()(at.value));
  hash_combine(h, std::hash<std::string>()(at.name));
  hash_combine(h, static_cast<std::size_t>(at.input));
  hash_combine(h, std::hash<int>()(at.axis));
  hash_combine(h, std::hash<std::int64_t>()(at.begin));
  hash_combine(h, std::hash<std::int64_t>()(at.end));
  hash_combine(h, (at.transpose_a ? 1 : 0) | (at.transpose_b ? 2 : 0));
  hash_combine(h, std::hash<std::uint32_t>()(at.axes));
  return h;
}

std::string show(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i].is_constant() ? std::to_string(s[i].size) : "$" + std::to_string(s[i].symbol);
  }
  return out + "]";
}

void expect(bool ok, Op op, const std::string& what) {
  VMC_ASSERT(ok, std::string("ill-formed ") + info(op).spelling + ": " + what);
}

Shape matmul_shape(Op op, const Node& a, const Node& b, const Attrs& at) {
  expect(a.rank() >= 1 && a.rank() <= 2 && b.rank() >= 1 && b.rank() <= 2, op,
         "operands must be vectors or matrices");
  // Logical shapes after the optional transposes; a vector is used as it stands.
  Shape sa = a.shape(), sb = b.shape();
  if (a.rank() == 2 && at.transpose_a) std::swap(sa[0], sa[1]);
  if (b.rank() == 2 && at.transpose_b) std::swap(sb[0], sb[1]);
  const Extent& ka = sa.back();
  const Extent& kb = sb.front();
  expect(ka == kb, op, "inner extents differ: " + show(sa) + " and " + show(sb));
  Shape out;
  if (sa.size() == 2) out.push_back(sa[0]);
  if (sb.size() == 2) out.push_back(sb[1]);
  return out;
}

}  // namespace

const OpInfo& info(Op op) { return kInfo[static_cast<int>(op)]; }

const char* to_string(InputKind kind) {
  switch (kind) {
    case InputKind::Param: return "param";
    case InputKind::Data: return "data";
    case InputKind::Noise: return "noise";
    case InputKind::Uniform: return "uniform";
    case InputKind::Size: return "size";
  }
  return "?";
}

bool NodeEq::operator()(const Node* a, const Node* b) const {
  return a->op_ == b->op_ && a->dtype_ == b->dtype_ && a->shape_ == b->shape_ &&
         a->args_ == b->args_ && a->attrs_ == b->attrs_;
}

Shape infer_shape(Op op, std::span<const Node* const> args, const Attrs& at, const Shape& given) {
  const OpInfo& oi = info(op);
  expect(static_cast<int>(args.size()) == oi.arity, op, "wrong number of operands");
  switch (oi.category) {
    case Category::Leaf:
      if (op == Op::Iota) {
        expect(at.axis >= 0 && static_cast<std::size_t>(at.axis) < given.size(), op,
               "axis out of range");
      }
      return given;
    case Category::Unary:
      return args[0]->shape();
    case Category::Binary:
    case Category::Select:
      for (const Node* a : args) {
        expect(a->shape() == args[0]->shape(), op,
               "operand shapes differ: " + show(args[0]->shape()) + " and " + show(a->shape()));
      }
      return args[0]->shape();
    case Category::Reduce: {
      if (at.axis < 0) return {};
      expect(static_cast<std::size_t>(at.axis) < args[0]->rank(), op, "axis out of range");
      Shape s = args[0]->shape();
      s.erase(s.begin() + at.axis);
      return s;
    }
    case Category::Linalg:
      if (op == Op::MatMul) return matmul_shape(op, *args[0], *args[1], at);
      if (op == Op::Outer) {
        expect(args[0]->rank() == 1 && args[1]->rank() == 1, op, "operands must be vectors");
        return {args[0]->shape()[0], args[1]->shape()[0]};
      }
      // TriSolve: L is [k, k], b is [k] or [k, n].
      expect(args[0]->rank() == 2 && args[0]->shape()[0] == args[0]->shape()[1], op,
             "L must be square");
      expect(args[1]->rank() >= 1 && args[1]->shape()[0] == args[0]->shape()[0], op,
             "b's rows must match L");
      return args[1]->shape();
    case Category::Structure:
      break;
  }
  const Node& x = *args[0];
  switch (op) {
    case Op::Broadcast: {
      // The output axes not marked new are x's axes, in order.
      std::size_t next = 0;
      for (std::size_t d = 0; d < given.size(); ++d) {
        if (at.axes >> d & 1u) continue;
        expect(next < x.rank() && given[d] == x.shape()[next], op,
               "operand " + show(x.shape()) + " does not embed in " + show(given));
        ++next;
      }
      expect(next == x.rank() && given.size() < 32, op, "operand axes left over");
      return given;
    }
    case Op::Tril:
    case Op::Diag:
      expect(x.rank() == 2 && x.shape()[0] == x.shape()[1], op, "operand must be a square matrix");
      return op == Op::Tril ? x.shape() : Shape{x.shape()[0]};
    case Op::DiagMatrix:
      expect(x.rank() == 1, op, "operand must be a vector");
      return {x.shape()[0], x.shape()[0]};
    case Op::Transpose:
      expect(x.rank() == 2, op, "operand must be a matrix");
      return {x.shape()[1], x.shape()[0]};
    case Op::Reshape: {
      std::int64_t from = 1, to = 1;
      bool constant = true;
      for (const Extent& e : x.shape()) constant &= e.is_constant(), from *= e.size;
      for (const Extent& e : given) constant &= e.is_constant(), to *= e.size;
      expect(!constant || from == to, op, show(x.shape()) + " cannot become " + show(given));
      return given;
    }
    case Op::Slice: {
      expect(at.axis >= 0 && static_cast<std::size_t>(at.axis) < x.rank(), op, "axis out of range");
      const Extent& e = x.shape()[at.axis];
      expect(e.is_constant() && 0 <= at.begin && at.begin <= at.end && at.end <= e.size, op,
             "bounds out of range");
      Shape s = x.shape();
      s[at.axis] = Extent::constant(at.end - at.begin);
      return s;
    }
    case Op::Concat: {
      const Node& y = *args[1];
      expect(at.axis >= 0 && static_cast<std::size_t>(at.axis) < x.rank() && x.rank() == y.rank(),
             op, "axis out of range");
      Shape s = x.shape();
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (static_cast<int>(i) == at.axis) continue;
        expect(s[i] == y.shape()[i], op, "extents differ off the axis");
      }
      expect(s[at.axis].is_constant() && y.shape()[at.axis].is_constant(), op,
             "run-time extents cannot be concatenated");
      s[at.axis] = Extent::constant(s[at.axis].size + y.shape()[at.axis].size);
      return s;
    }
    case Op::Gather: {
      const Node& idx = *args[1];
      expect(idx.dtype() == DType::Int && idx.rank() <= 1 && x.rank() >= 1, op,
             "needs a table and int indices");
      Shape s = idx.shape();
      s.insert(s.end(), x.shape().begin() + 1, x.shape().end());
      return s;
    }
    case Op::ScatterAdd: {
      // args: src (indices' shape ++ the table's row shape), indices; `given`: the table's.
      const Node& idx = *args[1];
      expect(idx.dtype() == DType::Int && idx.rank() <= 1 && !given.empty(), op,
             "needs rows, int indices and the table's shape");
      Shape rows = idx.shape();
      rows.insert(rows.end(), given.begin() + 1, given.end());
      expect(x.shape() == rows, op, "rows " + show(x.shape()) + " do not fit " + show(given));
      return given;
    }
    default:
      break;
  }
  VMC_ASSERT(false, std::string("no shape rule for ") + info(op).spelling);
}

std::int32_t Graph::symbol(const std::string& name) {
  for (std::size_t i = 0; i < symbols_.size(); ++i) {
    if (symbols_[i] == name) return static_cast<std::int32_t>(i);
  }
  symbols_.push_back(name);
  return static_cast<std::int32_t>(symbols_.size() - 1);
}

const Node* Graph::make(Op op, std::vector<const Node*> args, Attrs attrs, Shape shape,
                        DType dtype) {
  for (const Node* a : args) VMC_ASSERT(a && &a->graph() == this, "operand from another graph");
  Node n;
  n.op_ = op;
  n.shape_ = infer_shape(op, args, attrs, shape);
  n.dtype_ = op == Op::Input ? dtype : op == Op::Gather ? args[0]->dtype() : DType::Real;
  n.args_ = std::move(args);
  n.attrs_ = std::move(attrs);
  n.graph_ = this;
  n.hash_ = hash_node(n);
  auto found = table_.find(&n);
  if (found != table_.end()) return *found;
  n.id_ = static_cast<std::uint32_t>(nodes_.size());
  nodes_.push_back(std::move(n));
  const Node* stored = &nodes_.back();
  table_.insert(stored);
  return stored;
}

}  // namespace vmc::ir

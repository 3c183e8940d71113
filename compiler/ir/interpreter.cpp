#include "ir/interpreter.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "ir/scalar.hpp"
#include "ir/special.hpp"
#include "support/check.hpp"

namespace vmc::ir {
namespace {

using Strides = std::vector<std::int64_t>;
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<const RowMatrix>;

std::int64_t count(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t e : shape) n *= e;
  return n;
}

Strides strides_of(const std::vector<std::int64_t>& shape) {
  Strides s(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

class Evaluator {
 public:
  explicit Evaluator(const Bindings& b) : bindings_(b) {}

  const Tensor& value(const Node* n) {
    auto it = memo_.find(n);
    VMC_ASSERT(it != memo_.end(), "operand evaluated out of order");
    return it->second;
  }

  void run(const Node* n) {
    if (auto pin = bindings_.pinned.find(n); pin != bindings_.pinned.end()) {
      memo_[n] = pin->second;
      return;
    }
    std::vector<std::int64_t> shape = concrete_shape(n->shape(), n->graph(), bindings_);
    Tensor out{shape, std::vector<double>(count(shape))};
    compute(*n, out);
    memo_[n] = std::move(out);
  }

 private:

  void compute(const Node& n, Tensor& out) {
    const OpInfo& oi = info(n.op());
    switch (oi.category) {
      case Category::Leaf: return leaf(n, out);
      case Category::Unary: {
        const Tensor& x = value(n.arg(0));
        for (std::size_t i = 0; i < out.values.size(); ++i) out.values[i] = unary_value(n.op(), x.values[i]);
        return;
      }
      case Category::Binary: {
        const Tensor& a = value(n.arg(0));
        const Tensor& b = value(n.arg(1));
        for (std::size_t i = 0; i < out.values.size(); ++i) {
          out.values[i] = binary_value(n.op(), a.values[i], b.values[i]);
        }
        return;
      }
      case Category::Select: {
        const Tensor& c = value(n.arg(0));
        const Tensor& a = value(n.arg(1));
        const Tensor& b = value(n.arg(2));
        for (std::size_t i = 0; i < out.values.size(); ++i) {
          out.values[i] = c.values[i] != 0 ? a.values[i] : b.values[i];
        }
        return;
      }
      case Category::Reduce: return reduce(n, out);
      case Category::Linalg: return linalg(n, out);
      case Category::Structure: return structure(n, out);
    }
  }

  void leaf(const Node& n, Tensor& out) {
    if (n.op() == Op::Const) {
      std::fill(out.values.begin(), out.values.end(), n.attrs().value);
      return;
    }
    if (n.op() == Op::Iota) {
      auto axis = static_cast<std::size_t>(n.attrs().axis);
      std::int64_t stride = strides_of(out.shape)[axis];
      for (std::int64_t i = 0; i < out.size(); ++i) {
        out.values[i] = static_cast<double>(i / stride % out.shape[axis]);
      }
      return;
    }
    auto it = bindings_.inputs.find(n.attrs().name);
    VMC_ASSERT(it != bindings_.inputs.end(), "input '" + n.attrs().name + "' is not bound");
    VMC_ASSERT(it->second.shape == out.shape, "input '" + n.attrs().name + "' has the wrong shape");
    out.values = it->second.values;
  }

  void reduce(const Node& n, Tensor& out) {
    const Tensor& x = value(n.arg(0));
    // View x as [outer, along, inner] around the reduced axis (all of it when axis < 0).
    std::int64_t outer = 1, along = x.size(), inner = 1;
    if (n.attrs().axis >= 0) {
      auto axis = static_cast<std::size_t>(n.attrs().axis);
      along = x.shape[axis];
      for (std::size_t i = 0; i < axis; ++i) outer *= x.shape[i];
      for (std::size_t i = axis + 1; i < x.shape.size(); ++i) inner *= x.shape[i];
    }
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t k = 0; k < inner; ++k) {
        auto at = [&](std::int64_t j) { return x.values[(o * along + j) * inner + k]; };
        double r;
        if (n.op() == Op::Sum) {
          r = 0;
          for (std::int64_t j = 0; j < along; ++j) r += at(j);
        } else {
          double m = -std::numeric_limits<double>::infinity();
          for (std::int64_t j = 0; j < along; ++j) m = std::max(m, at(j));
          r = m;
          if (n.op() == Op::LogSumExp && std::isfinite(m)) {
            double s = 0;
            for (std::int64_t j = 0; j < along; ++j) s += std::exp(at(j) - m);
            r = m + std::log(s);
          }
        }
        out.values[o * inner + k] = r;
      }
    }
  }

  static MatrixMap matrix(const Tensor& t, bool column_if_vector) {
    if (t.shape.size() == 2) return MatrixMap(t.values.data(), t.shape[0], t.shape[1]);
    std::int64_t k = t.shape[0];
    return column_if_vector ? MatrixMap(t.values.data(), k, 1) : MatrixMap(t.values.data(), 1, k);
  }

  void linalg(const Node& n, Tensor& out) {
    const Tensor& a = value(n.arg(0));
    const Tensor& b = value(n.arg(1));
    RowMatrix r;
    if (n.op() == Op::MatMul) {
      RowMatrix ma = matrix(a, false), mb = matrix(b, true);
      if (n.attrs().transpose_a) ma.transposeInPlace();
      if (n.attrs().transpose_b) mb.transposeInPlace();
      r = ma * mb;
    } else if (n.op() == Op::Outer) {
      r = matrix(a, true) * matrix(b, false);
    } else {  // TriSolve
      RowMatrix l = matrix(a, true);
      RowMatrix rhs = matrix(b, true);
      if (rhs.size() == 0) {
        r = rhs;  // nothing to solve (a batch of no rows): Eigen would bind a reference to null
      } else if (n.attrs().transpose_a) {
        r = l.triangularView<Eigen::Lower>().transpose().solve(rhs);
      } else {
        r = l.triangularView<Eigen::Lower>().solve(rhs);
      }
    }
    VMC_ASSERT(r.size() == static_cast<Eigen::Index>(out.values.size()), "product has the wrong size");
    std::copy(r.data(), r.data() + r.size(), out.values.begin());
  }

  void structure(const Node& n, Tensor& out) {
    const Tensor& x = value(n.arg(0));
    Strides os = strides_of(out.shape), xs = strides_of(x.shape);
    switch (n.op()) {
      case Op::Broadcast: {
        std::uint32_t fresh = n.attrs().axes;
        for (std::int64_t i = 0; i < out.size(); ++i) {
          std::int64_t src = 0;
          std::size_t next = 0;
          for (std::size_t d = 0; d < out.shape.size(); ++d) {
            if (fresh >> d & 1u) continue;
            src += (i / os[d] % out.shape[d]) * xs[next++];
          }
          out.values[i] = x.values[src];
        }
        return;
      }
      case Op::Tril:
        for (std::int64_t r = 0; r < x.shape[0]; ++r)
          for (std::int64_t c = 0; c < x.shape[1]; ++c)
            out.values[r * x.shape[1] + c] = c <= r ? x.values[r * x.shape[1] + c] : 0.0;
        return;
      case Op::Diag:
        for (std::int64_t r = 0; r < x.shape[0]; ++r) out.values[r] = x.values[r * x.shape[1] + r];
        return;
      case Op::DiagMatrix:
        std::fill(out.values.begin(), out.values.end(), 0.0);
        for (std::int64_t r = 0; r < x.shape[0]; ++r) out.values[r * x.shape[0] + r] = x.values[r];
        return;
      case Op::Transpose:
        for (std::int64_t r = 0; r < x.shape[0]; ++r)
          for (std::int64_t c = 0; c < x.shape[1]; ++c) out.values[c * x.shape[0] + r] = x.values[r * x.shape[1] + c];
        return;
      case Op::Reshape:
        VMC_ASSERT(x.values.size() == out.values.size(), "reshape changes the element count");
        out.values = x.values;
        return;
      case Op::Slice: {
        auto axis = static_cast<std::size_t>(n.attrs().axis);
        for (std::int64_t i = 0; i < out.size(); ++i) {
          std::int64_t src = 0;
          for (std::size_t d = 0; d < out.shape.size(); ++d) {
            std::int64_t idx = i / os[d] % out.shape[d] + (d == axis ? n.attrs().begin : 0);
            src += idx * xs[d];
          }
          out.values[i] = x.values[src];
        }
        return;
      }
      case Op::Concat: {
        const Tensor& y = value(n.arg(1));
        Strides ys = strides_of(y.shape);
        auto axis = static_cast<std::size_t>(n.attrs().axis);
        for (std::int64_t i = 0; i < out.size(); ++i) {
          std::int64_t along = i / os[axis] % out.shape[axis];
          bool first = along < x.shape[axis];
          const Tensor& src = first ? x : y;
          const Strides& ss = first ? xs : ys;
          std::int64_t off = 0;
          for (std::size_t d = 0; d < out.shape.size(); ++d) {
            std::int64_t idx = i / os[d] % out.shape[d];
            if (d == axis && !first) idx -= x.shape[axis];
            off += idx * ss[d];
          }
          out.values[i] = src.values[off];
        }
        return;
      }
      case Op::Gather:
      case Op::ScatterAdd: {
        const Tensor& idx = value(n.arg(1));
        const Tensor& table = n.op() == Op::Gather ? x : out;
        std::int64_t row = table.shape.empty() ? 1 : count(std::vector<std::int64_t>(table.shape.begin() + 1, table.shape.end()));
        if (n.op() == Op::ScatterAdd) std::fill(out.values.begin(), out.values.end(), 0.0);
        for (std::int64_t k = 0; k < idx.size(); ++k) {
          auto r = static_cast<std::int64_t>(idx.values[k]);
          VMC_ASSERT(r >= 0 && r < table.shape[0], "index out of range");
          for (std::int64_t j = 0; j < row; ++j) {
            if (n.op() == Op::Gather) out.values[k * row + j] = x.values[r * row + j];
            else out.values[r * row + j] += x.values[k * row + j];
          }
        }
        return;
      }
      default:
        break;
    }
    VMC_ASSERT(false, std::string("no interpreter rule for ") + info(n.op()).spelling);
  }

  const Bindings& bindings_;
  std::unordered_map<const Node*, Tensor> memo_;
};

}  // namespace

std::vector<std::int64_t> concrete_shape(const Shape& shape, const Graph& graph,
                                         const Bindings& bindings) {
  std::vector<std::int64_t> out;
  for (const Extent& e : shape) {
    if (e.is_constant()) {
      out.push_back(e.size);
      continue;
    }
    const std::string& name = graph.symbol_name(e.symbol);
    auto it = bindings.sizes.find(name);
    VMC_ASSERT(it != bindings.sizes.end(), "size '" + name + "' is not bound");
    out.push_back(it->second);
  }
  return out;
}

std::int64_t Tensor::size() const { return count(shape); }

double Tensor::item() const {
  VMC_ASSERT(values.size() == 1, "not a one-element tensor");
  return values[0];
}

std::vector<Tensor> evaluate(const std::vector<const Node*>& roots, const Bindings& bindings) {
  Evaluator ev(bindings);
  for (const Node* n : topological_order(roots)) ev.run(n);
  std::vector<Tensor> out;
  for (const Node* r : roots) out.push_back(ev.value(r));
  return out;
}

Tensor evaluate(const Node* root, const Bindings& bindings) {
  return evaluate(std::vector<const Node*>{root}, bindings).front();
}

}  // namespace vmc::ir

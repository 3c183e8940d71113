#include "ir/interpreter.hpp"

#include "ir/loop.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "ir/elementwise.hpp"
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

class Evaluator;

// Each op's evaluation: generic for the elementwise categories (Elementwise<op>::value per
// element), one specialisation per op otherwise (below), so an op without one does not build.
template <Op op>
void evaluate_op(Evaluator& ev, const Node& n, Tensor& out) = delete;

class Evaluator {
 public:
  explicit Evaluator(const Bindings& b) : bindings_(b) {}

  const Tensor& value(const Node* n) const {
    auto it = memo_.find(n);
    VMC_ASSERT(it != memo_.end(), "operand evaluated out of order");
    return it->second;
  }
  const Bindings& bindings() const { return bindings_; }

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
  void compute(const Node& n, Tensor& out);

  const Bindings& bindings_;
  std::unordered_map<const Node*, Tensor> memo_;
};

// --- leaves --------------------------------------------------------------------------------------

template <>
void evaluate_op<Op::Input>(Evaluator& ev, const Node& n, Tensor& out) {
  auto it = ev.bindings().inputs.find(n.attrs().name);
  VMC_ASSERT(it != ev.bindings().inputs.end(), "input '" + n.attrs().name + "' is not bound");
  VMC_ASSERT(it->second.shape == out.shape, "input '" + n.attrs().name + "' has the wrong shape");
  out.values = it->second.values;
}

template <>
void evaluate_op<Op::Const>(Evaluator&, const Node& n, Tensor& out) {
  std::fill(out.values.begin(), out.values.end(), n.attrs().value);
}

template <>
void evaluate_op<Op::Iota>(Evaluator&, const Node& n, Tensor& out) {
  auto axis = static_cast<std::size_t>(n.attrs().axis);
  std::int64_t stride = strides_of(out.shape)[axis];
  for (std::int64_t i = 0; i < out.size(); ++i) out.values[i] = static_cast<double>(i / stride % out.shape[axis]);
}

// --- reductions ----------------------------------------------------------------------------------

// Applies `fold` (the reduced values of one output element, `along` apart by `at`) to every
// output element: along one axis, or over every axis when axis < 0.
template <class Fold>
void reduce(Evaluator& ev, const Node& n, Tensor& out, Fold fold) {
  const Tensor& x = ev.value(n.arg(0));
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
      out.values[o * inner + k] = fold(at, along);
    }
  }
}

template <class At>
double sum_of(const At& at, std::int64_t along) {
  double r = 0;
  for (std::int64_t j = 0; j < along; ++j) r += at(j);
  return r;
}

template <class At>
double max_of(const At& at, std::int64_t along) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t j = 0; j < along; ++j) m = std::max(m, at(j));
  return m;
}

template <>
void evaluate_op<Op::Sum>(Evaluator& ev, const Node& n, Tensor& out) {
  reduce(ev, n, out, [](const auto& at, std::int64_t along) { return sum_of(at, along); });
}

template <>
void evaluate_op<Op::Mean>(Evaluator& ev, const Node& n, Tensor& out) {
  reduce(ev, n, out, [](const auto& at, std::int64_t along) {
    return sum_of(at, along) / static_cast<double>(along);
  });
}

template <>
void evaluate_op<Op::ReduceMax>(Evaluator& ev, const Node& n, Tensor& out) {
  reduce(ev, n, out, [](const auto& at, std::int64_t along) { return max_of(at, along); });
}

template <>
void evaluate_op<Op::ReduceMin>(Evaluator& ev, const Node& n, Tensor& out) {
  reduce(ev, n, out, [](const auto& at, std::int64_t along) {
    return -max_of([&](std::int64_t j) { return -at(j); }, along);
  });
}

template <>
void evaluate_op<Op::LogSumExp>(Evaluator& ev, const Node& n, Tensor& out) {
  reduce(ev, n, out, [](const auto& at, std::int64_t along) {
    double m = max_of(at, along);
    if (!std::isfinite(m)) return m;
    return m + std::log(sum_of([&](std::int64_t j) { return std::exp(at(j) - m); }, along));
  });
}

// --- linear algebra ------------------------------------------------------------------------------

MatrixMap matrix(const Tensor& t, bool column_if_vector) {
  if (t.shape.size() == 2) return MatrixMap(t.values.data(), t.shape[0], t.shape[1]);
  std::int64_t k = t.shape[0];
  return column_if_vector ? MatrixMap(t.values.data(), k, 1) : MatrixMap(t.values.data(), 1, k);
}

void store(const RowMatrix& r, Tensor& out) {
  VMC_ASSERT(r.size() == static_cast<Eigen::Index>(out.values.size()), "product has the wrong size");
  std::copy(r.data(), r.data() + r.size(), out.values.begin());
}

template <>
void evaluate_op<Op::MatMul>(Evaluator& ev, const Node& n, Tensor& out) {
  RowMatrix a = matrix(ev.value(n.arg(0)), false), b = matrix(ev.value(n.arg(1)), true);
  if (n.attrs().transpose_a) a.transposeInPlace();
  if (n.attrs().transpose_b) b.transposeInPlace();
  store(a * b, out);
}

template <>
void evaluate_op<Op::Outer>(Evaluator& ev, const Node& n, Tensor& out) {
  store(matrix(ev.value(n.arg(0)), true) * matrix(ev.value(n.arg(1)), false), out);
}

template <>
void evaluate_op<Op::TriSolve>(Evaluator& ev, const Node& n, Tensor& out) {
  RowMatrix l = matrix(ev.value(n.arg(0)), true);
  RowMatrix rhs = matrix(ev.value(n.arg(1)), true);
  if (rhs.size() == 0) return;  // a batch of no rows: Eigen would bind a reference to null
  if (n.attrs().transpose_a) store(l.triangularView<Eigen::Lower>().transpose().solve(rhs), out);
  else store(l.triangularView<Eigen::Lower>().solve(rhs), out);
}

// The same row-by-row factorisation as the runtime's vmc_potrf, in f64: NaN everywhere when a
// pivot is not positive and finite.
template <>
void evaluate_op<Op::Cholesky>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& a = ev.value(n.arg(0));
  const std::int64_t k = a.shape[0];
  out.values = a.values;
  double* l = out.values.data();
  for (std::int64_t i = 0; i < k; ++i) {
    for (std::int64_t j = 0; j <= i; ++j) {
      double s = l[i * k + j];
      for (std::int64_t p = 0; p < j; ++p) s -= l[i * k + p] * l[j * k + p];
      if (j < i) {
        l[i * k + j] = s / l[j * k + j];
      } else if (s > 0 && std::isfinite(s)) {
        l[i * k + i] = std::sqrt(s);
      } else {
        std::fill(out.values.begin(), out.values.end(), std::numeric_limits<double>::quiet_NaN());
        return;
      }
    }
    for (std::int64_t j = i + 1; j < k; ++j) l[i * k + j] = 0;
  }
}

// --- structure -----------------------------------------------------------------------------------

template <>
void evaluate_op<Op::Broadcast>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  Strides os = strides_of(out.shape), xs = strides_of(x.shape);
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
}

template <>
void evaluate_op<Op::Tril>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  for (std::int64_t r = 0; r < x.shape[0]; ++r)
    for (std::int64_t c = 0; c < x.shape[1]; ++c)
      out.values[r * x.shape[1] + c] = c <= r ? x.values[r * x.shape[1] + c] : 0.0;
}

template <>
void evaluate_op<Op::Diag>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  for (std::int64_t r = 0; r < x.shape[0]; ++r) out.values[r] = x.values[r * x.shape[1] + r];
}

template <>
void evaluate_op<Op::DiagMatrix>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  std::fill(out.values.begin(), out.values.end(), 0.0);
  for (std::int64_t r = 0; r < x.shape[0]; ++r) out.values[r * x.shape[0] + r] = x.values[r];
}

template <>
void evaluate_op<Op::Transpose>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  for (std::int64_t r = 0; r < x.shape[0]; ++r)
    for (std::int64_t c = 0; c < x.shape[1]; ++c) out.values[c * x.shape[0] + r] = x.values[r * x.shape[1] + c];
}

template <>
void evaluate_op<Op::Reshape>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  VMC_ASSERT(x.values.size() == out.values.size(), "reshape changes the element count");
  out.values = x.values;
}

template <>
void evaluate_op<Op::Slice>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  Strides os = strides_of(out.shape), xs = strides_of(x.shape);
  auto axis = static_cast<std::size_t>(n.attrs().axis);
  for (std::int64_t i = 0; i < out.size(); ++i) {
    std::int64_t src = 0;
    for (std::size_t d = 0; d < out.shape.size(); ++d) {
      std::int64_t idx = i / os[d] % out.shape[d] + (d == axis ? n.attrs().begin : 0);
      src += idx * xs[d];
    }
    out.values[i] = x.values[src];
  }
}

template <>
void evaluate_op<Op::Concat>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  const Tensor& y = ev.value(n.arg(1));
  Strides os = strides_of(out.shape), xs = strides_of(x.shape), ys = strides_of(y.shape);
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
}

// Row k of `rows` to or from row idx[k] of `table`.
template <class Move>
void by_rows(const Tensor& idx, const Tensor& table, Move move) {
  std::int64_t row = table.shape.empty()
                         ? 1
                         : count(std::vector<std::int64_t>(table.shape.begin() + 1, table.shape.end()));
  for (std::int64_t k = 0; k < idx.size(); ++k) {
    auto r = static_cast<std::int64_t>(idx.values[k]);
    VMC_ASSERT(r >= 0 && r < table.shape[0], "index out of range");
    for (std::int64_t j = 0; j < row; ++j) move(k * row + j, r * row + j);
  }
}

template <>
void evaluate_op<Op::Gather>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& table = ev.value(n.arg(0));
  by_rows(ev.value(n.arg(1)), table, [&](std::int64_t k, std::int64_t r) { out.values[k] = table.values[r]; });
}

template <>
void evaluate_op<Op::ScatterAdd>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& rows = ev.value(n.arg(0));
  std::fill(out.values.begin(), out.values.end(), 0.0);
  by_rows(ev.value(n.arg(1)), out, [&](std::int64_t k, std::int64_t r) { out.values[r] += rows.values[k]; });
}

template <>
void evaluate_op<Op::Take>(Evaluator& ev, const Node& n, Tensor& out) {
  const Tensor& x = ev.value(n.arg(0));
  auto axis = static_cast<std::size_t>(n.attrs().axis);
  std::int64_t extent = x.shape.at(axis), inner = 1, outer = 1;
  for (std::size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  for (std::size_t d = 0; d < axis; ++d) outer *= x.shape[d];
  auto i = std::clamp<std::int64_t>(std::llround(ev.value(n.arg(1)).item()), 0, extent - 1);
  for (std::int64_t o = 0; o < outer; ++o) {
    std::copy_n(x.values.begin() + (o * extent + i) * inner, inner, out.values.begin() + o * inner);
  }
}

// --- loops: the body and its vjp evaluated once per iteration ----------------------------------

struct LoopRun {
  const LoopBody& body;
  Bindings b;  // the body's bindings; the invariants bound once
  std::int64_t begin, end;

  LoopRun(Evaluator& ev, const Node& n) : body(*n.attrs().loop) {
    b.sizes = ev.bindings().sizes;
    begin = std::llround(ev.value(n.arg(0)).item());
    end = std::llround(ev.value(n.arg(1)).item());
    for (std::size_t k = 0; k < body.invariants.size(); ++k) {
      b.inputs[body.invariants[k]->attrs().name] = ev.value(n.arg(3 + k));
    }
  }
  // The states before each iteration, and after the last.
  std::vector<Tensor> states(const Tensor& c0) {
    std::vector<Tensor> out{c0};
    for (std::int64_t t = begin; t < end; ++t) {
      b.inputs[body.t->attrs().name] = Tensor::scalar(static_cast<double>(t));
      b.inputs[body.carry->attrs().name] = out.back();
      out.push_back(evaluate(body.body.output("carry"), b));
    }
    return out;
  }
};

template <>
void evaluate_op<Op::Loop>(Evaluator& ev, const Node& n, Tensor& out) {
  LoopRun run(ev, n);
  out.values = run.states(ev.value(n.arg(2))).back().values;
}

template <>
void evaluate_op<Op::LoopGrad>(Evaluator& ev, const Node& n, Tensor& out) {
  LoopRun run(ev, n);
  std::vector<Tensor> states = run.states(ev.value(n.arg(2)));
  const auto axis = static_cast<std::size_t>(n.attrs().axis);
  const Node* wanted = axis == 2 ? run.body.vjp.output("carry_bar")
                                 : run.body.vjp.output("inv_bar." + std::to_string(axis - 3));
  const Node* carry_bar = run.body.vjp.output("carry_bar");
  Tensor g = ev.value(n.args().back());
  std::fill(out.values.begin(), out.values.end(), 0.0);
  for (std::int64_t t = run.end - 1; t >= run.begin; --t) {
    run.b.inputs[run.body.t->attrs().name] = Tensor::scalar(static_cast<double>(t));
    run.b.inputs[run.body.carry->attrs().name] = states[static_cast<std::size_t>(t - run.begin)];
    run.b.inputs["loop.carry_bar"] = g;
    std::vector<Tensor> r = evaluate({carry_bar, wanted}, run.b);
    if (axis != 2) {
      for (std::size_t i = 0; i < out.values.size(); ++i) out.values[i] += r[1].values[i];
    }
    g = std::move(r[0]);
  }
  if (axis == 2) out.values = g.values;
}

// --- the table --------------------------------------------------------------------------------

template <Op op>
void evaluate_any(Evaluator& ev, const Node& n, Tensor& out) {
  constexpr Category c = info(op).category;
  std::vector<double>& o = out.values;
  if constexpr (c == Category::Unary) {
    const std::vector<double>& x = ev.value(n.arg(0)).values;
    for (std::size_t i = 0; i < o.size(); ++i) o[i] = Elementwise<op>::value(x[i]);
  } else if constexpr (c == Category::Binary) {
    const std::vector<double>& a = ev.value(n.arg(0)).values;
    const std::vector<double>& b = ev.value(n.arg(1)).values;
    for (std::size_t i = 0; i < o.size(); ++i) o[i] = Elementwise<op>::value(a[i], b[i]);
  } else if constexpr (c == Category::Select) {
    const std::vector<double>& k = ev.value(n.arg(0)).values;
    const std::vector<double>& a = ev.value(n.arg(1)).values;
    const std::vector<double>& b = ev.value(n.arg(2)).values;
    for (std::size_t i = 0; i < o.size(); ++i) o[i] = Elementwise<op>::value(k[i], a[i], b[i]);
  } else {
    evaluate_op<op>(ev, n, out);
  }
}

using EvaluateFn = void (*)(Evaluator&, const Node&, Tensor&);
constexpr EvaluateFn kEvaluate[] = {
#define VMC_OP(name, ...) &evaluate_any<Op::name>,
#include "ir/ops.def"
#undef VMC_OP
};

void Evaluator::compute(const Node& n, Tensor& out) { kEvaluate[static_cast<int>(n.op())](*this, n, out); }

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

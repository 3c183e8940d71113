// The tensor IR: an immutable, hash-consed DAG. A Graph owns its nodes; equal expressions are
// one node (same op, operands, attributes, shape), so common subexpressions are shared by
// construction and pointer equality is structural equality.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace vmc::ir {

enum class Op : std::uint8_t {
#define VMC_OP(name, ...) name,
#include "ir/ops.def"
#undef VMC_OP
};
constexpr int kOpCount = 0
#define VMC_OP(...) +1
#include "ir/ops.def"
#undef VMC_OP
    ;

enum class Category : std::uint8_t { Leaf, Unary, Binary, Select, Structure, Reduce, Linalg };

struct OpInfo {
  const char* spelling;
  int arity;
  Category category;
  const char* builtin;  // the language's function that calls it, or ""
  bool keeps_int;       // as a builtin: int arguments give an int result
};
inline constexpr OpInfo kOpInfo[] = {
#define VMC_OP(name, spelling, arity, category, builtin, keeps_int) \
  {spelling, arity, Category::category, builtin, keeps_int},
#include "ir/ops.def"
#undef VMC_OP
};
constexpr const OpInfo& info(Op op) { return kOpInfo[static_cast<int>(op)]; }
constexpr bool is_elementwise(Category c) {
  return c == Category::Unary || c == Category::Binary || c == Category::Select;
}
constexpr bool is_elementwise(Op op) { return is_elementwise(info(op).category); }

// Values are reals, except int inputs that only index (Gather, ScatterAdd).
enum class DType : std::uint8_t { Real, Int };

// One axis's length: a constant, or a size known only at run time (the minibatch size of a
// subsampled plate, the number of rows of the data given) so that a partial last batch or
// new data needs no recompilation.
struct Extent {
  std::int64_t size = 0;     // when constant
  std::int32_t symbol = -1;  // Graph::symbol_name(symbol) when known only at run time

  static Extent constant(std::int64_t n) { return Extent{n, -1}; }
  static Extent runtime(std::int32_t sym) { return Extent{0, sym}; }
  bool is_constant() const { return symbol < 0; }
  bool operator==(const Extent&) const = default;
};
using Shape = std::vector<Extent>;

enum class InputKind : std::uint8_t {
  Param,  // a parameter being optimised (flat, unconstrained)
  Data,   // observed values (a minibatch of rows for plated data)
  Noise,    // standard-normal base draws ε of the reparameterized samplers
  Uniform,  // uniform(0, 1) base draws, for samplers built on the inverse CDF
  Size,   // a run-time size as a real scalar (N, M for the N/M scaling)
  Weight,  // an importance-weighted bound's self-normalised weight of this sample, per datapoint
};
const char* to_string(InputKind kind);

struct LoopBody;  // ir/loop.hpp

struct Attrs {
  double value = 0;                  // Const
  std::string name;                  // Input
  InputKind input = InputKind::Param;
  int axis = -1;                     // Slice, Concat, reductions (-1 reduces every axis)
  std::int64_t begin = 0, end = 0;   // Slice
  bool transpose_a = false;          // MatMul, TriSolve: use op(a) = aᵀ
  bool transpose_b = false;          // MatMul
  std::uint32_t axes = 0;            // Broadcast: bit d set when output axis d is new
  std::shared_ptr<const LoopBody> loop;  // Loop, LoopGrad (whose axis is the operand adjoined)

  bool operator==(const Attrs&) const = default;
};

class Graph;

class Node {
 public:
  Op op() const { return op_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.size(); }
  bool is_scalar() const { return shape_.empty(); }
  std::span<const Node* const> args() const { return args_; }
  const Node* arg(std::size_t i) const { return args_[i]; }
  const Attrs& attrs() const { return attrs_; }
  Graph& graph() const { return *graph_; }
  // Creation order within the graph: deterministic, used to order and name nodes.
  std::uint32_t id() const { return id_; }
  bool is_const(double v) const { return op_ == Op::Const && attrs_.value == v; }

 private:
  friend class Graph;
  friend struct NodeHash;
  friend struct NodeEq;
  Op op_ = Op::Const;
  DType dtype_ = DType::Real;
  Shape shape_;
  std::vector<const Node*> args_;
  Attrs attrs_;
  Graph* graph_ = nullptr;
  std::uint32_t id_ = 0;
  std::size_t hash_ = 0;
};

struct NodeHash {
  std::size_t operator()(const Node* n) const { return n->hash_; }
};
struct NodeEq {
  bool operator()(const Node* a, const Node* b) const;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Declares (or finds) a run-time size symbol such as "M" or "N".
  std::int32_t symbol(const std::string& name);
  const std::string& symbol_name(std::int32_t s) const { return symbols_[s]; }
  std::size_t symbol_count() const { return symbols_.size(); }

  // The node for `op` over `args` with `attrs`, created if new. The result's shape is inferred
  // from the operands; `shape` is needed only for leaves, Broadcast and Reshape. Ill-formed
  // requests are our bugs (lowering only builds well-typed IR) and fail an internal assertion.
  const Node* make(Op op, std::vector<const Node*> args, Attrs attrs = {}, Shape shape = {},
                   DType dtype = DType::Real);

  std::size_t size() const { return nodes_.size(); }

 private:
  std::deque<Node> nodes_;
  std::unordered_set<const Node*, NodeHash, NodeEq> table_;
  std::vector<std::string> symbols_;
};

// The shape a node of `op` over `args` has, or fails an internal assertion.
Shape infer_shape(Op op, std::span<const Node* const> args, const Attrs& attrs,
                  const Shape& given);

}  // namespace vmc::ir

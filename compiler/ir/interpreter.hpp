// The reference interpreter: evaluates IR in double precision, one op at a time, over Eigen.
// It is the oracle the JIT and the symbolic gradients are tested against, so it stays simple
// and obviously right rather than fast.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/function.hpp"

namespace vmc::ir {

struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;  // row-major

  static Tensor scalar(double v) { return Tensor{{}, {v}}; }
  std::int64_t size() const;
  double item() const;  // the value of a one-element tensor
};

// What the inputs and run-time sizes of a graph are bound to for one evaluation.
struct Bindings {
  std::map<std::string, std::int64_t> sizes;  // by symbol name (e.g. "M")
  std::map<std::string, Tensor> inputs;       // by input name
  // Values that replace whole nodes: a stop_gradient's operand held at a base point, so that
  // finite differences see what the symbolic gradient treats as constant.
  std::map<const Node*, Tensor> pinned;
};

// The extents of `shape` under `bindings`: run-time sizes looked up by their symbol's name in
// `graph` (an unbound size is an internal error).
std::vector<std::int64_t> concrete_shape(const Shape& shape, const Graph& graph,
                                         const Bindings& bindings);

// Evaluates `roots` (and what they depend on). A missing or misshapen binding is an internal
// error: the caller builds bindings from the same model the graph came from.
std::vector<Tensor> evaluate(const std::vector<const Node*>& roots, const Bindings& bindings);
Tensor evaluate(const Node* root, const Bindings& bindings);

}  // namespace vmc::ir

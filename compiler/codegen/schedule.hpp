// The schedule of a kernel, decided before any LLVM is written (so it is testable alone):
// which nodes get a buffer, in which order they are computed, and where in the workspace each
// buffer lives. Everything else is computed inside the loop of the buffer that uses it: chains
// of elementwise ops, broadcasts, transposes and slices fuse into single loops, and a
// reduction's operand is computed inside the reduction's loop.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "ir/function.hpp"

namespace vmc::codegen {

// A buffer's size as a polynomial in the run-time sizes: monomial (sorted symbol indices,
// repeated for powers) → coefficient. `elements` counts elements; slots count bytes.
using Polynomial = std::map<std::vector<std::int32_t>, std::int64_t>;
Polynomial elements(const ir::Shape& shape);

// Where a computed node's values live.
enum class Home {
  Inline,     // not stored: computed where it is used
  Input,      // an input buffer
  Output,     // an output buffer of the kernel
  Workspace,  // a slot of the workspace
};

struct Placement {
  Home home = Home::Inline;
  int index = -1;  // the input, output or slot number
};

struct Schedule {
  std::vector<const ir::Node*> outputs;
  std::vector<const ir::Node*> inputs;      // every Input node the kernel reads, in a stable order
  std::vector<const ir::Node*> computed;    // nodes with a buffer, in computation order
  std::map<const ir::Node*, Placement> placement;
  // Workspace slots in layout order, in bytes; each slot holds buffers whose lifetimes do not
  // overlap, so its size is the coefficient-wise maximum of theirs (an upper bound for each).
  std::vector<Polynomial> slots;
  // Products the runtime may compute after the kernel returns (vmc_gemm_rows_*): a sum over a
  // minibatch's rows written straight into an output that nothing else reads. Their operands'
  // buffers stay live to the kernel's end.
  std::set<const ir::Node*> deferred;
  // Elementwise buffers computed in the loop of a full sum over their shape (riders[sum]), so
  // that what they share with the sum's operand is loaded and computed once: a Bernoulli
  // likelihood's Σ softplus(l) − x·l and its adjoint x − σ(l) both need exp(−|l|). A rider
  // comes just before its sum in `computed` and is written by the sum's loop.
  std::map<const ir::Node*, std::vector<const ir::Node*>> riders;
  std::set<const ir::Node*> riding;
  // Sums along a leading axis (a bias's gradient: Σ over the rows of an adjoint) accumulated in
  // the loop of the elementwise buffer their operand reads (accumulators[buffer]), instead of a
  // pass of their own over it. An accumulator comes just before its buffer in `computed`; it is
  // zeroed before that loop (its sum's loop, when the buffer is a rider).
  std::map<const ir::Node*, std::vector<const ir::Node*>> accumulators;
  std::set<const ir::Node*> accumulating;

  const Placement& where(const ir::Node* n) const;
  bool stored(const ir::Node* n) const { return where(n).home != Home::Inline; }
};

// Schedules the computation of `outputs`. `inputs` fixes the order of the input buffers (it
// must contain every Input node the outputs read). Real elements take `real_bytes` (4 or 8),
// int (index) elements 8. `row_symbols`: the run-time sizes that are a subsampled plate's
// minibatch size, over which products may be deferred (Schedule::deferred).
Schedule schedule(const std::vector<const ir::Node*>& outputs,
                  const std::vector<const ir::Node*>& inputs, int real_bytes,
                  const std::set<std::int32_t>& row_symbols = {});

// True when `op`'s value at an index can be computed from its operands' values at indices of
// their own, without a loop of its own (leaves, elementwise ops and the views): its code is
// then Emitter::at<op>, else Emitter::store<op> (codegen/code.cpp).
constexpr bool inlinable(ir::Op op) {
  using ir::Op;
  switch (ir::info(op).category) {
    case ir::Category::Leaf:
    case ir::Category::Unary:
    case ir::Category::Binary:
    case ir::Category::Select:
      return true;
    case ir::Category::Reduce:
      return false;
    case ir::Category::Structure:
    case ir::Category::Linalg:
      return op == Op::Broadcast || op == Op::Transpose || op == Op::Reshape || op == Op::Slice ||
             op == Op::Gather || op == Op::Take || op == Op::Tril || op == Op::Diag ||
             op == Op::DiagMatrix || op == Op::Outer;
  }
  return false;
}
// The nodes with a buffer that computing `n` inline reads (n itself if it is stored).
void stored_reads(const Schedule& s, const ir::Node* n, std::vector<const ir::Node*>& out);

}  // namespace vmc::codegen

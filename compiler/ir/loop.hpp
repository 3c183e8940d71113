// A loop of the language (`for t in a:b { ... }`) in the IR: a state carried from one iteration
// to the next by a body function, never unrolled, so a loop of 10,000 iterations is as much code
// as one of 10. Its adjoint runs the loop backwards through the body's own derivative (the vjp
// function), from the states the forward pass stored.
//
//   loop(begin, end, c0, inv...)           = c_end, where c_{t+1} = body(t, c_t, inv...) for
//                                            t = begin … end − 1 (c0 itself when end ≤ begin)
//   loop_grad(begin, end, c0, inv..., ḡ)   = the adjoint of operand `axis` (2: c0, 3…: an
//                                            invariant) given the adjoint ḡ of the loop's result
//
// The state is one tensor (the lowering packs every carried value into it); the invariants are
// the values the body reads that do not change in the loop (params, data, draws, outer values),
// passed as operands so that the body graph is closed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/function.hpp"

namespace vmc::ir {

struct LoopBody {
  std::string name;  // unique in the program ("loop0"): the symbols of the body's code
  // inputs "loop.t" (a real scalar), "loop.carry" (the state) and "loop.inv.K"; output "carry".
  Function body;
  // the body's inputs and "loop.carry_bar"; outputs "carry_bar" (the adjoint of the state at
  // the iteration's start) and "inv_bar.K" (the iteration's part of invariant K's adjoint).
  Function vjp;
  const Node* t = nullptr;      // in body
  const Node* carry = nullptr;  // in body
  std::vector<const Node*> invariants;  // in body, by operand position − 3
  // The same inputs in vjp, and its "loop.carry_bar".
  const Node* vjp_t = nullptr;
  const Node* vjp_carry = nullptr;
  std::vector<const Node*> vjp_invariants;
  const Node* vjp_carry_bar = nullptr;
};

// Builds a loop node (ir/builder.cpp); `body` has its vjp already (diff::derive_vjp).
const Node* loop(const Node* begin, const Node* end, const Node* c0, const std::vector<const Node*>& invariants,
                 std::shared_ptr<const LoopBody> body);

}  // namespace vmc::ir

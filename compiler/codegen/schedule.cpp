#include "codegen/schedule.hpp"

#include <algorithm>
#include <set>

#include "ir/elementwise.hpp"
#include "support/check.hpp"

namespace vmc::codegen {
namespace {

using ir::Op;

// Operands that library calls read directly, so they need a buffer of their own.
bool needs_buffer(const ir::Node& user, std::size_t operand) {
  switch (user.op()) {
    case Op::MatMul: return true;
    case Op::TriSolve: return operand == 0;
    case Op::Loop:
    case Op::LoopGrad: return operand >= 2;  // the state, invariants and adjoint go to vmc_loop
    default: return false;
  }
}

// Elementwise ops that cost less than a store and a load: no division, no transcendental
// (Elementwise<op>::cheap).
template <Op op>
constexpr bool cheap_op() {
  if constexpr (ir::is_elementwise(op)) return ir::Elementwise<op>::cheap;
  else return false;
}
constexpr bool kCheap[] = {
#define VMC_OP(name, ...) cheap_op<Op::name>(),
#include "ir/ops.def"
#undef VMC_OP
};
bool cheap(Op op) { return kCheap[static_cast<int>(op)]; }

bool is_view(Op op) {
  return op == Op::Broadcast || op == Op::Transpose || op == Op::Reshape || op == Op::Slice || op == Op::Diag;
}

// At most this many cheap ops are recomputed in each user of a value with several users.
constexpr int kRecomputedOps = 4;

// Finds Schedule::riders and moves each rider, with the scalars it reads that were computed
// after its sum, to just before the sum in s.computed. A rider: a stored elementwise op (not a
// reduction, product or view) of the shape of a full sum's operand, computed after the sum,
// that reads at least one full-size buffer the operand reads too, and depends on nothing
// computed after the sum but elementwise scalars that do not depend on the sum either (an
// adjoint's seed, a scale), which move with it.
void ride_along(Schedule& s) {
  for (std::size_t r = 0; r < s.computed.size(); ++r) {
    const ir::Node* sum = s.computed[r];
    if (sum->op() != Op::Sum || sum->attrs().axis >= 0 || sum->arg(0)->rank() == 0) continue;
    const ir::Node* x = sum->arg(0);
    std::map<const ir::Node*, std::size_t> at;
    for (std::size_t t = 0; t < s.computed.size(); ++t) at[s.computed[t]] = t;
    std::vector<const ir::Node*> x_reads;
    stored_reads(s, x, x_reads);
    std::set<const ir::Node*> shared;
    for (const ir::Node* b : x_reads) {
      if (b->shape() == x->shape()) shared.insert(b);
    }
    std::set<const ir::Node*> moved;  // scalars moved before the sum, over all its riders
    std::vector<const ir::Node*> riders;
    for (std::size_t t = r + 1; t < s.computed.size(); ++t) {
      const ir::Node* m = s.computed[t];
      if (!ir::is_elementwise(m->op())) continue;
      if (m->shape() != x->shape() || m->dtype() != ir::DType::Real || s.riding.count(m)) continue;
      // What m reads: the sum (no), buffers computed before it (fine), elementwise scalars
      // computed after it (moved along), anything else computed after it (no).
      std::set<const ir::Node*> scalars;
      bool ok = true, shares = false;
      std::vector<const ir::Node*> stack(m->args().begin(), m->args().end());
      std::set<const ir::Node*> seen;
      while (ok && !stack.empty()) {
        const ir::Node* y = stack.back();
        stack.pop_back();
        if (!seen.insert(y).second) continue;
        if (y == sum) {
          ok = false;
        } else if (s.stored(y) && at.count(y)) {
          shares |= shared.count(y) > 0;
          if (at[y] < r) continue;
          ok = y->rank() == 0 && ir::is_elementwise(y->op());
          scalars.insert(y);
          stack.insert(stack.end(), y->args().begin(), y->args().end());
        } else if (!s.stored(y)) {
          stack.insert(stack.end(), y->args().begin(), y->args().end());
        } else {
          shares |= shared.count(y) > 0;  // an input
        }
      }
      if (!ok || !shares) continue;
      riders.push_back(m);
      moved.insert(scalars.begin(), scalars.end());
    }
    if (riders.empty()) continue;
    // Before the sum: the moved scalars and the riders, each group in its old order.
    std::vector<const ir::Node*> order(s.computed.begin(), s.computed.begin() + static_cast<long>(r));
    for (std::size_t t = r + 1; t < s.computed.size(); ++t) {
      if (moved.count(s.computed[t])) order.push_back(s.computed[t]);
    }
    order.insert(order.end(), riders.begin(), riders.end());
    order.push_back(sum);
    for (std::size_t t = r + 1; t < s.computed.size(); ++t) {
      const ir::Node* n = s.computed[t];
      if (!moved.count(n) && std::find(riders.begin(), riders.end(), n) == riders.end()) order.push_back(n);
    }
    s.computed = std::move(order);
    s.riders[sum] = riders;
    s.riding.insert(riders.begin(), riders.end());
    r = static_cast<std::size_t>(std::find(s.computed.begin(), s.computed.end(), sum) - s.computed.begin());
  }
}

// Finds Schedule::accumulators: a sum along a non-last axis whose operand has the shape of
// an elementwise buffer computed before it (its own loop, or a rider in a sum's loop) and
// reads nothing computed after that buffer. Each is moved to just before its buffer.
void accumulate_along(Schedule& s) {
  for (std::size_t t = 0; t < s.computed.size(); ++t) {
    const ir::Node* sum = s.computed[t];
    const int axis = sum->attrs().axis;
    if (sum->op() != Op::Sum || axis < 0 || static_cast<std::size_t>(axis) + 1 >= sum->arg(0)->rank()) continue;
    const ir::Node* x = sum->arg(0);
    std::map<const ir::Node*, std::size_t> at;
    for (std::size_t k = 0; k < s.computed.size(); ++k) at[s.computed[k]] = k;
    std::vector<const ir::Node*> reads;
    stored_reads(s, x, reads);
    // The latest buffer x reads: the loop x could be computed in, if x reads nothing later.
    const ir::Node* host = nullptr;
    std::size_t latest = 0;
    bool ok = true;
    for (const ir::Node* r : reads) {
      if (!at.count(r)) continue;  // an input
      if (at[r] >= t) ok = false;
      if (host == nullptr || at[r] > latest) {
        host = r;
        latest = at[r];
      }
    }
    if (!ok || host == nullptr || host->shape() != x->shape() || host->dtype() != ir::DType::Real) continue;
    if (!ir::is_elementwise(host->op())) continue;
    std::vector<const ir::Node*> order;
    for (const ir::Node* n : s.computed) {
      if (n == sum) continue;
      if (n == host) order.push_back(sum);
      order.push_back(n);
    }
    s.computed = std::move(order);
    s.accumulators[host].push_back(sum);
    s.accumulating.insert(sum);
  }
}

}  // namespace

Polynomial elements(const ir::Shape& shape) {
  std::vector<std::int32_t> monomial;
  std::int64_t c = 1;
  for (const ir::Extent& e : shape) {
    if (e.is_constant()) c *= e.size;
    else monomial.push_back(e.symbol);
  }
  std::sort(monomial.begin(), monomial.end());
  return c == 0 ? Polynomial{} : Polynomial{{monomial, c}};
}

const Placement& Schedule::where(const ir::Node* n) const {
  static const Placement kInline;
  auto it = placement.find(n);
  return it == placement.end() ? kInline : it->second;
}

void stored_reads(const Schedule& s, const ir::Node* n, std::vector<const ir::Node*>& out) {
  std::vector<const ir::Node*> stack{n};
  std::set<const ir::Node*> seen;
  while (!stack.empty()) {
    const ir::Node* x = stack.back();
    stack.pop_back();
    if (!seen.insert(x).second) continue;
    if (s.stored(x)) {
      out.push_back(x);
      continue;
    }
    for (const ir::Node* a : x->args()) stack.push_back(a);
  }
}

Schedule schedule(const std::vector<const ir::Node*>& outputs,
                  const std::vector<const ir::Node*>& inputs, int real_bytes,
                  const std::set<std::int32_t>& row_symbols) {
  Schedule s;
  s.outputs = outputs;
  std::vector<const ir::Node*> order = ir::topological_order(outputs);

  std::map<const ir::Node*, std::vector<std::pair<const ir::Node*, std::size_t>>> users;
  for (const ir::Node* n : order) {
    for (std::size_t i = 0; i < n->args().size(); ++i) users[n->arg(i)].push_back({n, i});
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) s.placement[inputs[k]] = {Home::Input, static_cast<int>(k)};
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (!s.placement.count(outputs[k])) s.placement[outputs[k]] = {Home::Output, static_cast<int>(k)};
  }

  // What recomputing a node inline costs, as far as its operands are inline too: the cheap ops
  // of its chain (−1 once a costly op is in it), and the full-size arrays the chain loads (not
  // through a broadcast, which reads a smaller array that stays in cache).
  std::map<const ir::Node*, int> chain_ops;
  std::map<const ir::Node*, std::set<const ir::Node*>> chain_loads;
  auto recompute_cost = [&](const ir::Node* n) {
    int ops = cheap(n->op()) ? 1 : is_view(n->op()) || n->op() == Op::Const ? 0 : -1;
    std::set<const ir::Node*> loads;
    for (const ir::Node* a : n->args()) {
      if (ops < 0) break;
      if (s.stored(a)) {
        if (n->op() != Op::Broadcast) loads.insert(a);
      } else if (a->op() != Op::Const) {
        int more = chain_ops.count(a) ? chain_ops[a] : -1;
        if (more < 0) ops = -1;
        else ops += more;
        if (n->op() != Op::Broadcast) loads.insert(chain_loads[a].begin(), chain_loads[a].end());
      }
    }
    chain_ops[n] = ops;
    chain_loads[n] = std::move(loads);
  };

  // Which nodes need a buffer: everything that is not computed inline where it is used.
  std::set<const ir::Node*> stored_for_users;  // only because it has several users
  for (const ir::Node* n : order) {
    if (n->op() == Op::Input) {
      VMC_ASSERT(s.placement.count(n), "input '" + n->attrs().name + "' is not among the kernel's inputs");
      continue;
    }
    if (s.placement.count(n)) continue;
    const auto& us = users[n];
    if (n->op() == Op::Const) {
      // A constant is written where it is used, unless a product or solve reads it from memory
      // (X' * (0 * y + 1): the vector folds to a constant of y's shape).
      bool read_from_memory = false;
      for (const auto& [user, operand] : us) read_from_memory |= needs_buffer(*user, operand);
      if (read_from_memory) s.placement[n] = {Home::Workspace, -1};
      continue;
    }
    bool store = !inlinable(n->op());
    for (const auto& [user, operand] : us) store |= needs_buffer(*user, operand);
    bool view = is_view(n->op());
    recompute_cost(n);
    // Recomputing an elementwise value for each of several users costs more than a buffer,
    // unless it is a short chain of cheap ops that loads at most one full-size array (a bias
    // added to a product's output, its absolute value, its negation): then each user loads
    // that array instead of the buffer, and the buffer's store and its loop are saved. Views
    // are only index arithmetic, so they are recomputed freely.
    const bool recomputed = chain_ops[n] >= 0 && chain_ops[n] <= kRecomputedOps && chain_loads[n].size() <= 1;
    const bool for_users = !store && !view && us.size() > 1 && !recomputed;
    store |= for_users;
    // A value broadcast to a larger shape is computed once, at its own size.
    bool broadcast = false;
    for (const auto& [user, operand] : us) broadcast |= user->op() == Op::Broadcast && n->op() != Op::Input;
    if (store || broadcast) s.placement[n] = {Home::Workspace, -1};
    if (for_users && !broadcast) stored_for_users.insert(n);
  }
  // A value stored only for its several users needs no buffer when every user is computed in
  // one loop, at the value's own index: an elementwise op of its shape inlined into that loop,
  // or the loop of an elementwise op or a reduction that reads it. Then it is computed inline
  // where each user reads it, and LLVM merges the copies (e^x used by e^x / (1 + e^x): one
  // exp, no pass of its own). Users before operands, so each user's loop is known.
  std::map<const ir::Node*, const ir::Node*> loop_of;  // the one loop an inline node is computed in
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const ir::Node* n = *it;
    if (n->op() == Op::Input || n->op() == Op::Const) continue;
    if (s.stored(n) && !stored_for_users.count(n)) continue;
    const ir::Node* loop = nullptr;
    bool one = !users[n].empty();
    for (const auto& [user, operand] : users[n]) {
      const ir::Category c = ir::info(user->op()).category;
      const bool elementwise =
          ir::is_elementwise(user->op()) && user->shape() == n->shape() && user->dtype() == n->dtype();
      const ir::Node* in = nullptr;
      if (s.stored(user)) {
        if (elementwise || (c == ir::Category::Reduce && operand == 0)) in = user;
      } else if (elementwise && loop_of.count(user)) {
        in = loop_of[user];
      }
      if (in == nullptr || (loop != nullptr && in != loop)) one = false;
      loop = in;
    }
    if (!one) continue;
    loop_of[n] = loop;
    if (stored_for_users.count(n)) s.placement.erase(n);
  }
  for (const ir::Node* n : order) {
    Home h = s.where(n).home;
    if (h == Home::Workspace || h == Home::Output) s.computed.push_back(n);
  }

  ride_along(s);
  accumulate_along(s);

  // Lifetimes: a workspace buffer is live from its computation to the last computation that
  // reads it (through any inlined chain). A rider reads in its sum's loop: its reads count
  // there, so no buffer written in that loop (another rider) takes the slot of one it reads.
  // Likewise an accumulator reads in the loop of its buffer (or of that buffer's sum).
  std::map<const ir::Node*, std::size_t> loop_at;
  for (std::size_t t = 0; t < s.computed.size(); ++t) {
    auto ridden = s.riders.find(s.computed[t]);
    if (ridden != s.riders.end()) {
      for (const ir::Node* m : ridden->second) loop_at[m] = t;
    }
  }
  for (std::size_t t = 0; t < s.computed.size(); ++t) {
    const ir::Node* host = s.computed[t];
    auto hosted = s.accumulators.find(host);
    if (hosted == s.accumulators.end()) continue;
    for (const ir::Node* sum : hosted->second) loop_at[sum] = loop_at.count(host) ? loop_at[host] : t;
  }
  std::map<const ir::Node*, std::size_t> last_use;
  for (std::size_t t = 0; t < s.computed.size(); ++t) {
    const ir::Node* n = s.computed[t];
    std::vector<const ir::Node*> reads;
    for (const ir::Node* a : n->args()) stored_reads(s, a, reads);
    const std::size_t when = loop_at.count(n) ? loop_at[n] : t;
    for (const ir::Node* r : reads) last_use[r] = std::max(last_use[r], when);
  }
  // Deferred products: Xᵀ·Y summed over a minibatch's rows, the node a kernel output of its own
  // that no other node reads. The runtime may compute them once the kernel has returned, so
  // their operands are never overwritten: live to the end.
  for (const ir::Node* n : s.computed) {
    if (n->op() != Op::MatMul || s.where(n).home != Home::Output || !users[n].empty()) continue;
    if (std::count(outputs.begin(), outputs.end(), n) != 1) continue;
    const ir::Node* a = n->arg(0);
    if (!n->attrs().transpose_a || a->rank() != 2 || n->rank() != 2) continue;
    const ir::Extent& k = a->shape()[0];
    if (k.is_constant() || !row_symbols.count(k.symbol)) continue;
    s.deferred.insert(n);
    for (const ir::Node* operand : n->args()) last_use[operand] = s.computed.size();
  }
  // Greedy interval assignment: a slot is reused once its last reader has run.
  std::vector<std::size_t> slot_free_after;  // the step after which each slot is free
  for (std::size_t t = 0; t < s.computed.size(); ++t) {
    const ir::Node* n = s.computed[t];
    Placement& p = s.placement[n];
    if (p.home != Home::Workspace) continue;
    std::size_t end = last_use.count(n) ? last_use[n] : t;
    int chosen = -1;
    for (std::size_t k = 0; k < slot_free_after.size(); ++k) {
      if (slot_free_after[k] < t) {
        chosen = static_cast<int>(k);
        break;
      }
    }
    if (chosen < 0) {
      chosen = static_cast<int>(s.slots.size());
      s.slots.emplace_back();
      slot_free_after.push_back(0);
    }
    p.index = chosen;
    slot_free_after[chosen] = end;
    std::int64_t width = n->dtype() == ir::DType::Int ? 8 : real_bytes;
    for (const auto& [monomial, c] : elements(n->shape())) {
      std::int64_t& slot_c = s.slots[chosen][monomial];
      slot_c = std::max(slot_c, c * width);
    }
  }
  s.inputs = inputs;
  return s;
}

}  // namespace vmc::codegen

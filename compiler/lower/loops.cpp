// `for t in a:b { ... }` → one loop node (ir/loop.hpp), never unrolled.
//
// The body is lowered once, in the objective's graph, with placeholders for the loop index and
// for the state: the vars the body assigns that were declared before the loop, and the sum of
// the terms (`~`, `target +=`) the body adds, one per copy of the enclosing plates. What the body
// computes from the placeholders is then moved into a graph of its own (the body function); what
// it reads that does not depend on them (params, data, draws, outer values) becomes the loop's
// invariant operands, computed once outside the loop. The state is one tensor: every carried
// value and the term sum, each flattened per copy and concatenated along a last axis.
#include <algorithm>
#include <set>

#include "diff/gradient.hpp"
#include "ir/loop.hpp"
#include "lower/lowerer.hpp"
#include "support/check.hpp"

namespace vmc::lower {
namespace {

using ir::Node;

// The vars `body` assigns, at any depth, and those it declares.
void assignments(const sema::Model& m, const std::vector<ast::StmtPtr>& body, std::vector<const ast::Let*>& assigned,
                 std::set<const ast::Let*>& declared) {
  for (const ast::StmtPtr& s : body) {
    if (const auto* a = s->as<ast::Assign>()) {
      const ast::Let* var = m.assigned.at(a);
      if (std::find(assigned.begin(), assigned.end(), var) == assigned.end()) assigned.push_back(var);
    } else if (const auto* l = s->as<ast::Let>()) {
      declared.insert(l);
    } else if (const auto* f = s->as<ast::For>()) {
      assignments(m, f->body, assigned, declared);
    } else if (const auto* p = s->as<ast::Plate>()) {
      assignments(m, p->body, assigned, declared);
    }
  }
}

// One carried value's place in the state: its per-copy elements at [offset, offset + size).
struct Slot {
  ir::Shape shape;  // the value's, batch axes included
  std::int64_t offset = 0, size = 0;
};

// `v` ([batch..., copy...]) as [batch..., elements of a copy].
const Node* flatten(const Node* v, std::size_t batch, std::int64_t size) {
  ir::Shape flat(v->shape().begin(), v->shape().begin() + static_cast<long>(batch));
  flat.push_back(ir::Extent::constant(size));
  return ir::reshape(v, flat);
}

const Node* pack(const std::vector<const Node*>& parts, std::size_t batch, const std::vector<Slot>& slots) {
  const Node* out = nullptr;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const Node* flat = flatten(parts[k], batch, slots[k].size);
    out = out ? ir::concat(out, flat, static_cast<int>(batch)) : flat;
  }
  return out;
}

const Node* unpack(const Node* state, std::size_t batch, const Slot& slot) {
  return ir::reshape(ir::slice(state, static_cast<int>(batch), slot.offset, slot.offset + slot.size), slot.shape);
}

// Moves what `next` computes from the placeholders into `body`'s graph; what it reads that does
// not depend on them becomes an invariant: a body input, and its node in `invariants`.
const Node* extract(const Node* next, const std::unordered_map<const Node*, const Node*>& placeholders,
                    ir::LoopBody& body, std::vector<const Node*>& invariants) {
  ir::Graph& bg = *body.body.graph;
  std::vector<const Node*> order = ir::topological_order({next});
  std::unordered_map<const Node*, bool> varying;
  for (const Node* n : order) {
    bool v = placeholders.count(n) > 0;
    for (const Node* a : n->args()) v = v || varying.at(a);
    varying[n] = v;
  }
  std::unordered_map<const Node*, const Node*> done(placeholders.begin(), placeholders.end());
  auto operand = [&](const Node* a) -> const Node* {
    if (auto it = done.find(a); it != done.end()) return it->second;
    const Node* in;
    if (a->op() == ir::Op::Const || a->op() == ir::Op::Iota) {  // copied: cheaper than an input
      in = bg.make(a->op(), {}, a->attrs(), a->shape(), a->dtype());
    } else {
      in = ir::input(bg, "loop.inv." + std::to_string(invariants.size()), ir::InputKind::Data, a->shape(), a->dtype());
      invariants.push_back(a);
      body.invariants.push_back(in);
    }
    return done[a] = in;
  };
  for (const Node* n : order) {
    if (!varying.at(n) || done.count(n)) continue;
    std::vector<const Node*> args;
    for (const Node* a : n->args()) args.push_back(operand(a));
    ir::Op op = n->op();
    bool given = op == ir::Op::Input || op == ir::Op::Const || op == ir::Op::Iota || op == ir::Op::Broadcast ||
                 op == ir::Op::Reshape;
    done[n] = bg.make(op, std::move(args), n->attrs(), given ? n->shape() : ir::Shape{}, n->dtype());
  }
  return operand(next);
}

}  // namespace

void Lowerer::loop(const ast::For& f, ast::BlockKind block) {
  const Node* begin = expr(*f.begin).node;
  const Node* end = expr(*f.end).node;
  const std::string name = "loop" + std::to_string(loop_count++);
  const std::size_t batch = plates.size();
  ir::Shape batch_shape;
  for (const ast::Plate* p : plates) batch_shape.push_back(plate_extent(*p));

  // The state: the vars declared before the loop that its body assigns, then the term sum.
  std::vector<const ast::Let*> carried, vars;
  std::set<const ast::Let*> declared;
  assignments(model, f.body, carried, declared);
  for (const ast::Let* v : carried) {
    if (!declared.count(v)) vars.push_back(v);
  }
  std::vector<Value> initial;
  std::vector<Slot> slots;
  std::int64_t width = 0;
  for (const ast::Let* v : vars) {
    Value x = align(lets.at(v), plates, lets.at(v).copy_shape());
    std::int64_t size = ir::constant_elements(x.copy_shape());
    VMC_ASSERT(size > 0, "a var of an extent unknown at compile time carried by a loop");
    slots.push_back({x.node->shape(), width, size});
    width += size;
    initial.push_back(x);
  }
  slots.push_back({batch_shape, width, 1});
  width += 1;

  // Placeholders, then the body lowered once against them.
  std::unordered_map<const Node*, const Node*> placeholders;  // → their form in the body graph
  ir::Shape state_shape = batch_shape;
  state_shape.push_back(ir::Extent::constant(width));
  auto body = std::make_shared<ir::LoopBody>();
  body->name = name;
  ir::Graph& bg = *body->body.graph;
  for (std::size_t s = 0; s < g.symbol_count(); ++s) bg.symbol(g.symbol_name(static_cast<std::int32_t>(s)));
  body->t = ir::input(bg, "loop.t", ir::InputKind::Data, {});
  body->carry = ir::input(bg, "loop.carry", ir::InputKind::Data, state_shape);
  const Node* t = ir::input(g, name + ".t", ir::InputKind::Data, {});
  placeholders[t] = body->t;
  std::vector<const Node*> held;
  for (std::size_t k = 0; k < slots.size(); ++k) {
    const Node* ph = ir::input(g, name + ".state." + std::to_string(k), ir::InputKind::Data, slots[k].shape);
    placeholders[ph] = unpack(body->carry, batch, slots[k]);
    held.push_back(ph);
  }
  std::map<const ast::Let*, Value> before;
  for (std::size_t k = 0; k < vars.size(); ++k) {
    before[vars[k]] = lets.at(vars[k]);
    lets[vars[k]] = Value{held[k], initial[k].plates, initial[k].row};
  }
  loop_indices[&f] = Value{t};
  std::size_t first_term = terms.size();
  statements(f.body, block);
  if (failed) {
    // The generative pass could not draw the body: what it lowered is dropped, and no body
    // function or vjp is built for it.
    terms.resize(first_term);
    for (const auto& [var, value] : before) lets[var] = value;
    return;
  }
  const Node* sum = held.back();
  for (std::size_t k = first_term; k < terms.size(); ++k) {
    VMC_ASSERT(terms[k].latent.empty(), "a latent's term inside a loop after sema");
    sum = ir::add(sum, align(terms[k].value, plates, {}).node);
  }
  terms.resize(first_term);
  std::vector<const Node*> next, start;
  for (std::size_t k = 0; k < vars.size(); ++k) {
    next.push_back(align(lets.at(vars[k]), plates, initial[k].copy_shape()).node);
    start.push_back(initial[k].node);
  }
  next.push_back(sum);
  start.push_back(ir::constant(g, 0, batch_shape));

  // The body function, its vjp, and the loop.
  std::vector<const Node*> invariants;
  body->body.outputs.push_back({"carry", extract(pack(next, batch, slots), placeholders, *body, invariants)});
  diff::derive_vjp(*body);
  const Node* state = ir::loop(begin, end, pack(start, batch, slots), invariants, body);
  for (std::size_t k = 0; k < vars.size(); ++k) {
    lets[vars[k]] = Value{unpack(state, batch, slots[k]), before[vars[k]].plates, before[vars[k]].row};
  }
  terms.push_back({Value{unpack(state, batch, slots.back()), plates}, "", false});
}

}  // namespace vmc::lower

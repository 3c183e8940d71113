#include "ir/printer.hpp"

#include "ir/loop.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <unordered_map>

namespace vmc::ir {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // The shortest form that reads back exactly.
  for (int p = 1; p <= 17; ++p) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", p, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

std::string attributes(const Node& n) {
  const Attrs& a = n.attrs();
  std::string s;
  // Every reduction has its axis (none printed: all of them).
  if (info(n.op()).category == Category::Reduce) return a.axis < 0 ? "" : " axis=" + std::to_string(a.axis);
  switch (n.op()) {
    case Op::Const: return " " + number(a.value);
    case Op::Input: return std::string(" ") + to_string(a.input) + " \"" + a.name + "\"" +
                           (n.dtype() == DType::Int ? " int" : "");
    case Op::Broadcast: {
      s = " new_axes=";
      for (int d = 0; d < 32; ++d) {
        if (!(a.axes >> d & 1u)) continue;
        if (s.back() != '=') s += ',';
        s += std::to_string(d);
      }
      return s;
    }
    case Op::Slice:
      return " axis=" + std::to_string(a.axis) + " [" + std::to_string(a.begin) + ":" +
             std::to_string(a.end) + "]";
    case Op::Concat:
    case Op::Take:
    case Op::Iota: return " axis=" + std::to_string(a.axis);
    case Op::MatMul:
      if (a.transpose_a) s += " transpose_a";
      if (a.transpose_b) s += " transpose_b";
      return s;
    case Op::TriSolve: return a.transpose_a ? " transpose" : "";
    case Op::Loop: return " " + a.loop->name;
    case Op::LoopGrad: return " " + a.loop->name + " operand=" + std::to_string(a.axis);
    default: return "";  // no attributes
  }
}

}  // namespace

std::string to_string(const Shape& shape, const Graph& graph) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i].is_constant() ? std::to_string(shape[i].size) : graph.symbol_name(shape[i].symbol);
  }
  return s + "]";
}

void print(std::ostream& out, const Function& f) {
  std::unordered_map<const Node*, std::size_t> names;
  for (const Node* n : f.schedule()) {
    std::size_t id = names.size();
    names[n] = id;
    out << '%' << id << " = " << info(n->op()).spelling;
    for (std::size_t i = 0; i < n->args().size(); ++i) {
      out << (i ? ", %" : " %") << names.at(n->arg(i));
    }
    out << attributes(*n) << " : " << to_string(n->shape(), n->graph()) << '\n';
  }
  for (const Output& o : f.outputs) out << o.name << " = %" << names.at(o.node) << '\n';
  // Each loop's body, after the function that runs it (its vjp is derived from it).
  std::vector<const LoopBody*> loops;
  for (const Node* n : f.schedule()) {
    if (n->op() != Op::Loop) continue;
    const LoopBody* body = n->attrs().loop.get();
    if (std::find(loops.begin(), loops.end(), body) == loops.end()) loops.push_back(body);
  }
  for (const LoopBody* body : loops) {
    out << '\n' << body->name << " body (" << body->invariants.size() << " invariants):\n";
    print(out, body->body);
  }
}

}  // namespace vmc::ir

#include "sema/builtins.hpp"

#include <algorithm>

namespace vmc::sema {
namespace {

// The language has a shape rule for these builtins only (check_expr.cpp, lower/expr.cpp).
constexpr bool callable(ir::Op op) {
  ir::Category c = ir::info(op).category;
  return c == ir::Category::Unary || c == ir::Category::Binary || c == ir::Category::Reduce ||
         op == ir::Op::MatMul;
}
constexpr bool every_builtin_callable() {
  for (int k = 0; k < ir::kOpCount; ++k) {
    auto op = static_cast<ir::Op>(k);
    if (ir::info(op).builtin[0] != '\0' && !callable(op)) return false;
  }
  return true;
}
static_assert(every_builtin_callable(), "ops.def names a builtin whose category has no shape rule");

std::vector<Builtin> make_table() {
  std::vector<Builtin> table;
  for (int k = 0; k < ir::kOpCount; ++k) {
    auto op = static_cast<ir::Op>(k);
    std::string_view name = ir::info(op).builtin;
    if (name.empty()) continue;
    auto it = std::find_if(table.begin(), table.end(), [&](const Builtin& b) { return b.name == name; });
    if (it == table.end()) it = table.insert(table.end(), Builtin{name, {}});
    it->ops.push_back(op);
    std::sort(it->ops.begin(), it->ops.end(),
              [](ir::Op a, ir::Op b) { return ir::info(a).arity < ir::info(b).arity; });
  }
  return table;
}

}  // namespace

int Builtin::min_arity() const { return ir::info(ops.front()).arity; }
int Builtin::max_arity() const { return ir::info(ops.back()).arity; }

std::optional<ir::Op> Builtin::op(int arity) const {
  for (ir::Op o : ops) {
    if (ir::info(o).arity == arity) return o;
  }
  return std::nullopt;
}

std::string Builtin::arity_text() const {
  std::string n = std::to_string(min_arity());
  if (max_arity() != min_arity()) n += " or " + std::to_string(max_arity());
  return n + (max_arity() == 1 ? " argument" : " arguments");
}

const std::vector<Builtin>& builtins() {
  static const std::vector<Builtin> table = make_table();
  return table;
}

const Builtin* find_builtin(std::string_view name) {
  for (const Builtin& b : builtins()) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

std::vector<std::string> builtin_names() {
  std::vector<std::string> names;
  for (const Builtin& b : builtins()) names.emplace_back(b.name);
  return names;
}

std::string builtins_reference() {
  std::string out =
      "Builtin functions (LANGUAGE.md \"Expressions\"), each an op of the IR (compiler/ir/ops.def).\n"
      "Elementwise functions keep their argument's shape; two arguments must have equal shapes or\n"
      "one be a scalar. Reductions of a value give a scalar. int arguments give an int result where\n"
      "the table says so.\n\n"
      "| function | arguments | what it computes | int in, int out |\n"
      "|---|---|---|---|\n";
  for (const Builtin& b : builtins()) {
    std::string what, ints;
    for (ir::Op op : b.ops) {
      const ir::OpInfo& i = ir::info(op);
      std::string one;
      switch (i.category) {
        case ir::Category::Unary: one = "elementwise"; break;
        case ir::Category::Binary: one = "elementwise, of two values"; break;
        case ir::Category::Reduce: one = "the " + std::string(b.name) + " of every element"; break;
        case ir::Category::Linalg: one = "u' v of two vectors of equal extent"; break;
        case ir::Category::Leaf:
        case ir::Category::Select:
        case ir::Category::Structure: break;
      }
      std::string args = i.arity == 1 ? "(x)" : "(a, b)";
      what += (what.empty() ? "" : "; ") + std::string(b.name) + args + ": " + one;
      if (i.keeps_int) ints = "yes";
    }
    out += "| " + std::string(b.name) + " | " + b.arity_text() + " | " + what + " | " +
           (ints.empty() ? "no" : ints) + " |\n";
  }
  return out;
}

}  // namespace vmc::sema

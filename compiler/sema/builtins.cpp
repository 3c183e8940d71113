#include "sema/builtins.hpp"

#include <algorithm>
#include <cmath>

#include "ir/builder.hpp"
#include "ir/special.hpp"

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
  // Stan's names for ops of ours.
  const std::pair<std::string_view, ir::Op> aliases[] = {
      {"inv_logit", ir::Op::Sigmoid}, {"log_inv_logit", ir::Op::LogSigmoid}, {"fabs", ir::Op::Abs},
      {"fmin", ir::Op::Min},          {"fmax", ir::Op::Max},                 {"dot_product", ir::Op::MatMul},
  };
  for (const auto& [name, op] : aliases) {
    Builtin b{name, {op}};
    b.alias_of = ir::info(op).builtin;
    table.push_back(b);
  }
  // Compositions, each the stable form of its formula.
  using N = const ir::Node*;
  using Args = std::vector<N>;
  using Values = std::vector<double>;
  auto composite = [&](std::string_view name, BuiltinRule rule, int arity, std::string_view formula,
                       N (*expand)(const Args&), double (*value)(const Values&)) {
    Builtin b{name, {}, rule};
    b.arity = arity;
    b.formula = formula;
    b.expand = expand;
    b.value = value;
    table.push_back(b);
  };
  composite("log1m", BuiltinRule::Elementwise, 1, "log(1 - x), as log1p(-x)",
            [](const Args& a) -> N { return ir::unary(ir::Op::Log1p, ir::neg(a[0])); },
            [](const Values& v) { return std::log1p(-v[0]); });
  composite("log1m_inv_logit", BuiltinRule::Elementwise, 1, "log(1 - inv_logit(x)), as log_sigmoid(-x)",
            [](const Args& a) -> N { return ir::unary(ir::Op::LogSigmoid, ir::neg(a[0])); },
            [](const Values& v) { return ir::special::log_sigmoid(-v[0]); });
  composite("logit", BuiltinRule::Elementwise, 1, "log(p / (1 - p)), as log(p) - log1p(-p)",
            [](const Args& a) -> N { return ir::sub(ir::log(a[0]), ir::unary(ir::Op::Log1p, ir::neg(a[0]))); },
            [](const Values& v) { return std::log(v[0]) - std::log1p(-v[0]); });
  composite("log_mix", BuiltinRule::Elementwise, 3,
            "log(theta e^a + (1 - theta) e^b) of a mixing weight and two log densities, as "
            "log_sum_exp(log(theta) + a, log1p(-theta) + b)",
            [](const Args& a) -> N {
              return ir::binary(ir::Op::LogAddExp, ir::add(ir::log(a[0]), a[1]),
                                ir::add(ir::unary(ir::Op::Log1p, ir::neg(a[0])), a[2]));
            },
            [](const Values& v) {
              double x = std::log(v[0]) + v[1], y = std::log1p(-v[0]) + v[2], m = std::max(x, y);
              return m == -INFINITY ? m : m + std::log(std::exp(x - m) + std::exp(y - m));
            });
  composite("log_softmax", BuiltinRule::AlongVector, 1, "x - log_sum_exp(x) of a vector",
            [](const Args& a) -> N { return ir::sub(a[0], a[1]); }, nullptr);
  composite("softmax", BuiltinRule::AlongVector, 1, "exp(x - log_sum_exp(x)) of a vector: positive, summing to 1",
            [](const Args& a) -> N { return ir::exp(ir::sub(a[0], a[1])); }, nullptr);
  auto structure = [&](std::string_view name, StructureBuiltin which, int arity, std::string_view formula) {
    Builtin b{name, {}, BuiltinRule::Structure};
    b.structure = which;
    b.arity = arity;
    b.formula = formula;
    table.push_back(b);
  };
  structure("rep_vector", StructureBuiltin::RepVector, 2, "rep_vector(x, n): the vector of n copies of the scalar x; n a constant int (a dim or an expression of dims)");
  structure("append_row", StructureBuiltin::AppendRow, 2, "append_row(a, b): the vector a then b (each a vector or a scalar)");
  structure("diag_matrix", StructureBuiltin::DiagMatrix, 1, "diag_matrix(v): the square matrix with v on its diagonal, zeros elsewhere");
  structure("rows_dot_product", StructureBuiltin::RowsDotProduct, 2, "rows_dot_product(A, B): the vector of each row's A[i]' B[i], of two matrices of one shape");
  structure("cumulative_sum", StructureBuiltin::CumulativeSum, 1, "cumulative_sum(v): the vector of v[0] + ... + v[k] for each k");
  structure("dot_self", StructureBuiltin::DotSelf, 1, "dot_self(v): v' v, the sum of the squares of a vector's elements (per copy in a plate)");
  structure("cholesky_decompose", StructureBuiltin::CholeskyDecompose, 1,
            "cholesky_decompose(A): the lower-triangular L with L L' = A of a symmetric positive-definite matrix, "
            "read from A's lower triangle; NaN when A is not positive definite (the step is refused)");
  structure("gp_exp_quad_cov", StructureBuiltin::GpExpQuadCov, 3,
            "gp_exp_quad_cov(x, alpha, rho): the matrix of alpha^2 exp(-|x_i - x_j|^2 / (2 rho^2)), the "
            "exponentiated-quadratic covariance of the points x (a vector: one point per element; a matrix: one per "
            "row), alpha and rho scalars");
  structure("cov_exp_quad", StructureBuiltin::GpExpQuadCov, 3, "Stan's older name for `gp_exp_quad_cov`");
  return table;
}

}  // namespace

int Builtin::min_arity() const { return rule == BuiltinRule::Op ? ir::info(ops.front()).arity : arity; }
int Builtin::max_arity() const { return rule == BuiltinRule::Op ? ir::info(ops.back()).arity : arity; }

std::optional<ir::Op> Builtin::op(int n) const {
  for (ir::Op o : ops) {
    if (ir::info(o).arity == n) return o;
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
    if (b.rule == BuiltinRule::Structure) {
      what = std::string(b.formula);
    } else if (b.rule != BuiltinRule::Op) {
      what = std::string(b.formula) + (b.rule == BuiltinRule::AlongVector ? " (per copy in a plate)" : ", elementwise");
    } else if (!b.alias_of.empty()) {
      what = "Stan's name for `" + std::string(b.alias_of) + "`";
    }
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

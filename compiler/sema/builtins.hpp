// The builtin functions (LANGUAGE.md "Expressions"): one table entry each, giving the arity,
// the shape rule and, for scalar constant folding (`init log(2)`), the scalar function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vmc::sema {

enum class BuiltinRule {
  Elementwise,          // f(x): x's shape, real
  Reduce,               // f(x): a scalar
  ReduceOrElementwise,  // f(x) reduces to a scalar; f(x, y) elementwise (equal shapes or a scalar)
  Dot,                  // f(u, v): two vectors of equal extent, a scalar
};

struct Builtin {
  std::string_view name;
  int min_arity;
  int max_arity;
  BuiltinRule rule;
  bool keeps_int;  // int arguments give an int result (sum, min, max)
  double (*scalar)(double) = nullptr;           // f on one scalar, for constant folding
  double (*scalar2)(double, double) = nullptr;  // f on two scalars, for constant folding

  // "1 argument", "1 or 2 arguments", "2 arguments"
  std::string arity_text() const;
};

const std::vector<Builtin>& builtins();
// The entry named `name`, or nullptr.
const Builtin* find_builtin(std::string_view name);
std::vector<std::string> builtin_names();

}  // namespace vmc::sema

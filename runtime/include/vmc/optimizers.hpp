// The optimizers, one class each (src/optimizers.hpp): their entries are what the CLI's
// --optimizer, the TOML config, the host API and `vmc help optimizers` read, and what a trainer
// is given (TrainerOptions::optimizer). An unknown name is an error everywhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vmc::runtime {

struct Optimizer {
  std::string_view name;     // --optimizer NAME
  std::string_view summary;  // its update, for `vmc help optimizers`
  double default_lr;         // its step size when --lr is not given (minibatch fits)
  int slots;                 // state arrays per param (moments, accumulated squares)
  // Its float32 update can run in the epilogue of the weight gradients' products (the gradient
  // never stored): TrainerOptions::fused_update.
  bool fuses_into_products;
};

// Every optimizer, in a fixed order: a checkpoint records its optimizer by its position.
const std::vector<Optimizer>& optimizers();
const Optimizer* find_optimizer(std::string_view name);
// The one named `name`; throws std::invalid_argument naming the optimizers otherwise.
const Optimizer& optimizer_named(std::string_view name);
const Optimizer& default_optimizer();
std::vector<std::string> optimizer_names();
// The names, "a, b, ... or z" with `last` between the last two.
std::string optimizer_list(const std::string& last = " or ");
// The table `vmc help optimizers` prints.
std::string optimizers_reference();

}  // namespace vmc::runtime

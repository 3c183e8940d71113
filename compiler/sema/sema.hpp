// Semantic analysis: resolves the names of a parsed program, infers and checks dims, types,
// shapes, roles and supports (LANGUAGE.md), and builds the typed Model later stages consume.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parse/ast.hpp"
#include "sema/model.hpp"
#include "support/diagnostics.hpp"

namespace vmc::sema {

struct Options {
  std::map<std::string, std::int64_t> set_dims;                  // --set NAME=V
  std::map<std::string, std::vector<std::int64_t>> data_shapes;  // shapes of the data given, by name
  std::optional<std::string> auto_guide;  // --guide NAME (auto_guide.hpp), for models without a guide
  // The model is checked to be lowered: what lowering needs then is a user error here (every
  // extent it must know at compile time known, constant indices and slices on known extents).
  // `vmc check` leaves it off, so a model checks without data.
  bool lowering = false;
  // The estimator's name when it is importance weighted (its bound needs every latent local to
  // one subsampled plate, or every latent global with no subsampling).
  std::optional<std::string> importance_weighted;
};

// Resolves and checks a parsed program. Returns the typed model, or nullptr when errors were
// reported to `diags`. The model points into `program`, which must outlive it.
std::unique_ptr<Model> analyze(const ast::Program& program, const Options& options,
                               Diagnostics& diags);

// The line `vmc check` prints on success, e.g.
// "ok: 12 params (1202*D + 24840 values), 1 latents (1 local, 0 global), 1 data, 4 dims; model gaussian_vae"
std::string summary_line(const Model& model);

}  // namespace vmc::sema

// The typed, resolved model: what semantic analysis hands to lowering. Plain data that points
// into the ast::Program it was built from, which must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "parse/ast.hpp"
#include "dist/distribution.hpp"
#include "sema/auto_guide.hpp"
#include "sema/types.hpp"

namespace vmc::sema {

// The registry's entries, as sema records them (dist/distribution.hpp).
using dist::ArgKind;
using dist::Distribution;
using dist::Reparam;
using dist::ShapeRule;
using dist::Support;

// Where a dim's value came from.
enum class DimSource {
  Default,  // `J = 20;`
  Set,      // --set J=2
  Data,     // an extent of a data array given in Options::data_shapes
  Unknown,  // nothing gave it: it stays a symbol (fine for `vmc check`)
};

struct Dim {
  std::string name;
  std::optional<std::int64_t> value;
  DimSource source = DimSource::Unknown;
  const ast::DimDecl* decl = nullptr;
};

enum class Role { Data, Param, Latent };
const char* to_string(Role role);  // "data", "param", "latent"

// How a param gets its starting value.
struct ParamInit {
  enum class Kind {
    Default,       // no `init`: normal(0, 0.01) in unconstrained space
    Constant,      // `init 0.5`: every element, on the support
    Distribution,  // `init normal(0, 0.1)`: drawn in unconstrained space
  };
  Kind kind = Kind::Default;
  double value = 0;                    // Constant
  const Distribution* dist = nullptr;  // Default and Distribution
  std::vector<double> args;            // Default and Distribution: the constant arguments
};

struct Variable {
  std::string name;
  Role role = Role::Data;
  Type type;
  const ast::VarDecl* decl = nullptr;
  ParamInit init;  // params only

  // Latents only. A local latent is drawn per datapoint of a subsampled plate over `plate_dim`.
  bool local = false;
  std::string plate_dim;
  const Distribution* prior = nullptr;         // its `~` in the model block
  bool prior_on_elements = false;  // latents: its prior is '~' statements on its elements
  const Distribution* guide_family = nullptr;  // its `~` in the guide, or the automatic guide's
  bool closed_form_kl = false;                 // (guide_family, prior) is in the KL table
};

// One `~` statement.
struct SampleSite {
  const ast::Sample* stmt = nullptr;
  ast::BlockKind block = ast::BlockKind::Model;
  const Distribution* dist = nullptr;
  Role role = Role::Data;
  std::string variable;  // "" for a '~' on an expression of data that is no variable (log(y))
  // The variable itself, indexed by plate indices only (`x[i] ~`), as a latent's or param's
  // always is; false for a '~' on any other expression of data (`y[5:] ~`, `y[t] ~`).
  bool whole = true;
};

// What a name used in an expression refers to (sema's resolution, which lowering reads).
enum class NameKind { Pi, Dim, Data, Param, Latent, Let, PlateIndex, FnParam, LoopIndex, Generated };
struct NameRef {
  NameKind kind = NameKind::Pi;
  const ast::Let* let = nullptr;         // Let
  const ast::Plate* plate = nullptr;     // PlateIndex
  const Variable* variable = nullptr;    // Data, Param, Latent
  const ast::For* loop = nullptr;        // LoopIndex
  const Dim* dim = nullptr;              // Dim
  std::size_t fn_param = 0;              // FnParam: its position in the fn's parameters
  const ast::Sample* draw = nullptr;     // Generated: the '~' that declares it
};

// A quantity of the generated block, computed per posterior draw: a top-level `let`/`var` (its
// last value) or a `NAME ~ dist(...)` draw.
struct GeneratedQuantity {
  std::string name;
  Type type;
  const ast::Let* let = nullptr;     // or
  const ast::Sample* draw = nullptr;
  Span span;                         // its name where it is declared
};

struct Model {
  std::string name;
  std::vector<Dim> dims;
  std::vector<Variable> data;
  std::vector<Variable> params;
  std::vector<Variable> latents;
  const ast::Block* model_block = nullptr;
  const ast::Block* guide_block = nullptr;  // null when the guide is automatic
  const ast::Block* generated_block = nullptr;  // null when there is none
  std::vector<GeneratedQuantity> generated;     // its outputs, in source order
  const AutoGuide* auto_guide = nullptr;    // the --guide entry (auto_guide.hpp), if any
  int auto_guide_rank = 0;                  // its rank (lowrank:R), 0 for one that takes none
  std::map<std::string, const ast::FnDef*> functions;
  // The type of every checked expression outside fn bodies; a call to a fn has its result type.
  std::unordered_map<const ast::Expr*, Type> expr_types;
  // The length of each rep_vector call, by the call: a constant int expression of dims, the same
  // at every call of a fn whose body holds it (expr_types has no entries in fn bodies).
  std::unordered_map<const ast::Expr*, Extent> rep_lengths;
  // What every name in an expression refers to, fn bodies included (a name in a fn body refers to
  // the same thing at every call: a parameter of the fn, or a global).
  std::unordered_map<const ast::Expr*, NameRef> names;
  std::vector<SampleSite> samples;  // the model block's in source order, then the guide's
  // The subscripts that are an int expression of loop indices (`y[t - 1]`): one element, read
  // at run time (clamped to the extent where sema could not bound the expression).
  std::unordered_set<const ast::Expr*> dynamic_indices;
  // The var each assignment gives a next value (`s = ...;` → `var s = ...;`).
  std::unordered_map<const ast::Assign*, const ast::Let*> assigned;

  const Dim* find_dim(const std::string& name) const;
  const Variable* find_variable(const std::string& name) const;
  // The type of a checked expression, or nullptr (inside fn bodies, or not checked).
  const Type* type_of(const ast::Expr& e) const;
  const SampleSite* site_of(const ast::Sample& s) const;
  // What the name expression `e` refers to; every name of a checked model has its entry.
  const NameRef& name_of(const ast::Expr& e) const;
  // Values of the dims that have one.
  std::map<std::string, std::int64_t> dim_values() const;
  std::size_t local_latent_count() const;
};

}  // namespace vmc::sema

// Internal to compiler/sema: the state the checking passes share, and the passes themselves.
// analyze() (sema.cpp) runs them in order:
//   declare names -> resolve dims -> check declarations -> check fns -> check the model and
//   guide blocks -> check latents (coverage, local/global, guide families, KL)
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "parse/ast.hpp"
#include "sema/model.hpp"
#include "sema/sema.hpp"
#include "support/diagnostics.hpp"
#include "support/suggest.hpp"  // join, did_you_mean

namespace vmc::sema {

struct Note {
  Span span;
  std::string text;
};

// Reports user errors. An error identical to one already reported (same span and message) is
// dropped: a fn body is checked once per distinct call, and its argument-independent errors
// must not repeat. While a fn body is checked for a call, errors get an "in call to" note.
class Reporter {
 public:
  explicit Reporter(Diagnostics& diags) : diags_(diags) {}

  void error(Span at, const std::string& message, const std::vector<Note>& notes = {});
  // An error with no source position (a command-line option): `where: error: message`.
  void error(const std::string& where, const std::string& message);
  // A warning, once per span and message: the model runs, but not as its author may think.
  void warning(Span at, const std::string& message);
  // A note of what the compiler chose where the model is silent (a flat prior), once.
  void note(Span at, const std::string& message);
  void enter_call(const std::string& fn, Span call) { calls_.push_back({call, fn}); }
  void leave_call() { calls_.pop_back(); }
  std::size_t errors() const { return errors_; }

 private:
  Diagnostics& diags_;
  std::set<std::tuple<const SourceFile*, std::uint32_t, std::uint32_t, std::string>> seen_;
  std::vector<std::pair<Span, std::string>> calls_;
  std::size_t errors_ = 0;
};

enum class SymbolKind { Dim, Data, Param, Latent, Fn, Let, PlateIndex, FnParam, LoopIndex, Generated };
// "dim", "data", "param", "latent", "fn", "let-bound value", "plate index", "parameter"
const char* describe(SymbolKind kind);
// "data", "a param", "a let-bound value", ...
std::string with_article(SymbolKind kind);

struct Symbol {
  SymbolKind kind = SymbolKind::Dim;
  Span span;                   // its declaration
  Type type = Type::error();   // the value's type; a dim's is int
  const ast::Let* let = nullptr;      // Let
  const ast::Plate* plate = nullptr;  // PlateIndex
  const ast::For* loop = nullptr;     // LoopIndex
  std::size_t depth = 0;              // PlateIndex: its plate's nesting depth, outermost 0
  const ast::FnDef* fn = nullptr;     // Fn
  const ast::DimDecl* dim = nullptr;  // Dim
  std::size_t fn_param = 0;           // FnParam: its position in the fn's parameters
  const ast::Sample* draw = nullptr;  // Generated: the generated block's '~' that declares it
};

// One statement list (a block or a plate body), or a fn's parameters.
struct Frame {
  std::map<std::string, Symbol> names;
  std::map<std::string, Span> later_lets;  // lets of this list not reached yet
};

// The names visible where an expression is checked: nested frames over the globals.
struct Scope {
  std::vector<Frame> frames;
  const ast::FnDef* fn = nullptr;  // in a fn body: no lets or latents in reach (no closures)
  ast::BlockKind block = ast::BlockKind::Model;
  std::vector<const ast::Plate*> plates;  // enclosing plates, outermost first
  std::vector<const ast::For*> loops;     // enclosing for loops, outermost first
  std::set<std::string> sampled;          // the guide's latents with a '~' so far
};

// Where a latent is sampled, per block.
struct LatentSite {
  const ast::Sample* stmt = nullptr;
  const Distribution* dist = nullptr;
  std::string plate_dim;  // the subsampled plate indexing it, or "" when global
  bool classified = true;  // false when a plate around it has no valid dim
  std::vector<const ast::Plate*> plates;  // the plates around its '~', outermost first
};

// A read of a latent in an expression; a local latent may be read only inside its plate.
struct LatentRead {
  std::string latent;
  Span span;
  const ast::Plate* leading_plate = nullptr;  // the plate whose index is the first subscript
  std::vector<const ast::Plate*> leading;     // the plates of its leading plate-index subscripts
};

struct Analyzer {
  Analyzer(const ast::Program& p, const Options& o, Diagnostics& d)
      : program(p), options(o), report(d), model(std::make_unique<Model>()) {}

  const ast::Program& program;
  const Options& options;
  Reporter report;
  std::unique_ptr<Model> model;

  std::map<std::string, Symbol> globals;
  std::map<ast::BlockKind, const ast::Block*> blocks;  // the first block of each kind
  std::map<std::string, std::int64_t> dim_values;      // the dims known so far

  // Fns whose calls have no type: recursive ones, or with a parameter declared twice. Their
  // definitions were reported; their calls are not checked further.
  std::set<std::string> untyped_fns;
  std::set<std::string> fns_in_progress;
  std::map<std::string, std::vector<std::pair<std::vector<Type>, Type>>> fn_results;

  // Data read through a subsampled plate's index (the minibatch's rows) and whole: lowering binds
  // an array one way or the other, so a use of the other way is an error when the model is to be
  // lowered (use_data).
  struct DataUses {
    bool batched = false, whole = false, reported = false;
  };
  std::map<std::string, DataUses> data_uses;
  void use_data(const std::string& name, Span at, bool batched);

  std::map<std::string, LatentSite> model_sites;
  // The model's '~' statements on elements of a global latent (`z[t] ~ normal(z[t - 1], s)`):
  // its prior given piece by piece, as terms.
  std::map<std::string, std::vector<const ast::Sample*>> partial_priors;
  std::map<std::string, LatentSite> guide_sites;
  std::vector<LatentRead> latent_reads;

  // A dim as an extent: its value when known, else its symbol.
  Extent dim_extent(const std::string& dim) const;
  const Symbol* global(const std::string& name) const;
};

// 'text', for messages.
std::string quote(std::string_view text);
// The source text a span covers, for quoting expressions in messages.
std::string source_text(Span span);
// "first", "second", ... for messages about the k-th (0-based) extent or argument.
std::string ordinal(std::size_t k);
// "1 argument", "3 arguments"
std::string count(std::size_t n, const std::string& singular, const std::string& plural);

// Looks a name up in the scope's frames, innermost first, then in the globals.
const Symbol* lookup(const Analyzer& a, const Scope* scope, const std::string& name);
// Every name a use could have meant, for "did you mean".
std::vector<std::string> visible_names(const Analyzer& a, const Scope* scope);

// --- the passes, in order ---
void resolve_dims(Analyzer& a);         // dims.cpp
void check_declarations(Analyzer& a);   // check_decls.cpp
// Latents' bounds that are expressions (`upper=1 - alpha1`), once every declaration is typed.
void check_bound_expressions(Analyzer& a);  // check_decls.cpp
void check_functions(Analyzer& a);      // functions.cpp
void check_block(Analyzer& a, const ast::Block& block);  // check_stmt.cpp
void check_latents(Analyzer& a);        // latents.cpp
// The generated block, once the latents are known to be local or global.
void check_generated(Analyzer& a, const ast::Block& block);  // check_stmt.cpp
void check_lowering(Analyzer& a);       // lowering.cpp

// --- used by the passes ---
void check_sample(Analyzer& a, Scope& scope, const ast::Sample& s);  // check_sample.cpp
// `NAME ~ dist(ARGS);` in the generated block: a new quantity drawn from dist, of the shape its
// arguments give; returns its type (an error type when it is wrong, reported).
Type check_generated_draw(Analyzer& a, Scope& scope, const ast::Sample& s);  // check_sample.cpp
// `normal_lpdf(y | mu, sigma)` (and _lpmf, _lcdf, _lccdf) with its arguments' types: a per-copy
// real scalar, or an error type after reporting why (check_sample.cpp).
Type check_density_call(Analyzer& a, Scope& scope, const ast::Call& c, const dist::DensityFunction& f,
                        const std::vector<Type>& args);
// The support checks of a latent's `~` (latents.cpp). `bounds` holds the constant arguments
// of an interval distribution (uniform), when they are known.
void check_prior_support(Analyzer& a, const ast::Sample& s, const Distribution& prior,
                         const std::string& latent, std::optional<std::pair<double, double>> bounds);
void check_guide_family(Analyzer& a, const ast::Sample& s, const Distribution& family,
                        const std::string& latent, std::optional<std::pair<double, double>> bounds);

}  // namespace vmc::sema

// Gives each dim its value: --set wins over a default; a dim declared without a value is
// inferred from the extents of the data given (Options::data_shapes). Such a dim must be a data
// extent, but without the data (`vmc check`) it stays a symbol.
#include <optional>
#include <set>

#include "sema/analyzer.hpp"
#include "sema/const_eval.hpp"
#include "support/suggest.hpp"

namespace vmc::sema {
namespace {

// A value of an inferred dim, and the data extent it came from.
struct Inferred {
  std::int64_t value;
  std::string data;
  Span decl;
};

bool declared_here(const Analyzer& a, const ast::Ident& name, SymbolKind kind) {
  const Symbol* s = a.global(name.name);
  return s && s->kind == kind && s->span.begin == name.span.begin && s->span.file == name.span.file;
}

// The dims in declaration order.
std::vector<std::string> dim_names(const Analyzer& a) {
  std::vector<std::string> names;
  for (const ast::Block& b : a.program.blocks) {
    for (const ast::DimDecl& d : b.dims) {
      if (declared_here(a, d.name, SymbolKind::Dim)) names.push_back(d.name.name);
    }
  }
  return names;
}

// "; did you mean 'J'?", or the list of dims when it is short: one-letter names are all close.
std::string dim_hint(const Analyzer& a, const std::string& name) {
  std::vector<std::string> dims = dim_names(a);
  if (dims.empty() || dims.size() > 8) return did_you_mean(name, dims);
  return (dims.size() == 1 ? "; the only dim is " : "; the dims are ") + join(dims);
}

// The dim a data declaration's extent names by itself, when it has no default.
const ast::DimDecl* inferred_dim(const Analyzer& a, const ast::Expr& extent) {
  const auto* n = extent.as<ast::Name>();
  const Symbol* s = n ? a.global(n->name) : nullptr;
  return s && s->dim && !s->dim->value ? s->dim : nullptr;
}

// Whether some data declaration has `dim` as an extent of its own.
bool data_gives(const Analyzer& a, const ast::DimDecl& dim) {
  for (const ast::Block& b : a.program.blocks) {
    if (b.kind != ast::BlockKind::Data) continue;
    for (const ast::VarDecl& v : b.vars) {
      for (const ast::ExprPtr& e : v.type.shape) {
        if (inferred_dim(a, *e) == &dim) return true;
      }
    }
  }
  return false;
}

std::map<std::string, std::int64_t> check_set_dims(Analyzer& a) {
  std::map<std::string, std::int64_t> set;
  for (const auto& [name, value] : a.options.set_dims) {
    const Symbol* s = a.global(name);
    if (!s || s->kind != SymbolKind::Dim) {
      a.report.error(std::string("--set"), "unknown dim '" + name + "'" + dim_hint(a, name));
    } else if (value < 1) {
      a.report.error(std::string("--set"), "dim '" + name + "' must be positive, but --set " +
                                               name + "=" + std::to_string(value) + " is not");
    } else {
      set[name] = value;
    }
  }
  return set;
}

// The dims declared without a value, as the extents of the data given show them.
std::map<std::string, Inferred> infer_from_data(Analyzer& a,
                                                const std::map<std::string, std::int64_t>& set) {
  std::map<std::string, Inferred> inferred;
  for (const ast::Block& b : a.program.blocks) {
    for (const ast::VarDecl& v : b.vars) {
      if (b.kind != ast::BlockKind::Data || !declared_here(a, v.name, SymbolKind::Data)) continue;
      auto given = a.options.data_shapes.find(v.name.name);
      // A rank mismatch is reported with the declaration's other checks.
      if (given == a.options.data_shapes.end() || given->second.size() != v.type.shape.size())
        continue;
      for (std::size_t k = 0; k < v.type.shape.size(); ++k) {
        // Only a dim without a default is inferred; other extents are checked against the data.
        const ast::DimDecl* dim = inferred_dim(a, *v.type.shape[k]);
        if (!dim) continue;
        const ast::Name* n = v.type.shape[k]->as<ast::Name>();
        std::int64_t value = given->second[k];
        std::string gives = "the data given for '" + v.name.name + "' has " + n->name + " = " +
                            std::to_string(value);
        if (auto it = set.find(n->name); it != set.end()) {
          if (it->second != value)
            a.report.error(v.name.span, gives + ", but --set " + n->name + "=" +
                                            std::to_string(it->second));
          continue;
        }
        auto [it, first] = inferred.emplace(n->name, Inferred{value, v.name.name, v.name.span});
        if (!first && it->second.value != value) {
          a.report.error(v.name.span,
                         gives + ", but the data given for '" + it->second.data + "' has " +
                             n->name + " = " + std::to_string(it->second.value),
                         {{it->second.decl, "'" + it->second.data + "' is declared here"}});
        }
      }
    }
  }
  return inferred;
}

// Evaluates `J = EXPR;`; defaults may use the dims before them that have values.
std::optional<std::int64_t> default_value(Analyzer& a, const ast::DimDecl& d) {
  const std::string what = "the default of dim '" + d.name.name + "'";
  std::optional<Extent> e = eval_extent(a, nullptr, *d.value, &a.report, what);
  if (!e) return std::nullopt;
  std::optional<std::int64_t> v = e->constant_value();
  if (!v) {
    std::set<std::string> unknown;
    for (const auto& [monomial, coefficient] : e->terms()) unknown.insert(monomial.begin(), monomial.end());
    a.report.error(d.value->span, what + " must be a constant, but it depends on " +
                                      join({unknown.begin(), unknown.end()}) +
                                      (unknown.size() == 1 ? ", which has" : ", which have") +
                                      " no value here");
    return std::nullopt;
  }
  if (*v < 1) {
    a.report.error(d.value->span, "dim '" + d.name.name + "' must be positive, but its default is " +
                                      std::to_string(*v));
    return std::nullopt;
  }
  return v;
}

}  // namespace

void resolve_dims(Analyzer& a) {
  std::map<std::string, std::int64_t> set = check_set_dims(a);
  std::map<std::string, Inferred> inferred = infer_from_data(a, set);
  for (const ast::Block& b : a.program.blocks) {
    for (const ast::DimDecl& d : b.dims) {
      if (!declared_here(a, d.name, SymbolKind::Dim)) continue;
      Dim dim{d.name.name, std::nullopt, DimSource::Unknown, &d};
      std::optional<std::int64_t> fallback;
      if (d.value) {
        fallback = default_value(a, d);
        if (fallback) dim.source = DimSource::Default;
      } else if (auto it = inferred.find(dim.name); it != inferred.end()) {
        fallback = it->second.value;
        dim.source = DimSource::Data;
      } else if (!set.count(dim.name) && !data_gives(a, d)) {
        a.report.error(d.name.span, "dim '" + dim.name + "' has no value, and no data extent "
                                    "gives it; give it a default, as in '" + dim.name +
                                    " = 2;', or set it with --set " + dim.name + "=2");
      }
      if (auto it = set.find(dim.name); it != set.end()) {
        dim.value = it->second;
        dim.source = DimSource::Set;
      } else {
        dim.value = fallback;
      }
      if (dim.value) a.dim_values[dim.name] = *dim.value;
      a.model->dims.push_back(dim);
    }
  }
}

}  // namespace vmc::sema

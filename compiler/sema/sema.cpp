#include "sema/sema.hpp"

#include <algorithm>

#include "sema/analyzer.hpp"
#include "sema/auto_guide.hpp"
#include "support/suggest.hpp"

namespace vmc::sema {
namespace {

// Somewhere to point at when the whole file is at fault: its first block, or its first fn.
Span file_start(const ast::Program& p) {
  if (!p.blocks.empty()) return p.blocks.front().keyword_span;
  if (!p.functions.empty()) return p.functions.front().name.span;
  return Span{};
}

void check_structure(Analyzer& a) {
  const ast::Program& p = a.program;
  if (p.model_name) {
    a.model->name = p.model_name->name;
  } else {
    Span at = file_start(p);
    const std::string message = "the file does not name its model; begin it with 'model NAME;'";
    if (at.valid()) a.report.error(at, message);
    else a.report.error(std::string("input"), message);
  }
  for (const ast::Ident& extra : p.extra_model_names) {
    a.report.error(extra.span, "a second model name; a file declares one model",
                   {{p.model_name->span, "the model is named here"}});
  }
  for (const ast::Block& b : p.blocks) {
    auto [it, first] = a.blocks.emplace(b.kind, &b);
    if (first) continue;
    std::string kind = ast::spelling(b.kind);
    a.report.error(b.keyword_span, "duplicate '" + kind + "' block",
                   {{it->second->keyword_span, "first '" + kind + "' block is here"}});
  }
  if (!a.blocks.count(ast::BlockKind::Model)) {
    Span at = p.model_name ? p.model_name->span : file_start(p);
    std::string who = p.model_name ? "model '" + a.model->name + "'" : "the file";
    a.report.error(at, who + " has no 'model' block");
  }
  a.model->model_block = a.blocks.count(ast::BlockKind::Model) ? a.blocks[ast::BlockKind::Model] : nullptr;
  a.model->guide_block = a.blocks.count(ast::BlockKind::Guide) ? a.blocks[ast::BlockKind::Guide] : nullptr;
  a.model->generated_block =
      a.blocks.count(ast::BlockKind::Generated) ? a.blocks[ast::BlockKind::Generated] : nullptr;
}

// --guide NAME (auto_guide.hpp): only for a model without a guide block.
void check_auto_guide(Analyzer& a) {
  const std::optional<std::string>& g = a.options.auto_guide;
  if (!g) return;
  int rank = 0;
  std::string problem;
  const AutoGuide* guide = parse_auto_guide(*g, rank, problem);
  if (!guide && !find_auto_guide(g->substr(0, g->find(':')))) {
    std::string hint = did_you_mean(*g, auto_guide_names());
    a.report.error(std::string("--guide"), "unknown automatic guide '" + *g + "'" +
                                               (hint.empty() ? "; use " + auto_guide_list() : hint));
  } else if (!guide) {
    a.report.error(std::string("--guide"), problem);
  } else if (a.model->guide_block) {
    a.report.error(std::string("--guide"), "model '" + a.model->name +
                                               "' has a guide block; --guide " + *g +
                                               " applies only to models without one");
  } else {
    a.model->auto_guide = guide;
    a.model->auto_guide_rank = rank;
  }
}

struct Declaration {
  std::string name;
  Symbol symbol;
};

// Enters every dim, data, param, latent and fn into the globals; a name declared twice is an
// error at the later declaration.
void declare_names(Analyzer& a) {
  std::vector<Declaration> decls;
  for (const ast::Block& b : a.program.blocks) {
    for (const ast::DimDecl& d : b.dims) {
      Symbol s{SymbolKind::Dim, d.name.span, Type::integer()};
      s.dim = &d;
      decls.push_back({d.name.name, s});
    }
    SymbolKind kind = b.kind == ast::BlockKind::Data    ? SymbolKind::Data
                      : b.kind == ast::BlockKind::Param ? SymbolKind::Param
                                                        : SymbolKind::Latent;
    for (const ast::VarDecl& v : b.vars) decls.push_back({v.name.name, Symbol{kind, v.name.span}});
  }
  for (const ast::FnDef& f : a.program.functions) {
    Symbol s{SymbolKind::Fn, f.name.span};
    s.fn = &f;
    decls.push_back({f.name.name, s});
  }
  // "Already declared" points at the later of two declarations in the text.
  std::stable_sort(decls.begin(), decls.end(), [](const Declaration& x, const Declaration& y) {
    return x.symbol.span.begin < y.symbol.span.begin;
  });
  for (Declaration& d : decls) {
    auto [it, first] = a.globals.emplace(d.name, d.symbol);
    if (!first) {
      a.report.error(d.symbol.span, "'" + d.name + "' is already declared",
                     {{it->second.span, "'" + d.name + "' is first declared here, as " +
                                            with_article(it->second.kind)}});
    } else if (d.symbol.fn) {
      a.model->functions[d.name] = d.symbol.fn;
    }
  }
}

}  // namespace

std::unique_ptr<Model> analyze(const ast::Program& program, const Options& options,
                               Diagnostics& diags) {
  Analyzer a(program, options, diags);
  check_structure(a);
  check_auto_guide(a);
  declare_names(a);
  resolve_dims(a);
  check_declarations(a);
  check_functions(a);
  check_bound_expressions(a);
  if (a.model->model_block) check_block(a, *a.model->model_block);
  if (a.model->guide_block) check_block(a, *a.model->guide_block);
  check_latents(a);
  if (a.model->generated_block) check_generated(a, *a.model->generated_block);
  if (a.report.errors() == 0) check_lowering(a);
  if (a.report.errors() > 0) return nullptr;
  return std::move(a.model);
}

}  // namespace vmc::sema

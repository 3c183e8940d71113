// The statements of the model, guide and generated blocks: lets, plates, `target +=`; `~`
// statements are checked in check_sample.cpp.
#include "sema/check_expr.hpp"
#include "support/suggest.hpp"

#include <algorithm>

namespace vmc::sema {
namespace {

class BlockChecker {
 public:
  BlockChecker(Analyzer& a, const ast::Block& block) : a_(a), block_(block) {
    scope_.block = block.kind;
  }

  void run() {
    push_frame(block_.statements);
    for (const ast::StmtPtr& s : block_.statements) statement(*s);
  }

 private:
  // A new statement list: its lets are not visible yet, but a use before one is defined gets
  // a precise message.
  void push_frame(const std::vector<ast::StmtPtr>& body) {
    Frame& f = scope_.frames.emplace_back();
    for (const ast::StmtPtr& s : body) {
      if (const auto* l = s->as<ast::Let>()) f.later_lets.emplace(l->name.name, l->name.span);
    }
  }

  void statement(const ast::Stmt& s) {
    if (block_.kind == ast::BlockKind::Generated) return generated(s);
    if (const auto* l = s.as<ast::Let>()) let(*l);
    else if (const auto* t = s.as<ast::TargetIncrement>()) target(s, *t);
    else if (const auto* p = s.as<ast::Plate>()) plate(*p);
    else if (const auto* as = s.as<ast::Assign>()) assign(*as);
    else if (const auto* f = s.as<ast::For>()) loop(s, *f);
    else check_sample(a_, scope_, *s.as<ast::Sample>());
  }

  // The generated block: lets, vars and loops as elsewhere; `NAME ~ dist(...)` at its top level
  // declares a quantity drawn from dist; no plates (values are whole arrays) and no 'target +='.
  // Its top-level names are its outputs (Model::generated).
  void generated(const ast::Stmt& s) {
    const bool top = scope_.loops.empty();
    if (const auto* p = s.as<ast::Plate>()) {
      a_.report.error(p->index.span, "a plate is not allowed in the generated block: write its statements on "
                                     "whole arrays ('y_rep ~ normal(X * w, sigma);'), or use a for loop");
    } else if (s.as<ast::TargetIncrement>()) {
      a_.report.error(s.span, "'target +=' is not allowed in the generated block; it computes quantities from "
                              "each posterior draw and adds nothing to the model's log density");
    } else if (const auto* smp = s.as<ast::Sample>()) {
      if (!top) {
        a_.report.error(smp->lhs->span, "a '~' in the generated block declares a quantity and must be at the "
                                        "block's top level, not in a loop");
        return;
      }
      Type t = check_generated_draw(a_, scope_, *smp);
      const auto* name = smp->lhs->as<ast::Name>();
      if (!name || lookup(a_, &scope_, name->name)) return;
      Symbol sym{SymbolKind::Generated, smp->lhs->span, t};
      sym.draw = smp;
      scope_.frames.back().names.emplace(name->name, sym);
      if (!t.is_error()) a_.model->generated.push_back({name->name, t, nullptr, smp, smp->lhs->span});
    } else if (const auto* l = s.as<ast::Let>()) {
      bool fresh = !lookup(a_, &scope_, l->name.name);
      let(*l);
      const Symbol* sym = lookup(a_, &scope_, l->name.name);
      if (top && fresh && sym && !sym->type.is_error()) {
        a_.model->generated.push_back({l->name.name, sym->type.value(), l, nullptr, l->name.span});
      }
    } else if (const auto* as = s.as<ast::Assign>()) {
      assign(*as);
    } else if (const auto* f = s.as<ast::For>()) {
      loop(s, *f);
    }
  }

  // Lets and plate indices may not hide another name: every name means one thing. The new
  // name is bound even so, since the statements after it mean it.
  void check_new_name(const ast::Ident& id, const std::string& what) {
    const Symbol* sym = lookup(a_, &scope_, id.name);
    if (!sym) return;
    Frame& here = scope_.frames.back();
    auto same = here.names.find(id.name);
    std::string message =
        same != here.names.end() && &same->second == sym && sym->kind == SymbolKind::Let
            ? "'" + id.name + "' is already defined here; lets are immutable, choose another name"
            : what + " '" + id.name + "' shadows " + describe(sym->kind) + " '" + id.name +
                  "'; choose another name";
    a_.report.error(id.span, message, {{sym->span, "'" + id.name + "' is declared here"}});
  }

  void let(const ast::Let& l) {
    // The value is checked before the name is bound: `let h = h + 1` does not refer to itself.
    Type t = ExprChecker(a_, scope_, true).check(*l.value);
    scope_.frames.back().later_lets.erase(l.name.name);
    check_new_name(l.name, l.is_var ? "var" : "let");
    // A var declared in a plate holds one value per copy, whatever its first value.
    if (l.is_var && !t.is_error()) {
      t = t.value();
      t.plates = union_plates(t.plates, scope_.plates);
    }
    Symbol s{SymbolKind::Let, l.name.span, t};
    s.let = &l;
    scope_.frames.back().names.insert_or_assign(l.name.name, s);
  }

  // NAME = value: the next value of a var, of its type (an int value may go to a real var).
  void assign(const ast::Assign& as) {
    Type t = ExprChecker(a_, scope_, true).check(*as.value);
    const std::string& name = as.name.name;
    const Symbol* sym = lookup(a_, &scope_, name);
    if (!sym) {
      auto later = scope_.frames.back().later_lets.find(name);
      if (later != scope_.frames.back().later_lets.end()) {
        a_.report.error(as.name.span, "'" + name + "' is assigned before it is declared",
                        {{later->second, "'" + name + "' is declared here"}});
      } else {
        a_.report.error(as.name.span, "unknown name '" + name + "'; declare it with 'let " + name +
                                          " = ...;' (or 'var " + name + " = ...;' to assign it again later)");
        // Bound from here on, so that its uses are not reported as unknown names too.
        scope_.frames.back().names.emplace(name, Symbol{SymbolKind::Let, as.name.span, Type::error()});
      }
      return;
    }
    if (sym->kind != SymbolKind::Let || !sym->let || !sym->let->is_var) {
      std::string what = sym->kind == SymbolKind::Let ? "a let, which is immutable; declare it 'var " + name +
                                                            " = ...;' to assign it"
                                                      : with_article(sym->kind) + "; only a var can be assigned";
      a_.report.error(as.name.span, "cannot assign to '" + name + "': it is " + what,
                      {{sym->span, "'" + name + "' is declared here"}});
      return;
    }
    a_.model->assigned[&as] = sym->let;
    if (t.is_error() || sym->type.is_error()) return;
    Type var = sym->type;
    if (!as.subscripts.empty()) {
      if (as.subscripts.size() > var.rank()) {
        a_.report.error(as.name.span, "too many subscripts for var '" + name + "': " +
                                          std::to_string(as.subscripts.size()) + " given, but it is " +
                                          to_string(var.value()));
        return;
      }
      ExprChecker indices(a_, scope_, true);
      bool ok = true;
      for (std::size_t k = 0; k < as.subscripts.size(); ++k) {
        ok &= indices.element_index(as.subscripts[k], var.shape[k], k, "var '" + name + "'");
      }
      if (!ok) return;
      var.shape.erase(var.shape.begin(), var.shape.begin() + static_cast<long>(as.subscripts.size()));
      var.row = var.row && var.shape.size() == 1;
    }
    if (!t.same_shape(var) || (t.kind == Kind::Real && var.kind == Kind::Int)) {
      std::string hint = t.same_shape(var) ? "; declare it real ('var " + name + " = 0.0;' for a real scalar)" : "";
      std::string target = as.subscripts.empty() ? "var '" + name + "'" : "the element of var '" + name + "'";
      a_.report.error(as.value->span, target + " is " + to_string(var.value()) + ", but '" +
                                          source_text(as.value->span) + "' is " + to_string(t.value()) + hint,
                      {{sym->span, "'" + name + "' is declared here"}});
      return;
    }
    std::vector<const ast::Plate*> varying = union_plates(t.plates, scope_.plates);
    for (const ast::Plate* p : varying) {
      if (std::find(var.plates.begin(), var.plates.end(), p) != var.plates.end()) continue;
      if (std::find(t.plates.begin(), t.plates.end(), p) == t.plates.end()) {
        a_.report.error(as.name.span, "var '" + name + "' is declared outside plate '" + p->index.name +
                                          "' and cannot be assigned inside it (each copy would): declare the "
                                          "var inside the plate",
                        {{sym->span, "'" + name + "' is declared here"}});
        return;
      }
      a_.report.error(as.value->span, "'" + source_text(as.value->span) + "' varies over plate '" + p->index.name +
                                          "', but var '" + name + "' is declared outside it: declare the var "
                                          "inside the plate",
                      {{sym->span, "'" + name + "' is declared here"}});
      return;
    }
  }

  // for I in A:B { ... }: A and B int scalars the same for every copy of the enclosing plates;
  // the body is checked with I bound to an int scalar.
  void loop(const ast::Stmt&, const ast::For& f) {
    for (const ast::ExprPtr* bound : {&f.begin, &f.end}) {
      Type t = ExprChecker(a_, scope_, true).check(**bound);
      if (t.is_error()) continue;
      if (!t.is_int() || !t.is_scalar()) {
        a_.report.error((*bound)->span, "a loop's bounds are int scalars, but '" + source_text((*bound)->span) +
                                            "' is " + to_string(t));
      } else if (!t.plates.empty()) {
        a_.report.error((*bound)->span, "a loop's bound cannot vary over plate '" + t.plates.front()->index.name +
                                            "' yet: every copy runs the same iterations");
      }
    }
    check_new_name(f.index, "loop index");
    push_frame(f.body);
    Symbol s{SymbolKind::LoopIndex, f.index.span, Type::integer()};
    s.loop = &f;
    scope_.frames.back().names.emplace(f.index.name, s);
    scope_.loops.push_back(&f);
    for (const ast::StmtPtr& st : f.body) {
      if (const auto* p = st->as<ast::Plate>()) {
        a_.report.error(p->index.span, "a plate cannot be inside a for loop; put the loop inside the plate");
        continue;
      }
      statement(*st);
    }
    scope_.loops.pop_back();
    scope_.frames.pop_back();
  }

  void target(const ast::Stmt& s, const ast::TargetIncrement& t) {
    Type v = ExprChecker(a_, scope_, true).check(*t.value);
    if (block_.kind == ast::BlockKind::Guide) {
      a_.report.error(s.span, "'target +=' is not allowed in the guide; it adds to the model's "
                              "log density");
    } else if (!v.is_error() && !v.is_scalar()) {
      a_.report.error(t.value->span, "'target +=' needs a scalar, but '" +
                                         source_text(t.value->span) + "' is " + to_string(v));
    }
  }

  void check_plate_dim(const ast::Plate& p) {
    const Symbol* dim = a_.global(p.dim.name);
    if (!dim) {
      std::vector<std::string> dims;
      for (const auto& [name, sym] : a_.globals) {
        if (sym.kind == SymbolKind::Dim) dims.push_back(name);
      }
      a_.report.error(p.dim.span, "unknown dim '" + p.dim.name + "'" + did_you_mean(p.dim.name, dims));
    } else if (dim->kind != SymbolKind::Dim) {
      a_.report.error(p.dim.span, "'" + p.dim.name + "' is " + with_article(dim->kind) +
                                      ", not a dim; a plate runs over a dim");
    }
    for (const ast::Plate* outer : scope_.plates) {
      if (outer->dim.name != p.dim.name) continue;
      a_.report.error(p.dim.span, "plate '" + p.index.name + "' runs over " + p.dim.name +
                                      ", as does the enclosing plate '" + outer->index.name + "'",
                      {{outer->dim.span, "the enclosing plate over " + p.dim.name + " is here"}});
    }
  }

  void plate(const ast::Plate& p) {
    check_plate_dim(p);
    check_new_name(p.index, "plate index");
    push_frame(p.body);
    Symbol s{SymbolKind::PlateIndex, p.index.span, Type::integer()};
    s.plate = &p;
    s.depth = scope_.plates.size();
    scope_.frames.back().names.emplace(p.index.name, s);
    scope_.plates.push_back(&p);
    for (const ast::StmtPtr& s : p.body) statement(*s);
    scope_.plates.pop_back();
    scope_.frames.pop_back();
  }

  Analyzer& a_;
  const ast::Block& block_;
  Scope scope_;
};

}  // namespace

void check_block(Analyzer& a, const ast::Block& block) { BlockChecker(a, block).run(); }
void check_generated(Analyzer& a, const ast::Block& block) { BlockChecker(a, block).run(); }

}  // namespace vmc::sema

#include "sema/check_expr.hpp"
#include "sema/const_eval.hpp"

#include "dist/distribution.hpp"
#include "support/check.hpp"
#include "support/suggest.hpp"

namespace vmc::sema {
namespace {

std::string given(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " was given" : " were given");
}

NameKind name_kind(SymbolKind kind) {
  switch (kind) {
    case SymbolKind::Dim: return NameKind::Dim;
    case SymbolKind::Data: return NameKind::Data;
    case SymbolKind::Param: return NameKind::Param;
    case SymbolKind::Latent: return NameKind::Latent;
    case SymbolKind::Let: return NameKind::Let;
    case SymbolKind::PlateIndex: return NameKind::PlateIndex;
    case SymbolKind::FnParam: return NameKind::FnParam;
    case SymbolKind::LoopIndex: return NameKind::LoopIndex;
    case SymbolKind::Generated: return NameKind::Generated;
    case SymbolKind::Fn: break;
  }
  internal_error("fns are not recorded as names", __FILE__, __LINE__);
}

// A let named `name` in `stmts` or the plates among them.
const ast::Let* find_let(const std::vector<ast::StmtPtr>& stmts, const std::string& name) {
  for (const ast::StmtPtr& s : stmts) {
    if (const auto* l = s->as<ast::Let>(); l && l->name.name == name) return l;
    if (const auto* p = s->as<ast::Plate>()) {
      if (const ast::Let* l = find_let(p->body, name)) return l;
    }
  }
  return nullptr;
}

// Lowering computes a product of values that vary over plates (Type::plates) as one product over
// the batch only when a shared matrix multiplies per-copy vectors (lower/expr.cpp).
bool lowerable_product(const Type& a, const Type& b) {
  if (a.is_scalar() || b.is_scalar()) return true;
  std::size_t ra = a.rank(), rb = b.rank();
  if (ra == 1 && rb == 1) return true;  // u' v and u v', per copy
  std::vector<const ast::Plate*> plates = union_plates(a.plates, b.plates);
  if (plates.empty()) return true;
  if (plates.size() == 1 && ra == 2 && a.plates.empty() && rb == 1 && !b.row) return true;
  if (plates.size() == 1 && rb == 2 && b.plates.empty() && ra == 1 && a.row) return true;
  return false;
}

std::vector<std::string> function_names(const Analyzer& a) {
  std::vector<std::string> names = builtin_names();
  for (const auto& [name, fn] : a.model->functions) names.push_back(name);
  return names;
}

}  // namespace

Type ExprChecker::check(const ast::Expr& e) { return record(e, dispatch(e)); }

Type ExprChecker::check_target(const ast::Expr& e) {
  target_ = true;
  Type t = check(e);
  target_ = false;
  return t;
}

Type ExprChecker::record(const ast::Expr& e, Type t) {
  if (record_) a_.model->expr_types[&e] = t;
  return t;
}

void ExprChecker::record_name(const ast::Expr& e, NameRef ref) { a_.model->names[&e] = ref; }

Type ExprChecker::dispatch(const ast::Expr& e) {
  if (const auto* n = e.as<ast::Number>()) return n->is_integer ? Type::integer() : Type::real();
  if (const auto* n = e.as<ast::Name>()) return name(e, *n, {});
  if (const auto* u = e.as<ast::Unary>()) return check(*u->operand).value();
  if (const auto* b = e.as<ast::Binary>()) return binary(e, *b);
  if (const auto* c = e.as<ast::Call>()) return call(e, *c);
  if (const auto* ix = e.as<ast::Index>()) return index(e, *ix);
  return transpose(e, *e.as<ast::Transpose>());
}

Type ExprChecker::name(const ast::Expr& e, const ast::Name& n,
                       const std::vector<const ast::Plate*>& leading) {
  const ast::Plate* leading_plate = leading.empty() ? nullptr : leading.front();
  if (n.name == "pi") {
    record_name(e, NameRef{NameKind::Pi});
    return Type::real();
  }
  const Symbol* sym = lookup(a_, &scope_, n.name);
  if (!sym) return unknown_name(e, n.name);
  switch (sym->kind) {
    case SymbolKind::Fn:
      a_.report.error(e.span, "'" + n.name + "' is a function; call it with its arguments");
      return Type::error();
    case SymbolKind::PlateIndex:
      a_.report.error(e.span, "plate index '" + n.name + "' can only be a subscript, as in x[" +
                                  n.name + "]");
      return Type::error();
    case SymbolKind::Latent:
      if (scope_.fn) {
        a_.report.error(e.span, "fn '" + scope_.fn->name.name + "' cannot read latent '" + n.name +
                                    "'; pass it as an argument");
        return Type::error();
      }
      if (target_) break;
      if (scope_.block == ast::BlockKind::Generated) {
        // Checked after the latents: whether each is local is known.
        const Variable* v = a_.model->find_variable(n.name);
        if (v && v->local) {
          a_.report.error(e.span, "the generated block sees global latents only, but '" + n.name +
                                      "' is local (one per datapoint of " + v->plate_dim + ")");
          return Type::error();
        }
        break;
      }
      if (scope_.block == ast::BlockKind::Guide && !scope_.sampled.count(n.name)) {
        a_.report.error(e.span, "latent '" + n.name + "' is read in the guide before its '~'");
      }
      a_.latent_reads.push_back({n.name, e.span, leading_plate, leading});
      break;
    case SymbolKind::Data:
      a_.use_data(n.name, e.span, leading_plate && leading_plate->subsample);
      break;
    default:
      break;
  }
  NameRef ref{name_kind(sym->kind), sym->let, sym->plate};
  if (ref.kind == NameKind::Dim) ref.dim = a_.model->find_dim(n.name);
  if (ref.kind == NameKind::Data || ref.kind == NameKind::Param || ref.kind == NameKind::Latent) {
    ref.variable = a_.model->find_variable(n.name);
  }
  ref.fn_param = sym->fn_param;
  ref.loop = sym->loop;
  ref.draw = sym->draw;
  record_name(e, ref);
  return sym->type;
}

Type ExprChecker::unknown_name(const ast::Expr& e, const std::string& name) {
  for (auto it = scope_.frames.rbegin(); it != scope_.frames.rend(); ++it) {
    auto later = it->later_lets.find(name);
    if (later != it->later_lets.end()) {
      a_.report.error(e.span, "'" + name + "' is used before it is defined",
                      {{later->second, "'" + name + "' is defined here"}});
      return Type::error();
    }
  }
  if (auto [block, let] = let_elsewhere(name); let) {
    std::string where = std::string("the ") + ast::spelling(block->kind) + " block";
    std::string message =
        scope_.fn ? "fn '" + scope_.fn->name.name + "' cannot read '" + name + "', a let of " +
                        where + "; pass it as an argument"
        : block->kind == scope_.block
            ? "'" + name + "' is not visible here: it is a let of a plate body, visible only in that plate"
            : "'" + name + "' is a let of " + where + ", which the " +
                  ast::spelling(scope_.block) + " cannot see";
    a_.report.error(e.span, message, {{let->name.span, "'" + name + "' is defined here"}});
    return Type::error();
  }
  a_.report.error(e.span, "unknown name '" + name + "'" +
                              did_you_mean(name, visible_names(a_, &scope_)));
  return Type::error();
}

std::pair<const ast::Block*, const ast::Let*> ExprChecker::let_elsewhere(const std::string& name) const {
  // The block being checked first: its plates are the likelier place.
  const ast::Block* model = a_.model->model_block;
  const ast::Block* guide = a_.model->guide_block;
  if (scope_.block == ast::BlockKind::Guide) std::swap(model, guide);
  for (const ast::Block* b : {model, guide}) {
    if (!b) continue;
    if (const ast::Let* l = find_let(b->statements, name)) return {b, l};
  }
  return {nullptr, nullptr};
}

Type ExprChecker::binary(const ast::Expr& e, const ast::Binary& b) {
  Type lhs = check(*b.lhs);
  Type rhs = check(*b.rhs);
  if (std::optional<Type> t = binary_type(b.op, lhs, rhs)) {
    if (b.op == ast::BinaryOp::Mul && !t->is_error() && !lowerable_product(lhs, rhs)) {
      a_.report.error(e.span, "this product needs a different matrix per datapoint, which vmc cannot lower "
                              "yet; products of a shared matrix with per-datapoint vectors are supported");
      return Type::error();
    }
    return *t;
  }
  std::string op = ast::spelling(b.op);
  // '/' and '^' fail only on a non-scalar right operand: say that, not "shapes do not agree".
  if ((b.op == ast::BinaryOp::Div || b.op == ast::BinaryOp::Pow) && !rhs.is_scalar() &&
      !lhs.is_error() && !rhs.is_error()) {
    std::string alternative = b.op == ast::BinaryOp::Div ? "; './' divides elementwise" : "";
    a_.report.error(e.span, "'" + op + "' needs a scalar right operand, but '" +
                                source_text(b.rhs->span) + "' is " + to_string(rhs.value()) +
                                alternative);
    return Type::error();
  }
  std::string hint;
  if (b.op == ast::BinaryOp::Mul && lhs.rank() == 1 && !lhs.row && lhs.same_shape(rhs))
    hint = "; use '.*' for the elementwise product, or u' * v for the inner product";
  a_.report.error(e.span, "shapes do not agree for '" + op + "': " + to_string(lhs.value()) +
                              " and " + to_string(rhs.value()) + hint);
  return Type::error();
}

Type ExprChecker::transpose(const ast::Expr& e, const ast::Transpose& t) {
  Type operand = check(*t.operand);
  if (operand.rank() == 2 && !operand.plates.empty()) {
    a_.report.error(e.span, "transposing a per-datapoint matrix is not supported yet");
    return Type::error();
  }
  if (std::optional<Type> r = transpose_type(operand)) return *r;
  a_.report.error(e.span, "cannot transpose " + to_string(operand.value()) +
                              ": only vectors and matrices have a transpose");
  return Type::error();
}

Type ExprChecker::call(const ast::Expr& e, const ast::Call& c) {
  std::vector<Type> args;
  for (const ast::ExprPtr& arg : c.args) args.push_back(check(*arg));
  const std::string& callee = c.callee.name;
  std::optional<dist::DensityFunction> density = dist::density_function(callee);
  if (density && density->dist) return check_density_call(a_, scope_, c, *density, args);
  if (c.has_bar() && !density) {
    a_.report.error(c.bar_span, "'|' separates a density's value from its parameters, as in "
                                "'normal_lpdf(y | mu, sigma)'; '" + callee + "' is no density function");
    return Type::error();
  }
  if (const Builtin* b = find_builtin(callee)) return builtin_call(e, *b, args);
  const Symbol* sym = lookup(a_, &scope_, callee);
  if (sym && sym->kind == SymbolKind::Fn) return fn_call(e, *sym->fn, args);
  if (dist::find(callee)) {
    a_.report.error(c.callee.span, "'" + callee + "' is a distribution, not a function");
  } else if (sym) {
    a_.report.error(c.callee.span, "'" + callee + "' is " + with_article(sym->kind) +
                                       ", not a function");
  } else if (density) {
    a_.report.error(c.callee.span, "unknown distribution '" + density->distribution + "' in '" + callee + "'" +
                                       dist::unknown_name_hint(density->distribution));
  } else {
    a_.report.error(c.callee.span, "unknown function '" + callee + "'" +
                                       did_you_mean(callee, function_names(a_)));
  }
  return Type::error();
}

Type ExprChecker::builtin_call(const ast::Expr& e, const Builtin& b, const std::vector<Type>& args) {
  const std::string name(b.name);
  if (b.rule != BuiltinRule::Op) return composite_call(e, b, args);
  std::optional<ir::Op> op = b.op(int(args.size()));
  if (!op) {
    a_.report.error(e.span, "'" + name + "' takes " + b.arity_text() + ", but " + given(args.size()));
    return Type::error();
  }
  for (const Type& t : args) {
    if (t.is_error()) return Type::error();
  }
  bool all_int = true;
  for (const Type& t : args) all_int = all_int && t.is_int();
  const ir::OpInfo& info = ir::info(*op);
  Kind kind = info.keeps_int && all_int ? Kind::Int : Kind::Real;
  switch (info.category) {
    case ir::Category::Unary:
      return Type{Kind::Real, {}, args[0].shape, args[0].row, args[0].plates};
    case ir::Category::Reduce:  // per copy: over the copy's own axes
      return Type{kind, {}, {}, false, args[0].plates};
    case ir::Category::Binary:
      if (std::optional<Type> t = broadcast_type(args[0], args[1], kind)) return *t;
      a_.report.error(e.span, "shapes do not agree for '" + name + "': " +
                                  to_string(args[0].value()) + " and " + to_string(args[1].value()));
      return Type::error();
    case ir::Category::Linalg:  // dot(u, v): u' v
      if (args[0].rank() == 1 && args[1].rank() == 1 && args[0].shape == args[1].shape)
        return Type{Kind::Real, {}, {}, false, union_plates(args[0].plates, args[1].plates)};
      a_.report.error(e.span, "'" + name + "' needs two vectors of equal extent, but got " +
                                  to_string(args[0].value()) + " and " + to_string(args[1].value()));
      return Type::error();
    case ir::Category::Leaf:
    case ir::Category::Select:
    case ir::Category::Structure:
      break;
  }
  internal_error("builtin '" + name + "' calls an op of a category the language has no rule for",
                 __FILE__, __LINE__);
}

// A builtin that composes ops (builtins.hpp): elementwise ones broadcast their arguments (equal
// shapes or scalars; the result is real), the ones along a vector take a vector per copy.
Type ExprChecker::composite_call(const ast::Expr& e, const Builtin& b, const std::vector<Type>& args) {
  const std::string name(b.name);
  if (static_cast<int>(args.size()) != b.arity) {
    a_.report.error(e.span, "'" + name + "' takes " + b.arity_text() + ", but " + given(args.size()));
    return Type::error();
  }
  for (const Type& t : args) {
    if (t.is_error()) return Type::error();
  }
  if (b.rule == BuiltinRule::Structure) return structure_call(e, b, args);
  if (b.rule == BuiltinRule::AlongVector) {
    const Type& v = args[0];
    if (v.rank() != 1) {
      a_.report.error(e.span, "'" + name + "' needs a vector, but '" + source_text(e.as<ast::Call>()->args[0]->span) +
                                  "' is " + to_string(v.value()));
      return Type::error();
    }
    return Type{Kind::Real, {}, v.shape, v.row, v.plates};
  }
  Type out = args[0].value();
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::optional<Type> t = broadcast_type(out, args[i], Kind::Real);
    if (!t) {
      a_.report.error(e.span, "shapes do not agree for '" + name + "': " + to_string(out.value()) + " and " +
                                  to_string(args[i].value()));
      return Type::error();
    }
    out = *t;
  }
  out.kind = Kind::Real;
  return out;
}

// The builtins that build or reshape arrays (builtins.hpp, StructureBuiltin).
Type ExprChecker::structure_call(const ast::Expr& e, const Builtin& b, const std::vector<Type>& args) {
  const std::string name(b.name);
  const auto& call = *e.as<ast::Call>();
  auto text = [&](std::size_t i) { return quote(source_text(call.args[i]->span)); };
  auto vector = [](const Type& t) { return t.rank() == 1 && !t.row; };
  auto fail = [&](const std::string& message) {
    a_.report.error(e.span, message);
    return Type::error();
  };
  std::vector<const ast::Plate*> plates;
  for (const Type& t : args) plates = union_plates(plates, t.plates);
  switch (b.structure) {
    case StructureBuiltin::RepVector: {
      if (!args[0].is_scalar()) return fail("'rep_vector' repeats a scalar, but " + text(0) + " is " + to_string(args[0].value()));
      std::optional<Extent> n = eval_extent(a_, &scope_, *call.args[1], &a_.report, "the length of 'rep_vector'");
      if (!n) return Type::error();
      if (n->constant_value() && *n->constant_value() < 1) return fail("'rep_vector' needs a length of at least 1, but " + text(1) + " is " + n->to_string());
      a_.model->rep_lengths.insert_or_assign(&e, *n);
      return Type{Kind::Real, {}, {*n}, false, plates};
    }
    case StructureBuiltin::AppendRow: {
      for (std::size_t i = 0; i < 2; ++i) {
        if (!args[i].is_scalar() && !vector(args[i])) {
          return fail("'append_row' joins vectors and scalars, but " + text(i) + " is " + to_string(args[i].value()));
        }
      }
      auto length = [](const Type& t) { return t.is_scalar() ? Extent::constant(1) : t.shape[0]; };
      return Type{Kind::Real, {}, {length(args[0]) + length(args[1])}, false, plates};
    }
    case StructureBuiltin::DiagMatrix:
      if (!vector(args[0])) return fail("'diag_matrix' needs a vector, but " + text(0) + " is " + to_string(args[0].value()));
      if (!plates.empty()) return fail("'diag_matrix' of a value per datapoint is not supported yet (a matrix per copy)");
      return Type{Kind::Real, {}, {args[0].shape[0], args[0].shape[0]}, false, {}};
    case StructureBuiltin::RowsDotProduct:
      if (args[0].rank() != 2 || !args[0].same_shape(args[1])) {
        return fail("'rows_dot_product' needs two matrices of one shape, but got " + to_string(args[0].value()) + " and " +
                    to_string(args[1].value()));
      }
      return Type{Kind::Real, {}, {args[0].shape[0]}, false, plates};
    case StructureBuiltin::CumulativeSum:
      if (!vector(args[0])) return fail("'cumulative_sum' needs a vector, but " + text(0) + " is " + to_string(args[0].value()));
      if (plates.size() > 1) return fail("'cumulative_sum' of a value per copy of two plates is not supported yet");
      return Type{Kind::Real, {}, args[0].shape, false, plates};
    case StructureBuiltin::DotSelf:
      if (args[0].rank() != 1) return fail("'dot_self' needs a vector, but " + text(0) + " is " + to_string(args[0].value()));
      return Type{Kind::Real, {}, {}, false, plates};
    case StructureBuiltin::CholeskyDecompose:
      if (args[0].rank() != 2 || args[0].shape[0] != args[0].shape[1]) {
        return fail("'cholesky_decompose' needs a square matrix, but " + text(0) + " is " + to_string(args[0].value()));
      }
      if (!plates.empty()) return fail("'cholesky_decompose' of a value per datapoint is not supported yet (a matrix per copy)");
      return Type{Kind::Real, {}, args[0].shape, false, {}};
    case StructureBuiltin::GpExpQuadCov:
      if (args[0].rank() != 1 && args[0].rank() != 2) {
        return fail("'" + name + "' needs the points as a vector (one per element) or a matrix (one per row), but " + text(0) +
                    " is " + to_string(args[0].value()));
      }
      for (std::size_t i = 1; i < 3; ++i) {
        if (!args[i].is_scalar()) {
          return fail("'" + name + "' needs scalar " + (i == 1 ? "alpha" : "rho") + ", but " + text(i) + " is " +
                      to_string(args[i].value()));
        }
      }
      if (!plates.empty()) return fail("'" + name + "' of a value per datapoint is not supported yet (a matrix per copy)");
      return Type{Kind::Real, {}, {args[0].shape[0], args[0].shape[0]}, false, {}};
  }
  return Type::error();
}

Type ExprChecker::fn_call(const ast::Expr& e, const ast::FnDef& fn, const std::vector<Type>& args) {
  const std::string& name = fn.name.name;
  if (args.size() != fn.params.size()) {
    std::string params;
    for (const ast::Ident& p : fn.params) params += (params.empty() ? "" : ", ") + p.name;
    a_.report.error(e.span, "'" + name + "' takes " + count(fn.params.size(), "argument", "arguments") +
                                " (" + params + "), but " + given(args.size()),
                    {{fn.name.span, quote(name) + " is defined here"}});
    return Type::error();
  }
  if (a_.untyped_fns.count(name) || a_.fns_in_progress.count(name)) return Type::error();
  std::vector<std::pair<std::vector<Type>, Type>>& results = a_.fn_results[name];
  for (const auto& [signature, result] : results) {
    if (signature == args) return result;
  }
  Scope body;
  body.fn = &fn;
  body.block = scope_.block;
  Frame& params = body.frames.emplace_back();
  for (std::size_t i = 0; i < args.size(); ++i) {
    Symbol s{SymbolKind::FnParam, fn.params[i].span, args[i]};
    s.fn_param = i;
    params.names.emplace(fn.params[i].name, s);
  }
  a_.fns_in_progress.insert(name);
  a_.report.enter_call(name, e.span);
  Type result = ExprChecker(a_, body, false).check(*fn.body).value();
  a_.report.leave_call();
  a_.fns_in_progress.erase(name);
  results.emplace_back(args, result);
  return result;
}

}  // namespace vmc::sema

// Runs the X3 grammar, then converts the parser's AST into vmc::ast with a Span on every node.
#include "parse/parser.hpp"

#include <cstdlib>
#include <functional>

#include "parse/x3/ast_adapted.hpp"
#include "parse/x3/grammar.hpp"
#include "parse/x3/tokens.hpp"
#include "support/check.hpp"

namespace vmc::parse {
namespace {

namespace x3ast = vmc::parse::x3ast;
namespace x3 = boost::spirit::x3;

// Deeper bracket nesting than this is refused before parsing: the grammar and every later
// pass recurse once per level, and no real model comes close.
constexpr int kMaxNesting = 256;

// A sum of at least this many terms is parsed as a balanced tree (Converter::balanced_sum).
constexpr std::size_t kBalancedSumTerms = 64;

// Checks what the grammar cannot report well: a `/*` that is never closed (the skipper would
// silently eat the rest of the file) and absurdly deep nesting (it would exhaust the stack).
void prescan(const SourceFile& file, Diagnostics& diags) {
  const std::string& t = file.text();
  int depth = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '(' || t[i] == '[' || t[i] == '{') {
      if (++depth > kMaxNesting) {
        auto at = static_cast<std::uint32_t>(i);
        diags.error(file.span(at, at + 1), "brackets are nested more than " +
                                               std::to_string(kMaxNesting) + " levels deep");
        return;
      }
    } else if (t[i] == ')' || t[i] == ']' || t[i] == '}') {
      depth = depth > 0 ? depth - 1 : 0;
    }
    if (i + 1 >= t.size()) break;
    if (t[i] == '/' && t[i + 1] == '/') {
      while (i < t.size() && t[i] != '\n') ++i;
    } else if (t[i] == '/' && t[i + 1] == '*') {
      std::size_t close = t.find("*/", i + 2);
      if (close == std::string::npos) {
        auto at = static_cast<std::uint32_t>(i);
        diags.error(file.span(at, at + 2), "unterminated comment: '/*' has no matching '*/'");
        return;
      }
      i = close + 1;
    }
  }
}

class Converter {
 public:
  Converter(const SourceFile& file, Diagnostics& diags) : file_(file), diags_(diags) {}

  ast::Program program(std::vector<x3ast::item>& items) {
    ast::Program p;
    for (x3ast::item& it : items) {
      boost::apply_visitor([&](auto& node) { item(p, node); }, it);
    }
    return p;
  }

 private:
  Span span(const x3ast::tagged& t) const { return file_.span(t.begin, t.end); }
  ast::Ident ident(const x3ast::name& n) const { return ast::Ident{n.id, span(n)}; }

  template <class Node>
  ast::ExprPtr make(Span at, Node node) {
    auto e = std::make_unique<ast::Expr>();
    e->span = at;
    e->node = std::move(node);
    return e;
  }

  // --- expressions ---

  ast::ExprPtr expr(x3ast::expr& e) {
    return boost::apply_visitor([&](auto& node) { return convert(node); }, e);
  }
  ast::ExprPtr convert(x3ast::number& n) {
    bool integer = n.text.find_first_of(".eE") == std::string::npos;
    return make(span(n), ast::Number{n.text, std::strtod(n.text.c_str(), nullptr), integer});
  }
  ast::ExprPtr convert(x3ast::name& n) { return make(span(n), ast::Name{n.id}); }
  ast::ExprPtr convert(x3ast::call& c) { return make(span(c), call(c)); }
  ast::ExprPtr convert(x3ast::group& g) {
    ast::ExprPtr inner = expr(g.inner);
    inner->span = span(g);
    return inner;
  }

  ast::Call call(x3ast::call& c) {
    ast::Call out{ident(c.callee), {}, 0, {}};
    for (x3ast::expr& a : c.args) out.args.push_back(expr(a));
    if (c.bar) {
      out.before_bar = out.args.size();
      out.bar_span = span(c.bar->bar);
      for (x3ast::expr& a : c.bar->args) out.args.push_back(expr(a));
    }
    return out;
  }

  ast::ExprPtr convert(x3ast::chain& c) {
    if (c.rest.size() >= kBalancedSumTerms && is_sum(c)) return balanced_sum(c);
    ast::ExprPtr lhs = expr(c.first);
    for (x3ast::link& l : c.rest) {
      ast::ExprPtr rhs = expr(l.rhs);
      Span whole = Span::cover(lhs->span, rhs->span);
      Span op_span = file_.span(l.begin, l.begin + static_cast<std::uint32_t>(l.op.size()));
      lhs = make(whole, ast::Binary{binary_op(l.op), op_span, std::move(lhs), std::move(rhs)});
    }
    return lhs;
  }

  static bool is_sum(const x3ast::chain& c) {
    for (const x3ast::link& l : c.rest)
      if (l.op != "+" && l.op != "-") return false;
    return true;
  }

  // A long sum `t0 ± t1 ± ... ± tn` as a balanced tree of additions (a subtracted term negated):
  // its depth is log2(n), not n, so a sum of a million terms passes every pass that recurses
  // (the checker, the lowering, LLVM's reassociation) in little stack, and is summed pairwise,
  // which rounds less than left to right.
  ast::ExprPtr balanced_sum(x3ast::chain& c) {
    std::vector<ast::ExprPtr> terms;
    std::vector<Span> ops{Span{}};
    terms.push_back(expr(c.first));
    for (x3ast::link& l : c.rest) {
      ast::ExprPtr t = expr(l.rhs);
      Span op_span = file_.span(l.begin, l.begin + static_cast<std::uint32_t>(l.op.size()));
      if (l.op == "-") {
        Span whole = Span::cover(op_span, t->span);
        t = make(whole, ast::Unary{ast::UnaryOp::Neg, std::move(t)});
      }
      terms.push_back(std::move(t));
      ops.push_back(op_span);
    }
    std::function<ast::ExprPtr(std::size_t, std::size_t)> tree = [&](std::size_t lo, std::size_t hi) {
      if (hi - lo == 1) return std::move(terms[lo]);
      std::size_t mid = lo + (hi - lo) / 2;
      ast::ExprPtr left = tree(lo, mid), right = tree(mid, hi);
      Span whole = Span::cover(left->span, right->span);
      return make(whole, ast::Binary{ast::BinaryOp::Add, ops[mid], std::move(left), std::move(right)});
    };
    return tree(0, terms.size());
  }

  static ast::BinaryOp binary_op(const std::string& op) {
    if (op == "+") return ast::BinaryOp::Add;
    if (op == "-") return ast::BinaryOp::Sub;
    if (op == "*") return ast::BinaryOp::Mul;
    if (op == "/") return ast::BinaryOp::Div;
    if (op == ".*") return ast::BinaryOp::ElemMul;
    if (op == "./") return ast::BinaryOp::ElemDiv;
    if (op == "<") return ast::BinaryOp::Less;
    if (op == "<=") return ast::BinaryOp::LessEqual;
    if (op == ">") return ast::BinaryOp::Greater;
    if (op == ">=") return ast::BinaryOp::GreaterEqual;
    if (op == "==") return ast::BinaryOp::Equal;
    if (op == "!=") return ast::BinaryOp::NotEqual;
    VMC_ASSERT(false, "unknown binary operator '" + op + "'");
  }

  ast::ExprPtr convert(x3ast::negation& n) {
    return make(span(n), ast::Unary{ast::UnaryOp::Neg, expr(n.operand)});
  }

  ast::ExprPtr convert(x3ast::power& p) {
    ast::ExprPtr base = expr(p.base);
    if (!p.exponent) return base;
    ast::ExprPtr exponent = expr(*p.exponent);
    // Only blanks and comments lie between the base and the '^'.
    const char* text = file_.text().data();
    auto at = static_cast<std::uint32_t>(
        x3ast::skip_blank(text + base->span.end, text + file_.text().size()) - text);
    Span whole = Span::cover(base->span, exponent->span);
    return make(whole, ast::Binary{ast::BinaryOp::Pow, file_.span(at, at + 1), std::move(base),
                                   std::move(exponent)});
  }

  ast::ExprPtr convert(x3ast::postfix& p) {
    ast::ExprPtr e = expr(p.base);
    for (x3ast::suffix& s : p.suffixes) {
      Span whole = file_.span(e->span.begin, s.end);
      if (s.kind == "'") {
        e = make(whole, ast::Transpose{std::move(e)});
        continue;
      }
      ast::Index index{std::move(e), {}};
      for (x3ast::subscript& sub : s.subscripts) index.subscripts.push_back(subscript(sub));
      e = make(whole, std::move(index));
    }
    return e;
  }

  ast::Subscript subscript(x3ast::subscript& s) {
    ast::Subscript out;
    out.span = span(s);
    out.is_slice = s.is_slice;
    if (s.lo) out.lo = expr(*s.lo);
    if (s.hi) out.hi = expr(*s.hi);
    if (!s.is_slice && out.hi) {
      diags_.error(out.hi->span, "expected ',' or ']' between subscripts");
    } else if (!s.is_slice && !out.lo) {
      diags_.error(file_.span(s.begin, s.begin), "expected an index");
    }
    return out;
  }

  // --- statements ---

  void statements(std::vector<x3ast::statement>& in, std::vector<ast::StmtPtr>& out) {
    for (x3ast::statement& s : in) {
      ast::StmtPtr converted =
          boost::apply_visitor([&](auto& node) { return statement(node); }, s);
      if (converted) out.push_back(std::move(converted));
    }
  }

  template <class Node>
  ast::StmtPtr make_stmt(const x3ast::tagged& at, Node node) {
    auto s = std::make_unique<ast::Stmt>();
    s->span = span(at);
    s->node = std::move(node);
    return s;
  }

  ast::StmtPtr statement(x3ast::let_stmt& s) {
    return make_stmt(s, ast::Let{ident(s.target), expr(s.value), s.keyword.text == "var"});
  }
  ast::StmtPtr statement(x3ast::assign_stmt& s) {
    ast::Assign a{ident(s.target), {}, nullptr};
    for (x3ast::subscript& sub : s.subscripts) a.subscripts.push_back(subscript(sub));
    a.value = expr(s.value);
    return make_stmt(s, std::move(a));
  }
  ast::StmtPtr statement(x3ast::for_stmt& s) {
    ast::For loop{ident(s.index), expr(s.from), expr(s.to), {}};
    statements(s.body, loop.body);
    return make_stmt(s, std::move(loop));
  }
  ast::StmtPtr statement(x3ast::target_stmt& s) {
    return make_stmt(s, ast::TargetIncrement{expr(s.value)});
  }
  ast::StmtPtr statement(x3ast::sample_stmt& s) {
    return make_stmt(s, ast::Sample{expr(s.lhs), span(s.tilde), call(s.dist), span(s.dist)});
  }
  ast::StmtPtr statement(x3ast::plate_stmt& s) {
    ast::Plate plate{ident(s.index), ident(s.dim), s.subsample.has_value(), {}, {}};
    if (s.subsample) plate.subsample_span = span(*s.subsample);
    statements(s.body, plate.body);
    return make_stmt(s, std::move(plate));
  }
  ast::StmtPtr statement(x3ast::bad_stmt&) { return nullptr; }

  // --- declarations and items ---

  ast::TypeExpr type(x3ast::type_expr& t) {
    ast::TypeExpr out;
    out.base = ident(t.base);
    out.span = span(t);
    // Stan's `ordered[K]` is `real<ordered>[K]` (positive_ordered and simplex likewise).
    if (out.base.name == "ordered" || out.base.name == "positive_ordered" || out.base.name == "simplex") {
      out.constraints.push_back(ast::Constraint{out.base, nullptr, out.base.span});
      out.base.name = "real";
    }
    for (x3ast::constraint& c : t.constraints) {
      out.constraints.push_back(
          ast::Constraint{ident(c.key), c.value ? expr(*c.value) : nullptr, span(c)});
    }
    for (x3ast::expr& e : t.shape) out.shape.push_back(expr(e));
    // Stan's `cholesky_factor_corr[K]` is `real<cholesky_corr>[K, K]`: its one extent, twice.
    if (out.base.name == "cholesky_factor_corr") {
      out.constraints.insert(out.constraints.begin(), ast::Constraint{ast::Ident{"cholesky_corr", out.base.span}, nullptr, out.base.span});
      out.base.name = "real";
      if (t.shape.size() == 1) out.shape.push_back(expr(t.shape.front()));
    }
    return out;
  }

  ast::Block block(ast::BlockKind kind, const x3ast::tagged& whole, Span keyword) {
    ast::Block b;
    b.kind = kind;
    b.keyword_span = keyword;
    b.span = span(whole);
    return b;
  }

  void item(ast::Program& p, x3ast::model_decl& d) {
    if (p.model_name) p.extra_model_names.push_back(ident(d.id));
    else p.model_name = ident(d.id);
  }

  void item(ast::Program& p, x3ast::dims_block& d) {
    ast::Block b = block(ast::BlockKind::Dims, d, span(d.keyword));
    for (x3ast::dim_item& it : d.items) {
      if (auto* decl = boost::get<x3ast::dim_decl>(&it)) {
        b.dims.push_back(
            ast::DimDecl{ident(decl->id), decl->value ? expr(*decl->value) : nullptr, span(*decl)});
      }
    }
    p.blocks.push_back(std::move(b));
  }

  void item(ast::Program& p, x3ast::vars_block& d) {
    ast::BlockKind kind = d.keyword.text == "data"    ? ast::BlockKind::Data
                          : d.keyword.text == "param" ? ast::BlockKind::Param
                                                      : ast::BlockKind::Latent;
    ast::Block b = block(kind, d, span(d.keyword));
    for (x3ast::var_item& it : d.items) {
      auto* decl = boost::get<x3ast::var_decl>(&it);
      if (!decl) continue;
      ast::VarDecl v;
      v.name = ident(decl->id);
      v.type = type(decl->type);
      if (decl->init) {
        v.init = expr(decl->init->value);
        v.init_span = span(*decl->init);
      }
      v.span = span(*decl);
      b.vars.push_back(std::move(v));
    }
    p.blocks.push_back(std::move(b));
  }

  void item(ast::Program& p, x3ast::stmts_block& d) {
    // The keyword token holds "model {", "guide {" or "generated {": keep the word.
    const std::string& text = d.keyword.text;
    ast::BlockKind kind = text.rfind("model", 0) == 0   ? ast::BlockKind::Model
                          : text.rfind("guide", 0) == 0 ? ast::BlockKind::Guide
                                                        : ast::BlockKind::Generated;
    std::uint32_t length = kind == ast::BlockKind::Generated ? 9 : 5;
    Span keyword = file_.span(d.keyword.begin, d.keyword.begin + length);
    if (std::size_t q = text.find("quantities"); kind == ast::BlockKind::Generated && q != std::string::npos) {
      auto at = d.keyword.begin + static_cast<std::uint32_t>(q);
      diags_.error(file_.span(at, at + 10), "the block is 'generated { ... }' in vmc, without Stan's 'quantities'");
    }
    ast::Block b = block(kind, d, keyword);
    statements(d.items, b.statements);
    p.blocks.push_back(std::move(b));
  }

  void item(ast::Program& p, x3ast::fn_def& f) {
    ast::FnDef def{ident(f.id), {}, expr(f.body), span(f)};
    for (x3ast::name& n : f.params) def.params.push_back(ident(n));
    p.functions.push_back(std::move(def));
  }

  void item(ast::Program&, x3ast::bad_item&) {}

  const SourceFile& file_;
  Diagnostics& diags_;
};

}  // namespace

std::optional<ast::Program> parse_program(const SourceFile& file, Diagnostics& diags) {
  std::size_t errors_before = diags.error_count();
  prescan(file, diags);
  if (diags.error_count() > errors_before) return std::nullopt;

  x3ast::ParseState state;
  state.text_begin = file.text().data();
  state.text_end = state.text_begin + file.text().size();
  std::vector<x3ast::item> items;
  const char* first = state.text_begin;
  bool ok = x3::phrase_parse(first, state.text_end,
                             x3::with<x3ast::parse_state_tag>(state)[x3ast::program()],
                             x3ast::skipper(), items);
  for (const x3ast::SyntaxError& e : state.errors) {
    diags.error(file.span(e.begin, e.end), e.message);
  }
  VMC_ASSERT(ok || !state.errors.empty(), "the parser stopped without reporting why");
  if (diags.error_count() > errors_before) return std::nullopt;

  ast::Program program = Converter(file, diags).program(items);
  if (diags.error_count() > errors_before) return std::nullopt;
  return program;
}

}  // namespace vmc::parse

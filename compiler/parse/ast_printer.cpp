#include "parse/ast_printer.hpp"

#include <ostream>
#include <sstream>

namespace vmc::ast {
namespace {

std::string at(const Span& s) {
  if (!s.valid()) return "";
  LineCol lc = s.file->line_col(s.begin);
  return " @" + std::to_string(lc.line) + ":" + std::to_string(lc.col);
}

struct SexprWriter {
  std::ostringstream out;

  void expr(const Expr& e) {
    std::visit([&](const auto& node) { write(node); }, e.node);
  }
  void write(const Number& n) { out << n.text; }
  void write(const Name& n) { out << n.name; }
  void write(const Unary& u) {
    out << "(neg ";
    expr(*u.operand);
    out << ')';
  }
  void write(const Binary& b) {
    out << '(' << spelling(b.op) << ' ';
    expr(*b.lhs);
    out << ' ';
    expr(*b.rhs);
    out << ')';
  }
  void write(const Call& c) {
    out << '(' << c.callee.name;
    for (std::size_t i = 0; i < c.args.size(); ++i) {
      out << (c.has_bar() && i == c.before_bar ? " | " : " ");
      expr(*c.args[i]);
    }
    out << ')';
  }
  void write(const Index& ix) {
    out << "(index ";
    expr(*ix.base);
    for (const Subscript& s : ix.subscripts) {
      out << ' ';
      if (!s.is_slice) {
        expr(*s.lo);
        continue;
      }
      out << "(: ";
      if (s.lo) expr(*s.lo); else out << '_';
      out << ' ';
      if (s.hi) expr(*s.hi); else out << '_';
      out << ')';
    }
    out << ')';
  }
  void write(const Transpose& t) {
    out << "(' ";
    expr(*t.operand);
    out << ')';
  }
};

void print_type(std::ostream& out, const TypeExpr& t) {
  out << t.base.name;
  if (!t.constraints.empty()) {
    out << '<';
    for (std::size_t i = 0; i < t.constraints.size(); ++i) {
      if (i) out << ", ";
      out << t.constraints[i].key.name;
      if (t.constraints[i].value) out << '=' << to_sexpr(*t.constraints[i].value);
    }
    out << '>';
  }
  if (!t.shape.empty()) {
    out << '[';
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i) out << ", ";
      out << to_sexpr(*t.shape[i]);
    }
    out << ']';
  }
}

void print_statements(std::ostream& out, const std::vector<StmtPtr>& body, int depth) {
  std::string indent(2 * depth, ' ');
  for (const StmtPtr& s : body) {
    out << indent;
    if (const Let* let = s->as<Let>()) {
      out << (let->is_var ? "var " : "let ") << let->name.name << " = " << to_sexpr(*let->value);
    } else if (const Assign* a = s->as<Assign>()) {
      out << "assign " << a->name.name;
      for (const Subscript& sub : a->subscripts) out << " [" << (sub.lo ? to_sexpr(*sub.lo) : "") << "]";
      out << " = " << to_sexpr(*a->value);
    } else if (const Sample* smp = s->as<Sample>()) {
      out << "sample " << to_sexpr(*smp->lhs) << " ~ " << smp->dist.callee.name << '(';
      for (std::size_t i = 0; i < smp->dist.args.size(); ++i) {
        if (i) out << ", ";
        out << to_sexpr(*smp->dist.args[i]);
      }
      out << ')';
    } else if (const TargetIncrement* t = s->as<TargetIncrement>()) {
      out << "target += " << to_sexpr(*t->value);
    } else if (const Plate* p = s->as<Plate>()) {
      out << "plate " << p->index.name << " in " << p->dim.name
          << (p->subsample ? " subsample" : "") << at(s->span) << '\n';
      print_statements(out, p->body, depth + 1);
      continue;
    } else if (const For* f = s->as<For>()) {
      out << "for " << f->index.name << " in " << to_sexpr(*f->begin) << ':' << to_sexpr(*f->end)
          << at(s->span) << '\n';
      print_statements(out, f->body, depth + 1);
      continue;
    }
    out << at(s->span) << '\n';
  }
}

}  // namespace

std::string to_sexpr(const Expr& expr) {
  SexprWriter w;
  w.expr(expr);
  return w.out.str();
}

void print(std::ostream& out, const Program& program) {
  out << "model " << (program.model_name ? program.model_name->name : "<unnamed>")
      << (program.model_name ? at(program.model_name->span) : "") << '\n';
  for (const FnDef& f : program.functions) {
    out << "fn " << f.name.name << '(';
    for (std::size_t i = 0; i < f.params.size(); ++i) out << (i ? ", " : "") << f.params[i].name;
    out << ") = " << to_sexpr(*f.body) << at(f.span) << '\n';
  }
  for (const Block& b : program.blocks) {
    out << spelling(b.kind) << at(b.keyword_span) << '\n';
    for (const DimDecl& d : b.dims) {
      out << "  dim " << d.name.name;
      if (d.value) out << " = " << to_sexpr(*d.value);
      out << at(d.span) << '\n';
    }
    for (const VarDecl& v : b.vars) {
      out << "  " << v.name.name << " : ";
      print_type(out, v.type);
      if (v.init) out << " init " << to_sexpr(*v.init);
      out << at(v.span) << '\n';
    }
    print_statements(out, b.statements, 1);
  }
}

}  // namespace vmc::ast

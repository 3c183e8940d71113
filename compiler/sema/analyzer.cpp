#include "sema/analyzer.hpp"

namespace vmc::sema {

void Reporter::error(Span at, const std::string& message, const std::vector<Note>& notes) {
  if (!seen_.emplace(at.file, at.begin, at.end, message).second) return;
  ++errors_;
  Diagnostic& d = diags_.error(at, message);
  for (const Note& n : notes) d.note(n.span, n.text);
  for (auto it = calls_.rbegin(); it != calls_.rend(); ++it)
    d.note(it->first, "in call to '" + it->second + "' here");
}

void Reporter::warning(Span at, const std::string& message) {
  if (!seen_.emplace(at.file, at.begin, at.end, message).second) return;
  diags_.warning(at, message);
}

void Reporter::note(Span at, const std::string& message) {
  if (!seen_.emplace(at.file, at.begin, at.end, message).second) return;
  diags_.note(at, message);
}

void Reporter::error(const std::string& where, const std::string& message) {
  ++errors_;
  diags_.error(where, message);
}

const char* describe(SymbolKind kind) {
  switch (kind) {
    case SymbolKind::Dim: return "dim";
    case SymbolKind::Data: return "data";
    case SymbolKind::Param: return "param";
    case SymbolKind::Latent: return "latent";
    case SymbolKind::Fn: return "fn";
    case SymbolKind::Let: return "let-bound value";
    case SymbolKind::PlateIndex: return "plate index";
    case SymbolKind::FnParam: return "parameter";
    case SymbolKind::LoopIndex: return "loop index";
    case SymbolKind::Generated: return "generated quantity";
  }
  return "name";
}

std::string with_article(SymbolKind kind) {
  std::string k = describe(kind);
  return kind == SymbolKind::Data ? k : "a " + k;
}

Extent Analyzer::dim_extent(const std::string& dim) const {
  auto it = dim_values.find(dim);
  return it == dim_values.end() ? Extent::symbol(dim) : Extent::constant(it->second);
}

void Analyzer::use_data(const std::string& name, Span at, bool batched) {
  DataUses& u = data_uses[name];
  (batched ? u.batched : u.whole) = true;
  // Only for a model to be lowered: `vmc check` reports what is wrong in any use of the model.
  if (u.batched && u.whole && !u.reported && options.lowering) {
    u.reported = true;
    report.error(at, "data '" + name + "' is used both per datapoint of a subsampled plate and as a "
                     "whole; subsampling needs every use to go through the plate's index");
  }
}

const Symbol* Analyzer::global(const std::string& name) const {
  auto it = globals.find(name);
  return it == globals.end() ? nullptr : &it->second;
}

std::string quote(std::string_view text) {
  std::string out = "'";
  out += text;
  out += '\'';
  return out;
}

std::string source_text(Span span) {
  if (!span.valid()) return "";
  return span.file->text().substr(span.begin, span.end - span.begin);
}

std::string ordinal(std::size_t k) {
  static const char* const names[] = {"first", "second", "third", "fourth", "fifth"};
  if (k < 5) return names[k];
  return std::to_string(k + 1) + "th";
}

std::string count(std::size_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

const Symbol* lookup(const Analyzer& a, const Scope* scope, const std::string& name) {
  if (scope) {
    for (auto it = scope->frames.rbegin(); it != scope->frames.rend(); ++it) {
      auto found = it->names.find(name);
      if (found != it->names.end()) return &found->second;
    }
  }
  return a.global(name);
}

std::vector<std::string> visible_names(const Analyzer& a, const Scope* scope) {
  std::vector<std::string> names;
  if (scope) {
    for (const Frame& f : scope->frames) {
      for (const auto& [name, sym] : f.names) names.push_back(name);
    }
  }
  bool in_fn = scope && scope->fn;
  for (const auto& [name, sym] : a.globals) {
    if (sym.kind == SymbolKind::Fn || (in_fn && sym.kind == SymbolKind::Latent)) continue;
    names.push_back(name);
  }
  return names;
}

}  // namespace vmc::sema

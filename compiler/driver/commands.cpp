#include "driver/commands.hpp"

#include <charconv>
#include <iostream>

#include "driver/frontend.hpp"
#include "ir/printer.hpp"
#include "parse/ast_printer.hpp"

namespace vmc::driver {
namespace {

// Parses `--set NAME=VALUE` overrides; bad ones are reported with `--set` as their place.
bool parse_set(const std::vector<std::string>& items, std::map<std::string, std::int64_t>& out,
               Diagnostics& diags) {
  bool ok = true;
  for (const std::string& item : items) {
    auto eq = item.find('=');
    std::string name = item.substr(0, eq);
    std::int64_t value = 0;
    const char* first = eq == std::string::npos ? nullptr : item.data() + eq + 1;
    const char* last = item.data() + item.size();
    auto [ptr, ec] = first ? std::from_chars(first, last, value) : std::from_chars_result{};
    if (eq == std::string::npos || name.empty() || ec != std::errc() || ptr != last) {
      diags.error("--set", "expected NAME=INTEGER, got '" + item + "'");
      ok = false;
    } else if (value <= 0) {
      diags.error("--set", "dim '" + name + "' must be positive, got " + std::to_string(value));
      ok = false;
    } else {
      out[name] = value;
    }
  }
  return ok;
}

std::optional<lower::Estimator> estimator(const std::string& name) {
  if (name == "A") return lower::Estimator::A;
  if (name == "B") return lower::Estimator::B;
  if (name == "iwae") return lower::Estimator::Iwae;
  if (name == "stl") return lower::Estimator::Stl;
  return std::nullopt;
}

// L^B says once which latents keep their sampled log-ratio, and why.
void note_sampled_kl(FrontEnd& fe) {
  for (const std::string& name : fe.lowered->sampled_kl) {
    const sema::Variable* v = fe.model->find_variable(name);
    std::string guide = v->guide_family ? std::string(v->guide_family->name) : "automatic";
    std::string prior = v->prior ? std::string(v->prior->name) : "?";
    fe.diags.note(v->decl->span, "estimator B keeps the sampled log p - log q for latent '" + name +
                                     "': the KL between its guide (" + guide + ") and its prior (" +
                                     prior + ") has no closed form here");
  }
}

}  // namespace

bool compile_model(FrontEnd& fe, const ModelArgs& args, Stage stage) {
  bool lower_too = stage != Stage::Check, gradients = stage == Stage::Gradient;
  sema::Options options;
  options.auto_guide = args.guide;
  if (parse_set(args.set, options.set_dims, fe.diags)) check_file(fe, args.model_path, options);
  if (fe.model && lower_too) {
    lower::Options lo;
    lo.estimator = *estimator(args.estimator);
    lo.samples = args.samples;
    fe.lowered = lower::lower_model(*fe.model, lo, fe.diags);
    if (fe.lowered) note_sampled_kl(fe);
    if (fe.lowered && gradients) lower::add_gradients(*fe.lowered);
  }
  render(std::cerr, fe.diags);
  return !fe.diags.has_errors() && fe.model && (!lower_too || fe.lowered);
}

int run_check(const ModelArgs& args) {
  FrontEnd fe;
  if (!compile_model(fe, args, Stage::Check)) return 1;
  std::cout << sema::summary_line(*fe.model) << '\n';
  return 0;
}

int run_emit(const std::string& stage, const ModelArgs& args) {
  FrontEnd fe;
  if (stage == "ast") {
    parse_file(fe, args.model_path);
    render(std::cerr, fe.diags);
    if (fe.diags.has_errors() || !fe.program) return 1;
    ast::print(std::cout, *fe.program);
    return 0;
  }
  if (!compile_model(fe, args, stage == "grad" ? Stage::Gradient : Stage::Objective)) return 1;
  if (stage == "grad") {
    std::cout << "// joint value and gradient DAG: " << fe.lowered->nodes_before_simplify
              << " nodes before simplification, " << fe.lowered->nodes_after_simplify
              << " after\n";
  }
  ir::print(std::cout, fe.lowered->function);
  return 0;
}

}  // namespace vmc::driver

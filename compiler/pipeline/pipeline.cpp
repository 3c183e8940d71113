#include "pipeline/pipeline.hpp"

#include <algorithm>

#include "jit/jit.hpp"
#include "parse/parser.hpp"

namespace vmc::pipeline {
namespace {

bool parse(Compilation& c) {
  Source& s = *c.source;
  if (s.program) return true;
  if (!s.file) return false;
  StageTimer timer(&c.times, "parse");
  s.program = parse::parse_program(*s.file, c.diags);
  return s.program.has_value();
}

void check(Compilation& c, const Request& r, Stage stage) {
  sema::Options options;
  options.set_dims = r.dims;
  options.data_shapes = r.data_shapes;
  options.auto_guide = r.auto_guide;
  // Lowering reports no user error: sema checks what it needs when it is asked for.
  options.lowering = stage >= Stage::Objective;
  if (options.lowering && r.estimator->importance_weighted) options.importance_weighted = std::string(r.estimator->name);
  StageTimer timer(&c.times, "sema");
  c.model = sema::analyze(*c.source->program, options, c.diags);
}

// The closed-form estimator says once which latents keep their sampled log-ratio, and why.
void note_sampled_kl(Compilation& c, const lower::Estimator& estimator) {
  for (const std::string& name : c.lowered->sampled_kl) {
    const sema::Variable* v = c.model->find_variable(name);
    std::string guide = v->guide_family ? std::string(v->guide_family->name) : "automatic";
    std::string prior = v->prior ? std::string(v->prior->name) : "flat";
    c.diags.note(v->decl->span, "estimator " + std::string(estimator.name) +
                                    " keeps the sampled log p - log q for latent '" + name +
                                    "': the KL between its guide (" + guide + ") and its prior (" + prior +
                                    ") has no closed form here");
  }
}

void lower_objective(Compilation& c, const Request& r, bool gradients) {
  lower::Options options;
  options.estimator = r.estimator;
  options.samples = r.samples;
  {
    StageTimer timer(&c.times, "lower");
    c.lowered = lower::lower_model(*c.model, options);
  }
  note_sampled_kl(c, *r.estimator);
  if (gradients) lower::add_gradients(*c.lowered, &c.times);
}

void native(Compilation& c, const Request& r) {
  std::vector<std::string> available = jit::available_kernels(*c.lowered), kernels;
  for (const std::string& k : r.kernels) {
    if (std::find(available.begin(), available.end(), k) != available.end()) kernels.push_back(k);
  }
  const std::string cache = r.use_cache ? jit::default_cache_dir() : "";
  c.compiled = jit::CompiledModel::build(*c.lowered, r.precision, c.diags, c.source->file->path(), kernels, cache);
  if (!c.compiled) return;
  c.times.add("codegen", c.compiled->codegen_ms());
  c.times.add("LLVM optimise", c.compiled->timing().optimize_ms);
  c.times.add("JIT link", c.compiled->timing().codegen_and_link_ms);
}

}  // namespace

bool load_file(Compilation& c, const std::string& path) {
  std::string error;
  c.source->file = c.source->sources.load(path, error);
  if (!c.source->file) c.diags.error(path, error);
  return c.source->file != nullptr;
}

void load_text(Compilation& c, const std::string& name, const std::string& text) {
  c.source->file = c.source->sources.add(name, text);
}

bool compile(Compilation& c, const Request& r, Stage stage) {
  if (!parse(c) || c.diags.has_errors()) return false;
  if (stage == Stage::Parse) return true;
  if (!c.model) check(c, r, stage);
  if (!c.model || c.diags.has_errors() || stage == Stage::Check) return c.model && !c.diags.has_errors();
  if (!c.lowered) lower_objective(c, r, stage >= Stage::Gradient);
  if (!c.lowered || c.diags.has_errors() || stage < Stage::Native) return c.lowered && !c.diags.has_errors();
  if (!c.compiled) native(c, r);
  return c.compiled && !c.diags.has_errors();
}

}  // namespace vmc::pipeline

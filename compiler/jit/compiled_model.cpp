#include "jit/compiled_model.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include "ir/rewriter.hpp"
#include "support/check.hpp"

namespace vmc::jit {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

const std::map<std::string, void*>& runtime_symbols() {
  static const std::map<std::string, void*> symbols = {
      {"vmc_gemm_f32", reinterpret_cast<void*>(&vmc_gemm_f32)},
      {"vmc_gemm_f64", reinterpret_cast<void*>(&vmc_gemm_f64)},
      {"vmc_gemm_rows_f32", reinterpret_cast<void*>(&vmc_gemm_rows_f32)},
      {"vmc_gemm_rows_f64", reinterpret_cast<void*>(&vmc_gemm_rows_f64)},
      {"vmc_trsm_f32", reinterpret_cast<void*>(&vmc_trsm_f32)},
      {"vmc_trsm_f64", reinterpret_cast<void*>(&vmc_trsm_f64)},
      {"vmc_potrf_f32", reinterpret_cast<void*>(&vmc_potrf_f32)},
      {"vmc_potrf_f64", reinterpret_cast<void*>(&vmc_potrf_f64)},
      {"vmc_lgamma", reinterpret_cast<void*>(&vmc_lgamma)},
      {"vmc_digamma", reinterpret_cast<void*>(&vmc_digamma)},
      {"vmc_trigamma", reinterpret_cast<void*>(&vmc_trigamma)},
      {"vmc_ndtri", reinterpret_cast<void*>(&vmc_ndtri)},
      {"vmc_poisson_quantile", reinterpret_cast<void*>(&vmc_poisson_quantile)},
      {"vmc_binomial_quantile", reinterpret_cast<void*>(&vmc_binomial_quantile)},
      {"vmc_neg_binomial_2_quantile", reinterpret_cast<void*>(&vmc_neg_binomial_2_quantile)},
      {"vmc_student_t_quantile", reinterpret_cast<void*>(&vmc_student_t_quantile)},
      {"vmc_student_t_log_cdf", reinterpret_cast<void*>(&vmc_student_t_log_cdf)},
      {"vmc_gamma_quantile", reinterpret_cast<void*>(&vmc_gamma_quantile)},
      {"vmc_log_bessel_i0", reinterpret_cast<void*>(&vmc_log_bessel_i0)},
      {"vmc_bessel_i1_over_i0", reinterpret_cast<void*>(&vmc_bessel_i1_over_i0)},
      {"vmc_beta_quantile", reinterpret_cast<void*>(&vmc_beta_quantile)},
      {"vmc_student_t_log_cdf_dnu", reinterpret_cast<void*>(&vmc_student_t_log_cdf_dnu)},
      {"vmc_log_ndtr", reinterpret_cast<void*>(&vmc_log_ndtr)},
      {"vmc_loop", reinterpret_cast<void*>(&vmc_loop)},
      {"log1p", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::log1p))},
      {"log1pf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::log1pf))},
      {"expm1", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::expm1))},
      {"expm1f", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::expm1f))},
      {"tanh", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::tanh))},
      {"tanhf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::tanhf))},
      {"tan", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::tan))},
      {"tanf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::tanf))},
      {"atan", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::atan))},
      {"sin", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::sin))},
      {"sinf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::sinf))},
      {"cos", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::cos))},
      {"cosf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::cosf))},
      {"atanf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::atanf))},
      // What LLVM lowers its intrinsics to when it does not inline them.
      {"exp", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::exp))},
      {"expf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::expf))},
      {"log", reinterpret_cast<void*>(static_cast<double (*)(double)>(&::log))},
      {"logf", reinterpret_cast<void*>(static_cast<float (*)(float)>(&::logf))},
      {"pow", reinterpret_cast<void*>(static_cast<double (*)(double, double)>(&::pow))},
      {"powf", reinterpret_cast<void*>(static_cast<float (*)(float, float)>(&::powf))},
      {"memset", reinterpret_cast<void*>(&::memset)},
      {"memcpy", reinterpret_cast<void*>(&::memcpy)},
  };
  return symbols;
}

std::vector<std::string> available_kernels(const lower::Lowered& lowered) {
  std::vector<std::string> names{"elbo_grad", "elbo", "sample_guide"};
  if (!lowered.model_draws.empty()) names.push_back("sample_model");
  if (!lowered.reconstructions.empty()) names.push_back("reconstruct");
  if (!lowered.row_log_weights.empty()) names.push_back("log_weights");
  if (!lowered.support_values.empty()) names.push_back("support");
  if (!lowered.log_lik.empty()) names.push_back("log_lik");
  if (!lowered.generated.empty()) names.push_back("generated");
  return names;
}

std::vector<codegen::KernelSpec> kernel_specs(const lower::Lowered& lowered,
                                              const std::vector<std::string>& names) {
  const ir::Function& f = lowered.function;
  std::vector<codegen::KernelSpec> specs;
  for (const std::string& name : names) {
    codegen::KernelSpec spec{name, {}};
    if (name == "elbo_grad") {
      for (const ir::Output& o : f.outputs) spec.outputs.push_back(o.node);
      // The training step splits its minibatch across threads: its weight gradients' products
      // over the rows may be left to the runtime (abi.h, vmc_gemm_rows_*).
      for (std::size_t s = 0; s < f.graph->symbol_count(); ++s) {
        const std::string& symbol = f.graph->symbol_name(static_cast<std::int32_t>(s));
        auto dim = lowered.sizes.find(symbol);
        if (dim != lowered.sizes.end() && dim->second != symbol) spec.row_symbols.insert(static_cast<std::int32_t>(s));
      }
    } else if (name == "sample_guide") {
      for (const ir::Output& o : lowered.guide_draws) spec.outputs.push_back(o.node);
    } else if (name == "sample_model") {
      VMC_ASSERT(!lowered.model_draws.empty(), "no sample_model kernel: " + lowered.sample_model_problem);
      for (const ir::Output& o : lowered.model_draws) spec.outputs.push_back(o.node);
    } else if (name == "log_weights") {
      VMC_ASSERT(!lowered.row_log_weights.empty(), "no log_weights kernel: a latent is not local");
      for (const ir::Output& o : lowered.row_log_weights) spec.outputs.push_back(o.node);
    } else if (name == "support") {
      for (const ir::Output& o : lowered.support_values) spec.outputs.push_back(o.node);
    } else if (name == "log_lik") {
      VMC_ASSERT(!lowered.log_lik.empty(), "no log_lik kernel: " + lowered.log_lik_problem);
      for (const ir::Output& o : lowered.log_lik) spec.outputs.push_back(o.node);
    } else if (name == "generated") {
      VMC_ASSERT(!lowered.generated.empty(), "no generated kernel: the model has no generated block");
      for (const ir::Output& o : lowered.generated) spec.outputs.push_back(o.node);
    } else if (name == "reconstruct") {
      VMC_ASSERT(!lowered.reconstructions.empty(), "no reconstruct kernel: " + lowered.sample_model_problem);
      for (const ir::Output& o : lowered.reconstructions) spec.outputs.push_back(o.node);
    } else {
      VMC_ASSERT(name == "elbo", "no kernel named '" + name + "'");
      spec.outputs.push_back(f.output("elbo"));
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::unique_ptr<CompiledModel> CompiledModel::build(const lower::Lowered& lowered,
                                                    codegen::Precision precision,
                                                    Diagnostics& diags, const std::string& where,
                                                    const std::vector<std::string>& kernels,
                                                    const std::string& cache_dir) {
  for (const std::string& k : kernels) {
    if ((k == "sample_model" && lowered.model_draws.empty()) ||
        (k == "reconstruct" && lowered.reconstructions.empty())) {
      diags.error(where, "this model cannot be sampled forwards (" + k + "): " +
                             lowered.sample_model_problem);
      return nullptr;
    }
  }
  // An importance-weighted bound's first pass is the log_weights kernel (abi.h): it comes with
  // the kernels that estimate the bound.
  std::vector<std::string> names = kernels;
  bool estimates = std::find(names.begin(), names.end(), "elbo_grad") != names.end() ||
                   std::find(names.begin(), names.end(), "elbo") != names.end();
  if (lowered.importance_weight && estimates &&
      std::find(names.begin(), names.end(), "log_weights") == names.end()) {
    names.push_back("log_weights");
  }
  auto model = std::unique_ptr<CompiledModel>(new CompiledModel());
  model->precision_ = precision;
  const Target& host = host_target();
  auto start = Clock::now();
  std::vector<codegen::KernelSpec> specs = kernel_specs(lowered, names);
  // The training step's kernel in a module of its own, the others in another: compiled at once.
  codegen::Generated g = codegen::generate(lowered.function, specs, precision,
                                           {host.triple, host.cpu, host.features}, where, 2);
  model->codegen_ms_ = ms_since(start);
  model->inputs_ = g.inputs;
  model->symbols_ = g.symbols;
  std::vector<Jit::Unit> units;
  for (codegen::Unit& u : g.units) units.push_back({std::move(u.context), std::move(u.module)});
  model->jit_ = Jit::compile(std::move(units), runtime_symbols(), diags, where, cache_dir);
  if (!model->jit_) return nullptr;
  for (std::size_t k = 0; k < g.kernels.size(); ++k) {
    CompiledKernel ck;
    ck.name = g.kernels[k].name;
    ck.entry = reinterpret_cast<vmc_kernel>(model->jit_->lookup(ck.name, diags));
    ck.workspace_bytes =
        reinterpret_cast<vmc_workspace_bytes>(model->jit_->lookup(g.kernels[k].workspace_function, diags));
    ck.outputs = specs[k].outputs;
    if (!ck.entry || !ck.workspace_bytes) return nullptr;
    model->kernels_.push_back(ck);
  }
  model->describe(lowered);
  return model;
}

vmc_buffer_info CompiledModel::buffer(const ir::Node* n, std::int32_t kind) {
  vmc_buffer_info b{};
  b.name = strings_.emplace_back(n->attrs().name).c_str();
  b.kind = kind;
  b.is_int = n->dtype() == ir::DType::Int;
  std::vector<std::int64_t>& e = extents_.emplace_back();
  for (const ir::Extent& x : n->shape()) e.push_back(x.is_constant() ? x.size : -(x.symbol + 1));
  b.rank = static_cast<std::int32_t>(e.size());
  b.extents = e.data();
  b.role = "";
  return b;
}

static_assert(static_cast<int>(lower::Transform::Identity) == VMC_IDENTITY &&
              static_cast<int>(lower::Transform::Lower) == VMC_LOWER &&
              static_cast<int>(lower::Transform::Upper) == VMC_UPPER &&
              static_cast<int>(lower::Transform::Interval) == VMC_INTERVAL &&
              static_cast<int>(lower::Transform::Cholesky) == VMC_CHOLESKY,
              "lower::Transform and abi.h's vmc_transform must agree");

void CompiledModel::describe(const lower::Lowered& l) {
  for (const std::string& s : symbols_) {
    size_names_.push_back(strings_.emplace_back(s).c_str());
    auto dim = l.sizes.find(s);
    size_dims_.push_back(strings_.emplace_back(dim != l.sizes.end() ? dim->second : s).c_str());
  }
  std::vector<vmc_buffer_info>& inputs = buffers_.emplace_back();
  for (const ir::Node* n : inputs_) {
    std::int32_t kind = VMC_DATA;
    switch (n->attrs().input) {
      case ir::InputKind::Param: kind = VMC_PARAM; break;
      case ir::InputKind::Noise: kind = VMC_NOISE; break;
      case ir::InputKind::Uniform: kind = VMC_UNIFORM; break;
      case ir::InputKind::Size: kind = VMC_SIZE; break;
      case ir::InputKind::Weight: kind = VMC_WEIGHT; break;
      case ir::InputKind::Data: kind = n->attrs().name.rfind("index.", 0) == 0 ? VMC_INDEX : VMC_DATA; break;
    }
    vmc_buffer_info b = buffer(n, kind);
    for (const lower::ParamInput& p : l.params) {
      if (p.node != n) continue;
      b.transform = static_cast<std::int32_t>(p.transform);
      b.lower = p.lower;
      b.upper = p.upper;
    }
    for (const lower::DataInput& d : l.data) {
      if (d.node == n) b.role = strings_.emplace_back(d.batch_dim).c_str();
    }
    inputs.push_back(b);
  }
  for (const ir::Output& o : l.guide_draws) latent_names_.push_back(strings_.emplace_back(o.name).c_str());
  for (const CompiledKernel& k : kernels_) {
    std::vector<vmc_buffer_info>& outs = buffers_.emplace_back();
    const std::vector<ir::Output>& named = k.name == "sample_guide"   ? l.guide_draws
                                           : k.name == "sample_model" ? l.model_draws
                                           : k.name == "reconstruct"  ? l.reconstructions
                                           : k.name == "log_weights"  ? l.row_log_weights
                                           : k.name == "support"      ? l.support_values
                                           : k.name == "log_lik"      ? l.log_lik
                                           : k.name == "generated"    ? l.generated
                                                                      : l.function.outputs;
    for (std::size_t i = 0; i < k.outputs.size(); ++i) {
      vmc_buffer_info b = buffer(k.outputs[i], VMC_OUTPUT);
      b.name = strings_.emplace_back(named[i].name).c_str();
      outs.push_back(b);
    }
    std::vector<std::int32_t>& reads = reads_.emplace_back(inputs_.size(), 0);
    std::map<const ir::Node*, std::size_t> index;
    for (std::size_t i = 0; i < inputs_.size(); ++i) index[inputs_[i]] = i;
    ir::visit(k.outputs, [&](const ir::Node& n) {
      if (auto it = index.find(&n); it != index.end()) reads[it->second] = 1;
    });
    kernel_infos_.push_back({strings_.emplace_back(k.name).c_str(), k.entry, k.workspace_bytes,
                             static_cast<std::int32_t>(outs.size()), outs.data(), reads.data()});
  }
  info_.abi_version = VMC_ABI_VERSION;
  info_.real_bytes = precision_ == codegen::Precision::F32 ? 4 : 8;
  info_.n_sizes = static_cast<std::int32_t>(size_names_.size());
  info_.sizes = size_names_.data();
  info_.size_dims = size_dims_.data();
  info_.rows_additive = l.rows_additive ? 1 : 0;
  info_.row_free_part = l.row_free_part ? 1 : 0;
  info_.samples = l.samples;
  info_.importance_weighted = l.importance_weight ? 1 : 0;
  info_.n_inputs = static_cast<std::int32_t>(inputs.size());
  info_.inputs = inputs.data();
  info_.n_latents = static_cast<std::int32_t>(latent_names_.size());
  info_.latents = latent_names_.data();
  info_.n_kernels = static_cast<std::int32_t>(kernel_infos_.size());
  info_.kernels = kernel_infos_.data();
}

const CompiledKernel* CompiledModel::kernel(const std::string& name) const {
  for (const CompiledKernel& k : kernels_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

AlignedBuffer::AlignedBuffer(std::size_t bytes)
    : data(std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64)) {}
AlignedBuffer::~AlignedBuffer() { std::free(data); }

CompiledModel::Call::Call() = default;
CompiledModel::Call::~Call() = default;
CompiledModel::Call::Call(Call&&) noexcept = default;

CompiledModel::Call CompiledModel::prepare(const std::string& name, const ir::Bindings& b) const {
  const CompiledKernel* k = kernel(name);
  VMC_ASSERT(k, "no kernel named '" + name + "'");
  Call call;
  call.kernel_ = k;
  call.f32_ = precision_ == codegen::Precision::F32;
  std::size_t width = call.f32_ ? 4 : 8;
  for (const std::string& s : symbols_) call.sizes_.push_back(b.sizes.at(s));
  for (const ir::Node* n : inputs_) {
    const ir::Tensor& t = b.inputs.at(n->attrs().name);
    bool is_int = n->dtype() == ir::DType::Int;
    void* p = call.storage_.emplace_back(t.values.size() * 8).data;
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      if (is_int) static_cast<std::int64_t*>(p)[i] = static_cast<std::int64_t>(t.values[i]);
      else if (call.f32_) static_cast<float*>(p)[i] = static_cast<float>(t.values[i]);
      else static_cast<double*>(p)[i] = t.values[i];
    }
    call.inputs_.push_back(p);
  }
  for (const ir::Node* o : k->outputs) {
    std::vector<std::int64_t> shape = ir::concrete_shape(o->shape(), o->graph(), b);
    ir::Tensor t{shape, {}};
    call.output_shapes_.push_back(shape);
    call.outputs_.push_back(call.storage_.emplace_back(static_cast<std::size_t>(t.size()) * width).data);
  }
  call.storage_.emplace_back(static_cast<std::size_t>(k->workspace_bytes(call.sizes_.data())));
  call.workspace_ = call.storage_.back().data;
  return call;
}

void CompiledModel::Call::operator()() const {
  kernel_->entry(inputs_.data(), sizes_.data(), outputs_.data(), workspace_, nullptr);
}

std::vector<ir::Tensor> CompiledModel::Call::results() const {
  std::vector<ir::Tensor> out;
  for (std::size_t j = 0; j < outputs_.size(); ++j) {
    ir::Tensor t{output_shapes_[j], {}};
    t.values.resize(static_cast<std::size_t>(t.size()));
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      t.values[i] = f32_ ? static_cast<const float*>(outputs_[j])[i] : static_cast<const double*>(outputs_[j])[i];
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<ir::Tensor> CompiledModel::run(const std::string& name, const ir::Bindings& b) const {
  Call call = prepare(name, b);
  call();
  return call.results();
}

}  // namespace vmc::jit

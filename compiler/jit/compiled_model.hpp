// A model compiled to native code: the lowered objective and its gradient, generated as LLVM
// kernels (codegen) and JIT-compiled for the host (jit), with what a caller needs to call
// them: the order of their inputs and sizes, and their workspace sizes. This is what the
// runtime and the host API hold; the kernels themselves follow runtime/include/vmc/abi.h.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codegen/codegen.hpp"
#include "ir/interpreter.hpp"
#include "jit/jit.hpp"
#include "lower/lower.hpp"
#include "vmc/abi.h"

namespace vmc::jit {

struct CompiledKernel {
  std::string name;
  vmc_kernel entry = nullptr;
  vmc_workspace_bytes workspace_bytes = nullptr;
  std::vector<const ir::Node*> outputs;
};

// A 64-byte aligned byte buffer.
struct AlignedBuffer {
  explicit AlignedBuffer(std::size_t bytes);
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data(o.data) { o.data = nullptr; }
  void* data;
};

class CompiledModel {
 public:
  // One kernel with its buffers filled from interpreter bindings (in the model's precision) and
  // its workspace allocated: calling it runs the kernel with no conversion or allocation, so it
  // serves differential tests and benchmarks alike.
  class Call {
   public:
    Call();
    ~Call();
    Call(Call&&) noexcept;
    void operator()() const;
    std::vector<ir::Tensor> results() const;  // the outputs, converted to double

   private:
    friend class CompiledModel;
    const CompiledKernel* kernel_ = nullptr;
    bool f32_ = false;
    std::deque<AlignedBuffer> storage_;
    std::vector<const void*> inputs_;
    std::vector<void*> outputs_;
    std::vector<std::vector<std::int64_t>> output_shapes_;
    std::vector<std::int64_t> sizes_;
    void* workspace_ = nullptr;
  };

  // Compiles the named kernels (see kernel_specs): a fit needs only "elbo_grad", an evaluation
  // only "elbo", and each kernel costs compile time. Returns nullptr after reporting LLVM's
  // errors to `diags`. `lowered` must outlive the model (its IR names the buffers).
  static std::unique_ptr<CompiledModel> build(const lower::Lowered& lowered,
                                              codegen::Precision precision, Diagnostics& diags,
                                              const std::string& where,
                                              const std::vector<std::string>& kernels = {"elbo_grad"},
                                              const std::string& cache_dir = "");

  codegen::Precision precision() const { return precision_; }
  const std::vector<const ir::Node*>& inputs() const { return inputs_; }
  const std::vector<std::string>& symbols() const { return symbols_; }
  const CompiledKernel* kernel(const std::string& name) const;
  const Timing& timing() const { return jit_->timing(); }
  // The C description of every buffer and kernel (runtime/include/vmc/abi.h); it points into
  // this object, which must outlive it.
  const vmc_model_info& info() const { return info_; }
  double codegen_ms() const { return codegen_ms_; }

  Call prepare(const std::string& kernel, const ir::Bindings& bindings) const;
  // Runs a kernel on the same bindings the reference interpreter takes, converting to and
  // from the model's precision: the bridge for differential tests.
  std::vector<ir::Tensor> run(const std::string& kernel, const ir::Bindings& bindings) const;

 private:
  codegen::Precision precision_ = codegen::Precision::F64;
  std::vector<const ir::Node*> inputs_;
  std::vector<std::string> symbols_;
  std::vector<CompiledKernel> kernels_;
  std::unique_ptr<Jit> jit_;
  double codegen_ms_ = 0;

  void describe(const lower::Lowered& lowered);
  vmc_buffer_info buffer(const ir::Node* n, std::int32_t kind);
  // Storage behind info_'s pointers (deques: elements never move).
  std::deque<std::string> strings_;
  std::deque<std::vector<std::int64_t>> extents_;
  std::deque<std::vector<vmc_buffer_info>> buffers_;
  std::deque<std::vector<std::int32_t>> reads_;
  std::vector<const char*> size_names_, size_dims_, latent_names_;
  std::vector<vmc_kernel_info> kernel_infos_;
  vmc_model_info info_{};
};

// The routines generated code calls: the runtime's GEMM, TRSM and special functions, and the
// libm functions without an LLVM intrinsic. Bound into every JIT by name.
const std::map<std::string, void*>& runtime_symbols();

// The kernels a lowered model offers: "elbo_grad" (the ELBO, then the gradient of every param
// in the order of lowered.params), "elbo" (the value alone), "sample_guide" (the guide's draw
// of every latent, in lowered.guide_draws' order, from params, data and noise) and, when the
// model can be run forwards, "sample_model" (lowered.model_draws) and "reconstruct"
// (lowered.reconstructions).
std::vector<std::string> available_kernels(const lower::Lowered& lowered);
// The specs of the named kernels, in order.
std::vector<codegen::KernelSpec> kernel_specs(const lower::Lowered& lowered,
                                              const std::vector<std::string>& names);

}  // namespace vmc::jit

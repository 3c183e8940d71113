// A hand-written model through abi.h alone (no compiler, no LLVM): a param mu, data x[N] in a
// subsampled plate, per-row noise eps.mu[M], and the caller's elbo_grad kernel. Used by the
// trainer's unit tests and the checkpoint fuzz target.
#pragma once

#include <cstdint>

#include "vmc/abi.h"

struct TinyModel {
  const char* size_names[2] = {"N", "M"};
  const char* size_dims[2] = {"N", "N"};
  int64_t batch_extent[1] = {-2};  // the size symbol 1, M
  vmc_buffer_info inputs[5] = {
      {"mu", VMC_PARAM, 0, 0, nullptr, VMC_IDENTITY, 0, 0, ""},
      {"x", VMC_DATA, 0, 1, batch_extent, 0, 0, 0, "N"},
      {"N", VMC_SIZE, 0, 0, nullptr, 0, 0, 0, ""},
      {"M", VMC_SIZE, 0, 0, nullptr, 0, 0, 0, ""},
      {"eps.mu", VMC_NOISE, 0, 1, batch_extent, 0, 0, 0, ""},
  };
  vmc_buffer_info outputs[2] = {
      {"elbo", VMC_OUTPUT, 0, 0, nullptr, 0, 0, 0, ""},
      {"grad.mu", VMC_OUTPUT, 0, 0, nullptr, 0, 0, 0, ""},
  };
  int32_t reads[5] = {1, 1, 1, 1, 1};
  vmc_kernel_info kernel;
  vmc_model_info info;

  // `row_free_part`: whether the kernel's bound has a part outside the minibatch's rows.
  TinyModel(vmc_kernel elbo_grad, vmc_workspace_bytes workspace, bool row_free_part)
      : kernel{"elbo_grad", elbo_grad, workspace, 2, outputs, reads},
        info{VMC_ABI_VERSION, 8, 2, size_names, size_dims, 5, inputs, 1, row_free_part ? 1 : 0, /*samples*/ 1, /*importance_weighted*/ 0, 0, nullptr, 1, &kernel} {}
  TinyModel(const TinyModel&) = delete;
  TinyModel& operator=(const TinyModel&) = delete;
};

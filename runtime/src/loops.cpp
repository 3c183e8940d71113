// vmc_loop (abi.h): the driver of a compiled loop's body and of its adjoint. The body and vjp are
// kernels generated from the loop's body function (compiler/ir/loop.hpp); this file only calls
// them in order and keeps their memory.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "vmc/abi.h"

namespace {

// A kernel's workspace: 64-byte aligned, as abi.h promises kernels.
struct Workspace {
  std::vector<std::byte> bytes;
  void* at(int64_t size) {
    bytes.resize(static_cast<std::size_t>(size) + 64);
    auto p = reinterpret_cast<std::uintptr_t>(bytes.data());
    return bytes.data() + ((64 - p % 64) % 64);
  }
};

// What one active loop uses; one per nesting depth and thread, kept and reused.
struct Frame {
  Workspace workspace;
  std::vector<std::byte> states, next, part;
  std::vector<const void*> inputs;
};

thread_local std::vector<std::unique_ptr<Frame>> frames;
thread_local std::size_t depth = 0;

struct Enter {
  Frame& frame;
  Enter() : frame(acquire()) {}
  ~Enter() { --depth; }
  static Frame& acquire() {
    if (frames.size() <= depth) frames.push_back(std::make_unique<Frame>());
    return *frames[depth++];
  }
};

template <class T>
void run(vmc_kernel body, vmc_workspace_bytes body_workspace, vmc_kernel vjp, vmc_workspace_bytes vjp_workspace,
         const int64_t* sizes, vmc_context* context, int64_t begin, int64_t end, const void* c0, int64_t carry_elems,
         const void* const* invariants, int64_t n_inv, const void* carry_bar, int64_t which, int64_t out_elems,
         void* out) {
  Enter enter;
  Frame& f = enter.frame;
  const std::size_t carry_bytes = static_cast<std::size_t>(carry_elems) * sizeof(T);
  const int64_t count = end > begin ? end - begin : 0;
  T t = 0;
  f.inputs.assign(static_cast<std::size_t>(n_inv) + 2, nullptr);
  f.inputs[0] = &t;
  for (int64_t k = 0; k < n_inv; ++k) f.inputs[2 + static_cast<std::size_t>(k)] = invariants[k];
  void* workspace = f.workspace.at(body_workspace(sizes));
  // The states before each iteration and after the last: two when only the result is wanted.
  const std::size_t kept = carry_bar ? static_cast<std::size_t>(count) + 1 : 2;
  f.states.resize(kept * carry_bytes);
  std::byte* states = f.states.data();
  std::memcpy(states, c0, carry_bytes);
  std::size_t last = 0;
  for (int64_t i = 0; i < count; ++i) {
    t = static_cast<T>(begin + i);
    std::size_t from = carry_bar ? static_cast<std::size_t>(i) : last, to = carry_bar ? from + 1 : 1 - last;
    f.inputs[1] = states + from * carry_bytes;
    void* outputs[1] = {states + to * carry_bytes};
    body(f.inputs.data(), sizes, outputs, workspace, context);
    last = to;
  }
  if (!carry_bar) {
    std::memcpy(out, states + last * carry_bytes, carry_bytes);
    return;
  }
  // Backwards: g is the adjoint of the state after iteration i, then of the state before it.
  workspace = f.workspace.at(vjp_workspace(sizes));
  f.next.resize(2 * carry_bytes);
  std::byte* g = f.next.data();
  std::byte* g_before = g + carry_bytes;
  std::memcpy(g, carry_bar, carry_bytes);
  T* sum = static_cast<T*>(out);
  if (which != 2) std::memset(out, 0, static_cast<std::size_t>(out_elems) * sizeof(T));
  f.part.resize(static_cast<std::size_t>(out_elems) * sizeof(T));
  const T* part = reinterpret_cast<const T*>(f.part.data());
  f.inputs.push_back(nullptr);
  for (int64_t i = count - 1; i >= 0; --i) {
    t = static_cast<T>(begin + i);
    f.inputs[1] = states + static_cast<std::size_t>(i) * carry_bytes;
    f.inputs.back() = g;
    void* outputs[2] = {g_before, f.part.data()};
    vjp(f.inputs.data(), sizes, outputs, workspace, context);
    if (which != 2) {
      for (int64_t e = 0; e < out_elems; ++e) sum[e] += part[e];
    }
    std::swap(g, g_before);
  }
  if (which == 2) std::memcpy(out, g, carry_bytes);
}

}  // namespace

extern "C" void vmc_loop(vmc_kernel body, vmc_workspace_bytes body_workspace, vmc_kernel vjp,
                         vmc_workspace_bytes vjp_workspace, const int64_t* sizes, vmc_context* context,
                         int64_t begin, int64_t end, int32_t real_bytes, const void* c0, int64_t carry_elems,
                         const void* const* invariants, int64_t n_inv, const void* carry_bar, int64_t which,
                         int64_t out_elems, void* out) {
  if (real_bytes == 4) {
    run<float>(body, body_workspace, vjp, vjp_workspace, sizes, context, begin, end, c0, carry_elems, invariants,
               n_inv, carry_bar, which, out_elems, out);
  } else {
    run<double>(body, body_workspace, vjp, vjp_workspace, sizes, context, begin, end, c0, carry_elems, invariants,
                n_inv, carry_bar, which, out_elems, out);
  }
}

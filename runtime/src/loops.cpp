// vmc_loop (abi.h): the driver of a compiled loop's body and of its adjoint. The body and vjp are
// kernels generated from the loop's body function (compiler/ir/loop.hpp); this file only calls
// them in order and keeps their memory.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
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
  std::vector<std::byte> states, next;
  std::vector<std::vector<std::byte>> parts;
  std::vector<const void*> inputs;
  std::vector<void*> outputs;
};

// Every operand's adjoint from a loop's last backward pass, for the calls that follow.
struct Adjoints {
  std::vector<std::byte> carry;
  std::vector<std::vector<std::byte>> invariants;
};
using AdjointKey = std::tuple<vmc_kernel, const void*, const void*, std::size_t>;

thread_local std::vector<std::unique_ptr<Frame>> frames;
thread_local std::size_t depth = 0;
thread_local std::map<AdjointKey, Adjoints> adjoints;

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
         const void* const* invariants, int64_t n_inv, int64_t n_wanted, const int64_t* wanted,
         const int64_t* inv_elems, const void* carry_bar, int64_t which, int32_t first, void* out) {
  const std::size_t carry_bytes = static_cast<std::size_t>(carry_elems) * sizeof(T);
  const AdjointKey key{vjp, c0, carry_bar, depth};
  const std::size_t m = static_cast<std::size_t>(n_wanted);
  // Where operand `which`'s adjoint is among those kept.
  auto result = [&](const Adjoints& a) -> const std::vector<std::byte>& {
    if (which == 2) return a.carry;
    for (std::size_t j = 0; j < m; ++j) {
      if (wanted[j] == which - 3) return a.invariants[j];
    }
    std::abort();  // the generated code asks only for the adjoints its vjp gives
  };
  if (carry_bar && !first) {
    const std::vector<std::byte>& kept = result(adjoints.at(key));
    std::memcpy(out, kept.data(), kept.size());
    return;
  }
  Enter enter;
  Frame& f = enter.frame;
  const int64_t count = end > begin ? end - begin : 0;
  const std::size_t n = static_cast<std::size_t>(n_inv);
  T t = 0;
  f.inputs.assign(n + 2, nullptr);
  f.inputs[0] = &t;
  for (std::size_t k = 0; k < n; ++k) f.inputs[2 + k] = invariants[k];
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
  // Backwards: g is the adjoint of the state after iteration i, then of the state before it;
  // each invariant's adjoint is the sum of the iterations' parts.
  workspace = f.workspace.at(vjp_workspace(sizes));
  f.next.resize(2 * carry_bytes);
  std::byte* g = f.next.data();
  std::byte* g_before = g + carry_bytes;
  std::memcpy(g, carry_bar, carry_bytes);
  Adjoints& a = adjoints[key];
  a.invariants.resize(m);
  f.parts.resize(m);
  f.outputs.assign(m + 1, nullptr);
  for (std::size_t j = 0; j < m; ++j) {
    const std::size_t bytes = static_cast<std::size_t>(inv_elems[j]) * sizeof(T);
    a.invariants[j].assign(bytes, std::byte{0});
    f.parts[j].resize(bytes);
    f.outputs[1 + j] = f.parts[j].data();
  }
  f.inputs.push_back(nullptr);
  for (int64_t i = count - 1; i >= 0; --i) {
    t = static_cast<T>(begin + i);
    f.inputs[1] = states + static_cast<std::size_t>(i) * carry_bytes;
    f.inputs.back() = g;
    f.outputs[0] = g_before;
    vjp(f.inputs.data(), sizes, f.outputs.data(), workspace, context);
    for (std::size_t j = 0; j < m; ++j) {
      T* sum = reinterpret_cast<T*>(a.invariants[j].data());
      const T* part = reinterpret_cast<const T*>(f.parts[j].data());
      for (int64_t e = 0; e < inv_elems[j]; ++e) sum[e] += part[e];
    }
    std::swap(g, g_before);
  }
  a.carry.assign(g, g + carry_bytes);
  const std::vector<std::byte>& adjoint = result(a);
  std::memcpy(out, adjoint.data(), adjoint.size());
}

// The generated code that calls vmc_loop cannot unwind: a loop whose states do not fit in memory
// (its trip count from int data, which the memory check before training cannot see) ends the
// process with a message, not an abort.
[[noreturn]] void out_of_memory(int64_t count, int64_t carry_elems, int32_t real_bytes) {
  std::fprintf(stderr, "vmc: error: out of memory: a loop of %lld iterations keeps %.3g GB of states for its "
                       "gradient; make it shorter or its state smaller\n",
               static_cast<long long>(count),
               static_cast<double>(count + 1) * static_cast<double>(carry_elems) * real_bytes / 1e9);
  std::_Exit(1);
}

}  // namespace

extern "C" void vmc_loop(vmc_kernel body, vmc_workspace_bytes body_workspace, vmc_kernel vjp,
                         vmc_workspace_bytes vjp_workspace, const int64_t* sizes, vmc_context* context,
                         int64_t begin, int64_t end, int32_t real_bytes, const void* c0, int64_t carry_elems,
                         const void* const* invariants, int64_t n_inv, int64_t n_wanted, const int64_t* wanted,
                         const int64_t* inv_elems, const void* carry_bar, int64_t which, int32_t first, void* out) {
  try {
  if (real_bytes == 4) {
    run<float>(body, body_workspace, vjp, vjp_workspace, sizes, context, begin, end, c0, carry_elems, invariants,
               n_inv, n_wanted, wanted, inv_elems, carry_bar, which, first, out);
  } else {
    run<double>(body, body_workspace, vjp, vjp_workspace, sizes, context, begin, end, c0, carry_elems, invariants,
                n_inv, n_wanted, wanted, inv_elems, carry_bar, which, first, out);
  }
  } catch (const std::bad_alloc&) {
    out_of_memory(end > begin ? end - begin : 0, carry_elems, real_bytes);
  }
}

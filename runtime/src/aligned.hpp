// 64-byte aligned buffers for the engine (engine.hpp): the kernels' inputs, outputs and
// workspaces, params and optimizer state. Internal to the runtime.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace vmc::runtime::detail {

// 64-byte aligned storage for kernel buffers (abi.h asks it of workspaces; it helps the rest).
template <typename T>
struct Aligned {
  T* data = nullptr;
  std::size_t size = 0, capacity = 0;
  Aligned() = default;
  Aligned(const Aligned&) = delete;
  Aligned(Aligned&& o) noexcept : data(o.data), size(o.size), capacity(o.capacity) { o.data = nullptr; }
  ~Aligned() { std::free(data); }
  void resize(std::size_t n) {  // contents are not kept
    size = n;
    if (n <= capacity) return;
    std::free(data);
    std::size_t bytes = (std::max<std::size_t>(n, 1) * sizeof(T) + 63) / 64 * 64;
    data = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!data) throw std::bad_alloc();
    capacity = bytes / sizeof(T);
  }
  void zero() { std::memset(data, 0, size * sizeof(T)); }
};

}  // namespace vmc::runtime::detail

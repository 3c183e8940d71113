// Running out of memory, said once with what was being done: "vmc: error: out of memory while
// sampling 100 draws from the guide" (main.cpp), never a std::bad_alloc blamed on whichever
// file a handler happened to name.
#pragma once

#include <new>
#include <string>
#include <utility>

namespace vmc::driver {

// A std::bad_alloc that knows what the command was doing when it came.
struct OutOfMemory : std::bad_alloc {
  explicit OutOfMemory(std::string doing) : doing(std::move(doing)) {}
  const char* what() const noexcept override { return doing.c_str(); }
  std::string doing;  // "sampling 100 draws from the guide"
};

// Runs f(); a std::bad_alloc from inside becomes OutOfMemory(doing), unless an inner while_doing
// already said more precisely what it was.
template <typename F>
decltype(auto) while_doing(const std::string& doing, F&& f) {
  try {
    return f();
  } catch (const OutOfMemory&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(doing);
  }
}

}  // namespace vmc::driver

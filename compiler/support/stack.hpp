// Runs a command on a thread with a large stack. Every pass over the AST and the IR recurses
// once per nesting level; a generous stack lets long and deep (but legitimate) expressions
// through, such as a 10,000-term sum, while the parser refuses absurd bracket nesting.
#pragma once

#include <cstddef>
#include <functional>

namespace vmc {

constexpr std::size_t kCompilerStackBytes = std::size_t{1} << 30;  // reserved, not committed

// Runs `body` on a thread with `bytes` of stack and returns its result; if such a thread cannot
// be made, runs it on the calling thread.
int run_with_stack(const std::function<int()>& body, std::size_t bytes = kCompilerStackBytes);

}  // namespace vmc

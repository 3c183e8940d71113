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

// A thread with `bytes` of stack running `body` (a std::thread has 8 MB: too little for LLVM's
// passes on a long expression); join() waits for it. If such a thread cannot be made, the body
// runs on the calling thread in the constructor.
class StackThread {
 public:
  explicit StackThread(std::function<void()> body, std::size_t bytes = kCompilerStackBytes);
  ~StackThread();  // joins
  StackThread(const StackThread&) = delete;
  StackThread& operator=(const StackThread&) = delete;
  void join();

 private:
  std::function<void()> body_;
  unsigned long thread_ = 0;  // a pthread_t
  bool running_ = false;
};

}  // namespace vmc

#include "support/stack.hpp"

#include <pthread.h>

namespace vmc {
namespace {

struct Job {
  const std::function<int()>* body;
  int result = 0;
};

void* trampoline(void* arg) {
  auto* job = static_cast<Job*>(arg);
  job->result = (*job->body)();
  return nullptr;
}

}  // namespace

int run_with_stack(const std::function<int()>& body, std::size_t bytes) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return body();
  Job job{&body};
  pthread_t thread;
  bool started = pthread_attr_setstacksize(&attr, bytes) == 0 &&
                 pthread_create(&thread, &attr, trampoline, &job) == 0;
  pthread_attr_destroy(&attr);
  if (!started) return body();
  pthread_join(thread, nullptr);
  return job.result;
}

namespace {
void* run_body(void* arg) {
  (*static_cast<std::function<void()>*>(arg))();
  return nullptr;
}
}  // namespace

StackThread::StackThread(std::function<void()> body, std::size_t bytes) : body_(std::move(body)) {
  static_assert(sizeof(pthread_t) <= sizeof thread_);
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) == 0) {
    pthread_t thread;
    running_ = pthread_attr_setstacksize(&attr, bytes) == 0 &&
               pthread_create(&thread, &attr, run_body, &body_) == 0;
    if (running_) thread_ = static_cast<unsigned long>(thread);
    pthread_attr_destroy(&attr);
  }
  if (!running_) body_();
}

StackThread::~StackThread() { join(); }

void StackThread::join() {
  if (!running_) return;
  pthread_join(static_cast<pthread_t>(thread_), nullptr);
  running_ = false;
}

}  // namespace vmc

// The on-disk cache of compiled objects: an unchanged model compiles from it in milliseconds.
// Internal to compiler/jit.
//
// Entries are keyed by a SHA-256 of everything that decides the object: the unoptimised module
// as generated, the target CPU and features, LLVM's version, and the version of this format and
// of the optimisation pipeline. An entry is `magic, payload size, xxh3 of the payload, payload`,
// written to a temporary file and renamed into place, so concurrent runs never see a partial
// entry and a corrupt or truncated one is detected and replaced instead of loaded.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <llvm/ExecutionEngine/ObjectCache.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/MemoryBuffer.h>

namespace vmc::jit {

class DiskObjectCache : public llvm::ObjectCache {
 public:
  // `dir` is created if missing; a cache that cannot be created or written is a cache that
  // misses, never an error.
  DiskObjectCache(std::filesystem::path dir, const llvm::Module& module, const std::string& cpu,
                  const std::string& features);

  // The cached object for the module, if a valid entry exists.
  std::unique_ptr<llvm::MemoryBuffer> load() const;

  // llvm::ObjectCache: called by the compiler after it emits the module's object.
  void notifyObjectCompiled(const llvm::Module* module, llvm::MemoryBufferRef object) override;
  std::unique_ptr<llvm::MemoryBuffer> getObject(const llvm::Module*) override { return nullptr; }

  const std::string& key() const { return key_; }

 private:
  std::filesystem::path dir_;
  std::string key_;
};

}  // namespace vmc::jit

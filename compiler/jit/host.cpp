#include "jit/host.hpp"

#include <mutex>

#include <llvm/Support/Error.h>
#include <llvm/Support/TargetSelect.h>

#include "jit/jit.hpp"
#include "support/check.hpp"

namespace vmc::jit {

void initialize_native_target() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

const llvm::orc::JITTargetMachineBuilder& host_machine_builder() {
  static const llvm::orc::JITTargetMachineBuilder builder = [] {
    initialize_native_target();
    // detectHost reads the process triple and the CPU's name and features; it cannot fail
    // on a host LLVM was built for, so a failure here is a broken installation.
    auto detected = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!detected) {
      internal_error("LLVM cannot describe the host: " + llvm::toString(detected.takeError()),
                     __FILE__, __LINE__);
    }
    detected->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    return std::move(*detected);
  }();
  return builder;
}

std::unique_ptr<llvm::TargetMachine> host_target_machine() {
  auto machine = llvm::orc::JITTargetMachineBuilder(host_machine_builder()).createTargetMachine();
  if (!machine) {
    internal_error("LLVM has no target machine for the host: " +
                       llvm::toString(machine.takeError()),
                   __FILE__, __LINE__);
  }
  return std::move(*machine);
}

const Target& host_target() {
  static const Target target = [] {
    const auto& builder = host_machine_builder();
    return Target{builder.getTargetTriple().str(), builder.getCPU(),
                  builder.getFeatures().getString()};
  }();
  return target;
}

}  // namespace vmc::jit

// The host's LLVM target machine, shared by optimize() and the JIT. Internal to compiler/jit:
// nothing outside this folder sees an LLVM type.
#pragma once

#include <memory>

#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/Target/TargetMachine.h>

namespace vmc::jit {

// Registers the native target, its assembly printer and parser with LLVM, once per process.
void initialize_native_target();

// The host's triple, CPU and features at CodeGenOptLevel::Aggressive (detected once).
const llvm::orc::JITTargetMachineBuilder& host_machine_builder();

// A new target machine for the host (a TargetMachine is not shared between threads).
std::unique_ptr<llvm::TargetMachine> host_target_machine();

}  // namespace vmc::jit

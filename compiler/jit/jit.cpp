#include "jit/jit.hpp"

#include <chrono>
#include <cstdlib>
#include <algorithm>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/raw_ostream.h>

#include "jit/host.hpp"
#include "jit/object_cache.hpp"
#include "support/check.hpp"
#include "support/stack.hpp"

namespace vmc::jit {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string without_trailing_newlines(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// The names the module defines for others to call: each is looked up once at compile time so
// that code generation happens (and fails) there, not at the first call.
std::vector<std::string> defined_names(const llvm::Module& module) {
  std::vector<std::string> names;
  for (const llvm::GlobalObject& object : module.global_objects()) {
    if (object.isDeclaration() || object.hasLocalLinkage() ||
        object.hasAvailableExternallyLinkage()) {
      continue;
    }
    names.push_back(object.getName().str());
  }
  return names;
}

}  // namespace

struct Jit::Impl {
  std::string where;
  std::vector<std::shared_ptr<DiskObjectCache>> caches;  // outlive the JIT that writes into them
  // What the execution session reports outside any lookup's result (a failed materialization
  // is reported here as well as to the lookup that triggered it).
  std::vector<std::string> session_errors;
  // Last, so that it is destroyed first: its session may still report into session_errors.
  std::unique_ptr<llvm::orc::LLJIT> lljit;
};

Jit::~Jit() = default;

std::string default_cache_dir() {
  if (const char* dir = std::getenv("VMC_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/vmc";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/vmc";
  return "";
}

std::unique_ptr<Jit> Jit::compile(std::unique_ptr<llvm::LLVMContext> context,
                                  std::unique_ptr<llvm::Module> module,
                                  const std::map<std::string, void*>& symbols,
                                  Diagnostics& diags, const std::string& where,
                                  const std::string& cache_dir) {
  VMC_ASSERT(context && module, "Jit::compile needs a module and its context");
  std::vector<Unit> units;
  units.push_back({std::move(context), std::move(module)});
  return compile(std::move(units), symbols, diags, where, cache_dir);
}

std::unique_ptr<Jit> Jit::compile(std::vector<Unit> units, const std::map<std::string, void*>& symbols,
                                  Diagnostics& diags, const std::string& where, const std::string& cache_dir) {
  auto begin = Clock::now();
  auto report = [&](llvm::Error error) -> std::unique_ptr<Jit> {
    diags.error(where, "LLVM: " + without_trailing_newlines(llvm::toString(std::move(error))));
    return nullptr;
  };
  // Each module is destroyed before its context, whichever way this returns.
  struct Part {
    llvm::orc::ThreadSafeModule module;
    std::shared_ptr<DiskObjectCache> cache;
    std::unique_ptr<llvm::MemoryBuffer> object;  // from the cache, or compiled below
    double optimize_ms = 0;
    std::string error;
  };
  std::vector<Part> parts;
  parts.reserve(units.size());  // the compile threads below hold pointers into it
  std::vector<std::string> names;
  initialize_native_target();
  vector_math_available();  // objects (fresh or cached) may call libmvec's routines
  for (Unit& unit : units) {
    VMC_ASSERT(unit.context && unit.module, "Jit::compile needs a module and its context");
    Part& part = parts.emplace_back();
    part.module = llvm::orc::ThreadSafeModule(std::move(unit.module), std::move(unit.context));
    // A malformed module is our code generator's bug; LLVM's passes would crash on it, so it
    // stops here with the verifier's explanation.
    std::string problems;
    llvm::raw_string_ostream problems_stream(problems);
    if (part.module.withModuleDo([&](llvm::Module& m) { return llvm::verifyModule(m, &problems_stream); })) {
      diags.error(where, "LLVM: internal error: the generated module is malformed (a bug in vmc's "
                         "code generator):\n" + without_trailing_newlines(problems));
      return nullptr;
    }
    for (std::string& name : part.module.withModuleDo([](const llvm::Module& m) { return defined_names(m); })) {
      names.push_back(std::move(name));
    }
    // With a cache: an unchanged module (same text, same target) loads its object from disk
    // and skips optimisation and code generation; a new one is compiled and its object written.
    if (!cache_dir.empty()) {
      const Target& host = host_target();
      part.cache = part.module.withModuleDo([&](const llvm::Module& m) {
        return std::make_shared<DiskObjectCache>(cache_dir, m, host.cpu, host.features);
      });
      part.object = part.cache->load();
    }
  }
  std::unique_ptr<Jit> jit(new Jit);
  jit->impl_ = std::make_unique<Impl>();
  Impl& impl = *jit->impl_;
  impl.where = where;
  for (const Part& part : parts) {
    if (part.cache) impl.caches.push_back(part.cache);
  }
  jit->timing_.from_cache = std::all_of(parts.begin(), parts.end(), [](const Part& p) { return p.object != nullptr; });

  // The modules not in the cache: optimised and compiled to objects, each on a thread of its
  // own. Each has its own context and target machine; no C++ exception
  // may unwind through LLVM's frames, so ours become the part's error.
  auto build = [](Part& part) {
    part.module.withModuleDo([&part](llvm::Module& m) {
      try {
        auto start = Clock::now();
        optimize(m);
        part.optimize_ms = ms_since(start);
        auto machine = host_target_machine();
        llvm::orc::SimpleCompiler compiler(*machine, part.cache.get());
        auto object = compiler(m);
        if (!object) {
          part.error = without_trailing_newlines(llvm::toString(object.takeError()));
        } else {
          part.object = std::move(*object);
        }
      } catch (const std::exception& e) {
        part.error = e.what();
      }
    });
  };
  std::vector<Part*> todo;
  for (Part& part : parts) {
    if (!part.object) todo.push_back(&part);
  }
  // Every part on a thread with a big stack (also the last: the host API's caller may have a
  // small one), since LLVM's passes recurse along chains of instructions.
  std::vector<std::unique_ptr<StackThread>> helpers;
  for (Part* part : todo) helpers.push_back(std::make_unique<StackThread>([&build, part] { build(*part); }));
  for (auto& helper : helpers) helper->join();
  for (const Part& part : parts) {
    jit->timing_.optimize_ms = std::max(jit->timing_.optimize_ms, part.optimize_ms);
    if (!part.error.empty()) {
      diags.error(where, "LLVM: " + part.error);
      return nullptr;
    }
  }

  llvm::orc::LLJITBuilder builder;
  builder.setJITTargetMachineBuilder(host_machine_builder());
  auto created = builder.create();
  if (!created) return report(created.takeError());
  impl.lljit = std::move(*created);
  llvm::orc::LLJIT& lljit = *impl.lljit;
  lljit.getExecutionSession().setErrorReporter([&impl](llvm::Error error) {
    impl.session_errors.push_back(without_trailing_newlines(llvm::toString(std::move(error))));
  });

  llvm::orc::SymbolMap bound;
  for (const auto& [name, address] : symbols) {
    VMC_ASSERT(address != nullptr, "symbol '" + name + "' is bound to a null address");
    bound[lljit.mangleAndIntern(name)] = llvm::orc::ExecutorSymbolDef(
        llvm::orc::ExecutorAddr::fromPtr(address),
        llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
  }
  if (auto error = lljit.getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(bound)))) {
    return report(std::move(error));
  }
  for (Part& part : parts) {
    if (auto error = lljit.addObjectFile(std::move(part.object))) return report(std::move(error));
  }

  if (!names.empty()) {
    llvm::orc::SymbolLookupSet wanted;
    for (const std::string& name : names) wanted.add(lljit.mangleAndIntern(name));
    auto& session = lljit.getExecutionSession();
    auto found = session.lookup(
        llvm::orc::makeJITDylibSearchOrder(&lljit.getMainJITDylib(),
                                           llvm::orc::JITDylibLookupFlags::MatchAllSymbols),
        std::move(wanted));
    if (!found) {
      // The session's own report names the cause (an unresolved external, say); the lookup's
      // error then only adds that the module's symbols failed to materialize.
      if (impl.session_errors.empty()) return report(found.takeError());
      llvm::consumeError(found.takeError());
      for (const std::string& message : impl.session_errors) diags.error(where, "LLVM: " + message);
      return nullptr;
    }
  }
  // Everything but the optimisation: verifying, the cache's keys and loads, code generation,
  // linking.
  jit->timing_.codegen_and_link_ms = ms_since(begin) - jit->timing_.optimize_ms;
  return jit;
}

void* Jit::lookup(const std::string& name, Diagnostics& diags) {
  auto address = impl_->lljit->lookup(name);
  if (!address) {
    diags.error(impl_->where, "LLVM: cannot find '" + name + "' in the compiled module: " +
                                  without_trailing_newlines(llvm::toString(address.takeError())));
    return nullptr;
  }
  return address->toPtr<void*>();
}

}  // namespace vmc::jit

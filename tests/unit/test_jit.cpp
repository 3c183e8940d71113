// The JIT (compiler/jit): LLVM modules built by hand with IRBuilder, compiled for the host,
// called; LLVM's failures come back as diagnostics, never as an abort.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>

#include "jit/jit.hpp"
#include "support/diagnostics.hpp"

namespace {

using namespace vmc;

extern "C" double vmc_test_scale_hook(double v) { return 2 * v; }

// A context and a module in it, ready to hand to Jit::compile.
struct Unit {
  std::unique_ptr<llvm::LLVMContext> context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module = std::make_unique<llvm::Module>("test", *context);
  llvm::IRBuilder<> b{*context};

  llvm::Function* function(const std::string& name, llvm::Type* result,
                           std::vector<llvm::Type*> params) {
    auto* type = llvm::FunctionType::get(result, params, false);
    return llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, *module);
  }
  llvm::Type* f64() { return b.getDoubleTy(); }
  llvm::Type* f32() { return b.getFloatTy(); }
  llvm::Type* i64() { return b.getInt64Ty(); }
  llvm::Type* ptr() { return b.getPtrTy(); }

  // for (i = 0; i < n; ++i) body(i), at the builder's insertion point; leaves it after the loop.
  void loop(llvm::Value* n, const std::function<void(llvm::Value*)>& body) {
    llvm::Function* f = b.GetInsertBlock()->getParent();
    llvm::BasicBlock* before = b.GetInsertBlock();
    auto* header = llvm::BasicBlock::Create(*context, "loop", f);
    auto* inside = llvm::BasicBlock::Create(*context, "body", f);
    auto* after = llvm::BasicBlock::Create(*context, "done", f);
    b.CreateBr(header);
    b.SetInsertPoint(header);
    llvm::PHINode* i = b.CreatePHI(i64(), 2, "i");
    i->addIncoming(b.getInt64(0), before);
    b.CreateCondBr(b.CreateICmpSLT(i, n), inside, after);
    b.SetInsertPoint(inside);
    body(i);
    i->addIncoming(b.CreateAdd(i, b.getInt64(1)), b.GetInsertBlock());
    b.CreateBr(header);
    b.SetInsertPoint(after);
  }

  std::unique_ptr<jit::Jit> compile(const std::map<std::string, void*>& symbols,
                                    Diagnostics& diags) {
    return jit::Jit::compile(std::move(context), std::move(module), symbols, diags, "test");
  }
};

// Generated functions carry the host's CPU and features, as codegen's do.
void target_host(llvm::Function* f) {
  f->addFnAttr("target-cpu", jit::host_target().cpu);
  f->addFnAttr("target-features", jit::host_target().features);
}

// void axpy(double* y, const double* x, double a, i64 n): y[i] += a * scale_hook(x[i]).
void build_axpy(Unit& u) {
  llvm::Function* hook = u.function("scale_hook", u.f64(), {u.f64()});
  llvm::Function* f = u.function("axpy", u.b.getVoidTy(), {u.ptr(), u.ptr(), u.f64(), u.i64()});
  llvm::Value* y = f->getArg(0);
  llvm::Value* x = f->getArg(1);
  llvm::Value* a = f->getArg(2);
  u.b.SetInsertPoint(llvm::BasicBlock::Create(*u.context, "entry", f));
  u.loop(f->getArg(3), [&](llvm::Value* i) {
    llvm::Value* xi = u.b.CreateLoad(u.f64(), u.b.CreateGEP(u.f64(), x, i));
    llvm::Value* yp = u.b.CreateGEP(u.f64(), y, i);
    llvm::Value* scaled = u.b.CreateFMul(a, u.b.CreateCall(hook, {xi}));
    u.b.CreateStore(u.b.CreateFAdd(u.b.CreateLoad(u.f64(), yp), scaled), yp);
  });
  u.b.CreateRetVoid();
}

// double name(): returns `value`.
void build_constant(Unit& u, const std::string& name, double value) {
  llvm::Function* f = u.function(name, u.f64(), {});
  u.b.SetInsertPoint(llvm::BasicBlock::Create(*u.context, "entry", f));
  u.b.CreateRet(llvm::ConstantFP::get(u.f64(), value));
}

// void loops(float* out, const float* in, i64 n): `count` elementwise loops, loop k writing
// out[k*n + i] = exp(in[i] * (k + 1) + 0.5): the shape of the spike in BENCHMARKS.md.
void build_exp_loops(Unit& u, int count) {
  llvm::Function* f = u.function("loops", u.b.getVoidTy(), {u.ptr(), u.ptr(), u.i64()});
  target_host(f);
  f->addFnAttr("prefer-vector-width", "512");
  f->addParamAttr(0, llvm::Attribute::NoAlias);
  f->addParamAttr(1, llvm::Attribute::NoAlias);
  llvm::Value* out = f->getArg(0);
  llvm::Value* in = f->getArg(1);
  llvm::Value* n = f->getArg(2);
  u.b.SetInsertPoint(llvm::BasicBlock::Create(*u.context, "entry", f));
  llvm::FastMathFlags fast;
  fast.setFast();
  u.b.setFastMathFlags(fast);
  for (int k = 0; k < count; ++k) {
    llvm::Value* row = u.b.CreateGEP(u.f32(), out, u.b.CreateMul(n, u.b.getInt64(k)));
    u.loop(n, [&](llvm::Value* i) {
      llvm::Value* v = u.b.CreateLoad(u.f32(), u.b.CreateGEP(u.f32(), in, i));
      v = u.b.CreateFAdd(u.b.CreateFMul(v, llvm::ConstantFP::get(u.f32(), k + 1.0)),
                         llvm::ConstantFP::get(u.f32(), 0.5));
      v = u.b.CreateUnaryIntrinsic(llvm::Intrinsic::exp, v);
      u.b.CreateStore(v, u.b.CreateGEP(u.f32(), row, i));
    });
  }
  u.b.CreateRetVoid();
}

std::string messages(const Diagnostics& diags) {
  std::string out;
  for (const Diagnostic& d : diags.all()) out += d.message + "\n";
  return out;
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST_CASE("jit: the host target names a CPU and its features") {
  const jit::Target& host = jit::host_target();
  CHECK_FALSE(host.triple.empty());
  CHECK_FALSE(host.cpu.empty());
  CHECK(contains(host.features, "+"));
  CHECK(&host == &jit::host_target());  // detected once
}

TEST_CASE("jit: a compiled loop calls a runtime routine bound by name") {
  Unit u;
  build_axpy(u);
  Diagnostics diags;
  auto jit = u.compile({{"scale_hook", reinterpret_cast<void*>(&vmc_test_scale_hook)}}, diags);
  REQUIRE_MESSAGE(jit, messages(diags));
  CHECK_FALSE(diags.has_errors());

  void* address = jit->lookup("axpy", diags);
  REQUIRE(address != nullptr);
  auto* axpy = reinterpret_cast<void (*)(double*, const double*, double, std::int64_t)>(address);
  std::vector<double> y = {1, 2, 3, 4, 5};
  const std::vector<double> x = {1, -1, 0.5, 10, 0};
  axpy(y.data(), x.data(), 3.0, static_cast<std::int64_t>(y.size()));
  CHECK(y == std::vector<double>{7, -4, 6, 64, 5});  // y + 3 * (2 x)

  CHECK(jit->timing().optimize_ms >= 0);
  CHECK(jit->timing().codegen_and_link_ms >= 0);
}

TEST_CASE("jit: looking up a name the module does not define is a diagnostic") {
  Unit u;
  build_constant(u, "one", 1.0);
  Diagnostics diags;
  auto jit = u.compile({}, diags);
  REQUIRE_MESSAGE(jit, messages(diags));
  CHECK(jit->lookup("two", diags) == nullptr);
  REQUIRE(diags.error_count() == 1);
  CHECK(contains(diags.all()[0].message, "'two'"));
  CHECK(diags.all()[0].where == "test");
}

TEST_CASE("jit: an unbound external is a diagnostic naming it, at compile time") {
  Unit u;
  llvm::Function* missing = u.function("vmc_test_unbound_hook", u.f64(), {u.f64()});
  llvm::Function* f = u.function("calls_it", u.f64(), {u.f64()});
  u.b.SetInsertPoint(llvm::BasicBlock::Create(*u.context, "entry", f));
  u.b.CreateRet(u.b.CreateCall(missing, {f->getArg(0)}));
  Diagnostics diags;
  CHECK(u.compile({}, diags) == nullptr);
  REQUIRE(diags.has_errors());
  CHECK(contains(messages(diags), "vmc_test_unbound_hook"));
  CHECK(diags.all()[0].message.rfind("LLVM: ", 0) == 0);
}

TEST_CASE("jit: binding a name the module also defines is a diagnostic") {
  Unit u;
  build_constant(u, "clash", 1.0);
  Diagnostics diags;
  CHECK(u.compile({{"clash", reinterpret_cast<void*>(&vmc_test_scale_hook)}}, diags) == nullptr);
  REQUIRE(diags.has_errors());
  CHECK(contains(messages(diags), "clash"));
}

TEST_CASE("jit: a malformed module is a diagnostic, not an abort") {
  Unit u;
  llvm::Function* f = u.function("broken", u.f64(), {u.f64()});
  u.b.SetInsertPoint(llvm::BasicBlock::Create(*u.context, "entry", f));
  u.b.CreateFAdd(f->getArg(0), f->getArg(0));  // a block without a terminator
  Diagnostics diags;
  CHECK(u.compile({}, diags) == nullptr);
  REQUIRE(diags.error_count() == 1);
  CHECK(contains(diags.all()[0].message, "malformed"));
  CHECK(contains(diags.all()[0].message, "terminator"));
}

TEST_CASE("jit: two compiled modules coexist") {
  Unit a, b;
  build_constant(a, "f", 1.5);
  build_constant(b, "f", -2.5);
  Diagnostics diags;
  auto first = a.compile({}, diags);
  auto second = b.compile({}, diags);
  REQUIRE_MESSAGE((first && second), messages(diags));
  void* address1 = first->lookup("f", diags);
  void* address2 = second->lookup("f", diags);
  REQUIRE(address1 != nullptr);
  REQUIRE(address2 != nullptr);
  CHECK(address1 != address2);
  auto* f1 = reinterpret_cast<double (*)()>(address1);
  auto* f2 = reinterpret_cast<double (*)()>(address2);
  CHECK(f1() == 1.5);
  CHECK(f2() == -2.5);
  second.reset();
  CHECK(f1() == 1.5);
}

TEST_CASE("jit: optimize() vectorizes a loop for the host") {
  Unit u;
  llvm::Function* f = u.function("triple", u.b.getVoidTy(), {u.ptr(), u.ptr(), u.i64()});
  target_host(f);
  f->addParamAttr(0, llvm::Attribute::NoAlias);
  f->addParamAttr(1, llvm::Attribute::NoAlias);
  u.b.SetInsertPoint(llvm::BasicBlock::Create(*u.context, "entry", f));
  u.loop(f->getArg(2), [&](llvm::Value* i) {
    llvm::Value* x = u.b.CreateLoad(u.f64(), u.b.CreateGEP(u.f64(), f->getArg(1), i));
    llvm::Value* y = u.b.CreateFMul(x, llvm::ConstantFP::get(u.f64(), 3.0));
    u.b.CreateStore(y, u.b.CreateGEP(u.f64(), f->getArg(0), i));
  });
  u.b.CreateRetVoid();

  jit::optimize(*u.module);
  std::string text;
  llvm::raw_string_ostream(text) << *u.module;
  CHECK(contains(text, "vector.body"));
  CHECK(contains(text, " x double>"));
  CHECK(u.module->getTargetTriple() == jit::host_target().triple);
  CHECK_FALSE(u.module->getDataLayoutStr().empty());
}

TEST_CASE("jit: thirty vectorized exp loops compile and compute") {
  Unit u;
  build_exp_loops(u, 30);
  Diagnostics diags;
  auto jit = u.compile({}, diags);
  REQUIRE_MESSAGE(jit, messages(diags));
  void* address = jit->lookup("loops", diags);
  REQUIRE(address != nullptr);
  auto* loops = reinterpret_cast<void (*)(float*, const float*, std::int64_t)>(address);
  const std::int64_t n = 37;  // not a multiple of any vector width: the remainder loop runs
  std::vector<float> in(n), out(30 * n);
  for (std::int64_t i = 0; i < n; ++i) in[i] = 0.01f * static_cast<float>(i) - 0.2f;
  loops(out.data(), in.data(), n);
  for (int k = 0; k < 30; k += 7) {
    for (std::int64_t i = 0; i < n; ++i) {
      CHECK(out[k * n + i] == doctest::Approx(std::exp(in[i] * (k + 1.0) + 0.5)).epsilon(1e-5));
    }
  }
  CHECK(jit->timing().optimize_ms > 0);
  CHECK(jit->timing().codegen_and_link_ms > 0);
}

// Not a check (these machines are noisy): run with --no-skip to see where the time goes.
TEST_CASE("jit: compile time of thirty exp loops" * doctest::skip()) {
  for (int run = 0; run < 5; ++run) {
    auto start = std::chrono::steady_clock::now();
    Unit u;
    build_exp_loops(u, 30);
    auto built = std::chrono::steady_clock::now();
    Diagnostics diags;
    auto jit = u.compile({}, diags);
    REQUIRE(jit);
    REQUIRE(jit->lookup("loops", diags) != nullptr);
    auto done = std::chrono::steady_clock::now();
    using ms = std::chrono::duration<double, std::milli>;
    MESSAGE("run " << run << ": build IR " << ms(built - start).count() << " ms, IR to callable "
                   << ms(done - built).count() << " ms (optimize "
                   << jit->timing().optimize_ms << " ms, codegen and link "
                   << jit->timing().codegen_and_link_ms << " ms)");
  }
}

}  // namespace

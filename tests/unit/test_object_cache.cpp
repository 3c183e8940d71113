// The on-disk object cache: a hit skips optimisation and code generation and gives the same
// results; corrupt or truncated entries are detected and replaced, never loaded.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "jit/compiled_model.hpp"
#include "test_lower_helpers.hpp"

using namespace lower_test;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("vmc_cache_test_" + std::to_string(::getpid()) + "_" +
                                               std::to_string(std::rand()));
  ~TempDir() { fs::remove_all(path); }
};

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

}  // namespace

TEST_CASE("object cache: a second compile of an unchanged model loads the cached object") {
  TempDir dir;
  Compiled m(stdlib_text("logistic_regression"), sema_options({{"D", 3}}), lower_options(Estimator::A));
  REQUIRE(m.ok());
  ir::Bindings b = m.synthetic(5);
  Diagnostics d;
  auto first = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string());
  REQUIRE(first);
  CHECK_FALSE(first->timing().from_cache);
  REQUIRE(entries(dir.path).size() == 1);
  CHECK(entries(dir.path)[0].extension() == ".o");

  auto second = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string());
  REQUIRE(second);
  CHECK(second->timing().from_cache);
  CHECK(second->timing().optimize_ms == 0);
  std::vector<ir::Tensor> a = first->run("elbo_grad", b), c = second->run("elbo_grad", b);
  REQUIRE(a.size() == c.size());
  for (std::size_t k = 0; k < a.size(); ++k) CHECK(a[k].values == c[k].values);

  // Another precision is another module: another entry.
  auto f32 = jit::CompiledModel::build(m.l(), codegen::Precision::F32, d, "t", {"elbo_grad"}, dir.path.string());
  REQUIRE(f32);
  CHECK_FALSE(f32->timing().from_cache);
  CHECK(entries(dir.path).size() == 2);
}

TEST_CASE("object cache: corrupt and truncated entries are detected and replaced") {
  Compiled m(stdlib_text("logistic_regression"), sema_options({{"D", 3}}), lower_options(Estimator::B));
  REQUIRE(m.ok());
  ir::Bindings b = m.synthetic(6);
  std::vector<ir::Tensor> want = ir::evaluate(std::vector<const ir::Node*>{m.output("elbo")}, b);
  for (int damage = 0; damage < 3; ++damage) {
    TempDir dir;
    Diagnostics d;
    REQUIRE(jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string()));
    fs::path entry = entries(dir.path).at(0);
    auto size = fs::file_size(entry);
    if (damage == 0) {
      fs::resize_file(entry, size / 2);  // truncated
    } else {
      std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(damage == 1 ? 0 : static_cast<std::streamoff>(size - 10));  // magic, or payload
      f.put('\x7f');
    }
    auto rebuilt = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string());
    REQUIRE(rebuilt);
    CHECK_FALSE(d.has_errors());
    CHECK_FALSE(rebuilt->timing().from_cache);
    CHECK(rebuilt->run("elbo_grad", b)[0].values == rebuilt->run("elbo_grad", b)[0].values);
    CHECK(std::abs(rebuilt->run("elbo_grad", b)[0].item() - want[0].item()) <= 1e-9 * std::abs(want[0].item()));
    // The entry was rewritten whole: the next compile hits.
    auto again = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string());
    REQUIRE(again);
    CHECK(again->timing().from_cache);
  }
}

TEST_CASE("object cache: an unwritable cache directory only means no caching") {
  Compiled m(stdlib_text("logistic_regression"), sema_options({{"D", 3}}), lower_options(Estimator::A));
  REQUIRE(m.ok());
  Diagnostics d;
  auto model = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", {"elbo_grad"},
                                         "/proc/vmc-cannot-write-here");
  REQUIRE(model);
  CHECK_FALSE(d.has_errors());
  CHECK_FALSE(model->timing().from_cache);
}

TEST_CASE("object cache: a model's kernels in two modules, compiled at once, cached apart") {
  // The training step's kernel in one module, the others in a second (codegen::generate's
  // parts): both are compiled on threads of their own, each has its own cache entry, and a
  // second build loads both and computes the same.
  TempDir dir;
  Compiled m(stdlib_text("logistic_regression"), sema_options({{"D", 3}}), lower_options(Estimator::A));
  REQUIRE(m.ok());
  ir::Bindings b = m.synthetic(5);
  Diagnostics d;
  const std::vector<std::string> kernels{"elbo_grad", "elbo", "sample_guide"};
  auto first = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", kernels, dir.path.string());
  REQUIRE(first);
  CHECK_FALSE(first->timing().from_cache);
  CHECK(entries(dir.path).size() == 2);
  auto second = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", kernels, dir.path.string());
  REQUIRE(second);
  CHECK(second->timing().from_cache);
  for (const char* k : {"elbo_grad", "elbo"}) {
    std::vector<ir::Tensor> x = first->run(k, b), y = second->run(k, b);
    REQUIRE(x.size() == y.size());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i].values == y[i].values);
  }
  // The training kernel built alone (vmc bench) is the first module again: loaded, no new entry.
  auto alone = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string());
  REQUIRE(alone);
  CHECK(alone->timing().from_cache);
  CHECK(entries(dir.path).size() == 2);
}

TEST_CASE("object cache: an entry swapped in from another model is refused, not run") {
  // Issue 21: a whole, checksummed entry of model A copied onto model B's name was trusted and
  // the fit gave NaN. Each entry records its key; a mismatch is a miss and the entry is rebuilt.
  TempDir dir;
  Compiled a(stdlib_text("logistic_regression"), sema_options({{"D", 3}}), lower_options(Estimator::A));
  Compiled b(stdlib_text("logistic_regression"), sema_options({{"D", 4}}), lower_options(Estimator::A));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  Diagnostics d;
  REQUIRE(jit::CompiledModel::build(a.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string()));
  fs::path a_entry = entries(dir.path).at(0);
  REQUIRE(jit::CompiledModel::build(b.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string()));
  fs::path b_entry;
  for (const fs::path& e : entries(dir.path))
    if (e != a_entry) b_entry = e;
  REQUIRE_FALSE(b_entry.empty());
  fs::copy_file(a_entry, b_entry, fs::copy_options::overwrite_existing);
  auto rebuilt = jit::CompiledModel::build(b.l(), codegen::Precision::F64, d, "t", {"elbo_grad"}, dir.path.string());
  REQUIRE(rebuilt);
  CHECK_FALSE(rebuilt->timing().from_cache);
  ir::Bindings bind = b.synthetic(5);
  std::vector<ir::Tensor> want = ir::evaluate(std::vector<const ir::Node*>{b.output("elbo")}, bind);
  CHECK(std::abs(rebuilt->run("elbo_grad", bind)[0].item() - want[0].item()) <= 1e-9 * std::abs(want[0].item()));
}

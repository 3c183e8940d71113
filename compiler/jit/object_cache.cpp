#include "jit/object_cache.hpp"

#include "vmc/files.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <system_error>

#include <llvm/Config/llvm-config.h>
#include <llvm/Support/SHA256.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>

namespace vmc::jit {
namespace {

// An entry: the magic, its own key (64 hex digits: an entry copied or renamed onto another
// model's name is refused, not run), the object's size and xxh3 checksum, then the object.
constexpr char kMagic[8] = {'V', 'M', 'C', 'O', 'B', 'J', '0', '2'};
constexpr std::size_t kKey = 64;
constexpr std::size_t kHeader = sizeof kMagic + kKey + 2 * sizeof(std::uint64_t);

std::string hex(llvm::ArrayRef<std::uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

}  // namespace

DiskObjectCache::DiskObjectCache(std::filesystem::path dir, const llvm::Module& module,
                                 const std::string& cpu, const std::string& features)
    : dir_(std::move(dir)) {
  std::string text;
  llvm::raw_string_ostream ir(text);
  module.print(ir, nullptr);
  llvm::SHA256 sha;
  // The first part names this format and the optimisation pipeline (optimize.cpp): bumped when
  // either changes, since the module's text does not show them (2: libmvec's AVX-512 routines).
  for (const std::string& part : {std::string("vmc object cache 2"), std::string(LLVM_VERSION_STRING),
                                  cpu, features, text}) {
    sha.update(part);
    sha.update(llvm::ArrayRef<std::uint8_t>{0});  // a separator: parts cannot run together
  }
  std::array<std::uint8_t, 32> digest = sha.final();
  key_ = hex(digest);
}

std::unique_ptr<llvm::MemoryBuffer> DiskObjectCache::load() const {
  std::filesystem::path path = dir_ / (key_ + ".o");
  auto buffer = llvm::MemoryBuffer::getFile(path.string(), /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) return nullptr;
  llvm::StringRef data = (*buffer)->getBuffer();
  if (data.size() < kHeader || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) return nullptr;
  if (data.substr(sizeof kMagic, kKey) != key_) return nullptr;
  std::uint64_t size = 0, checksum = 0;
  std::memcpy(&size, data.data() + sizeof kMagic + kKey, sizeof size);
  std::memcpy(&checksum, data.data() + sizeof kMagic + kKey + sizeof size, sizeof checksum);
  llvm::StringRef payload = data.drop_front(kHeader);
  if (payload.size() != size || llvm::xxh3_64bits(payload) != checksum) return nullptr;
  return llvm::MemoryBuffer::getMemBufferCopy(payload, path.string());
}

void DiskObjectCache::notifyObjectCompiled(const llvm::Module*, llvm::MemoryBufferRef object) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return;
  // Temporaries that killed compiles left (an hour old: others may be writing theirs now).
  files::remove_stale_temporaries(dir_.string(), 3600);
  // A private temporary (O_EXCL), then an atomic rename: readers see a whole entry or none, and
  // a failure leaves nothing.
  llvm::StringRef payload = object.getBuffer();
  std::uint64_t size = payload.size();
  std::uint64_t checksum = llvm::xxh3_64bits(payload);
  std::string entry(kMagic, sizeof kMagic);
  entry += key_;
  entry.append(reinterpret_cast<const char*>(&size), sizeof size);
  entry.append(reinterpret_cast<const char*>(&checksum), sizeof checksum);
  entry.append(payload.data(), payload.size());
  (void)files::write_atomic((dir_ / (key_ + ".o")).string(), entry);
}

}  // namespace vmc::jit

// Safe reads and writes of the user's files (include/vmc/files.hpp).
#include "vmc/files.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vmc::files {
namespace {

constexpr const char* kTempMarker = ".vmc-tmp-";

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The umask, read without setting it (umask(2) would change it for every thread for a moment,
// and the JIT's threads write the object cache meanwhile): /proc/self/status's "Umask:".
mode_t process_umask() {
  static const mode_t mask = [] {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    unsigned value = 022;
    if (f) {
      char line[256];
      while (std::fgets(line, sizeof line, f)) {
        if (std::sscanf(line, "Umask: %o", &value) == 1) break;
      }
      std::fclose(f);
    }
    return static_cast<mode_t>(value);
  }();
  return mask;
}

std::string not_regular_sentence(const std::string& kind) {
  return "cannot read " + kind + ": vmc reads data, models and checkpoints from files (or named pipes)";
}

}  // namespace

std::string not_regular_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return "";
  return kind_of(st.st_mode);
}

std::optional<std::string> read_file(const std::string& path, std::string& problem) {
  // A named pipe (`--data x=<(zcat x.csv.gz)`) is read to its end: opening it waits for its
  // writer (the caller decides what a signal then does: vmc fit exits at once while it sets up).
  // Anything else that is not a regular file is refused before it is opened: a device may never
  // end (/dev/zero) and opening one can have effects.
  struct stat before;
  if (::stat(path.c_str(), &before) == 0 && !S_ISREG(before.st_mode) && !S_ISFIFO(before.st_mode)) {
    problem = not_regular_sentence(kind_of(before.st_mode));
    return std::nullopt;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problem = std::string("cannot open file: ") + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    problem = std::string("cannot read file: ") + std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    problem = not_regular_sentence(kind_of(st.st_mode));
    ::close(fd);
    return std::nullopt;
  }
  std::string bytes;
  try {
    if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<std::size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    ::close(fd);
    problem = "not enough memory to read it (" + std::to_string(st.st_size) + " bytes)";
    return std::nullopt;
  }
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      problem = std::string("read error: ") + std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return bytes;
}

bool is_temporary_name(const std::string& name) {
  auto at = name.rfind(kTempMarker);
  return !name.empty() && name[0] == '.' && at != std::string::npos &&
         name.size() == at + std::strlen(kTempMarker) + 6;
}

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  std::filesystem::path p(target_);
  std::string dir = p.parent_path().string();
  temp_ = (dir.empty() ? std::string() : dir + "/") + "." + p.filename().string() + kTempMarker + "XXXXXX";
  // mkstemp opens with O_CREAT | O_EXCL under a random name: nothing planted there is reused.
  int fd = ::mkostemp(temp_.data(), O_CLOEXEC);
  if (fd < 0) {
    problem_ = std::strerror(errno);
    temp_.clear();
    return;
  }
  // mkstemp makes 0600; a result file gets the usual 0666 less the umask.
  ::fchmod(fd, 0666 & ~process_umask());
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    problem_ = std::strerror(errno);
    ::close(fd);
    ::unlink(temp_.c_str());
    temp_.clear();
  }
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

std::string AtomicFile::commit(std::string write_problem) {
  if (!file_) return problem_;
  std::string problem = std::move(write_problem);
  if (std::fflush(file_) != 0 && problem.empty()) problem = std::strerror(errno);
  // On disk before the rename makes it the file: a crash of the machine, not only of the
  // process, then leaves the old file or the whole new one.
  if (::fsync(::fileno(file_)) != 0 && problem.empty()) problem = std::strerror(errno);
  if (std::fclose(file_) != 0 && problem.empty()) problem = std::strerror(errno);
  file_ = nullptr;
  if (problem.empty() && std::rename(temp_.c_str(), target_.c_str()) != 0) problem = std::strerror(errno);
  if (problem.empty()) temp_.clear();  // renamed: nothing to remove
  return problem;
}

std::string write_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  if (!f.file()) return f.problem();
  std::string problem;
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.file()) != bytes.size()) problem = std::strerror(errno);
  return f.commit(problem);
}

void remove_stale_temporaries(const std::string& dir, double older_than_s) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!is_temporary_name(entry.path().filename().string())) continue;
    if (older_than_s > 0) {
      auto modified = fs::last_write_time(entry.path(), ec);
      if (ec || std::chrono::duration<double>(now - modified).count() < older_than_s) continue;
    }
    fs::remove(entry.path(), ec);
  }
}

OutputLock::OutputLock(const std::string& dir) {
  std::string path = dir + "/.vmc.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    problem_ = std::string("cannot lock the output directory: ") + std::strerror(errno);
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {};
    ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : std::string();
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK) {
      contended_ = true;
      problem_ = "another vmc run is writing into this output directory" +
                 (holder.empty() ? std::string() : " (pid " + holder + ")") +
                 ": wait for it to end, or choose another --out";
    } else {
      problem_ = std::string("cannot lock the output directory: ") + std::strerror(err);
    }
    return;
  }
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, me.data(), me.size(), 0);
    (void)ignored;
  }
  fd_ = fd;
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace vmc::files

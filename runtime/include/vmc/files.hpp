// Reading and writing the user's files safely: one place for what every loader and writer needs.
//
// - read_file: regular files and named pipes. A directory, a device such as /dev/zero (endless)
//   or a socket is refused with a sentence saying what it is.
// - AtomicFile: a private temporary beside the target (mkstemp: O_EXCL, so a symlink or file
//   planted at a guessable name is never followed or truncated), written, fsync'd, then renamed
//   over the target; any failure removes the temporary. Temporaries are named `.NAME.vmc-tmp-XXXXXX`
//   so that remove_stale_temporaries can clear those a killed run left.
// - OutputLock: an advisory flock on DIR/.vmc.lock for as long as a run writes into DIR; a second
//   run is refused with the holder's pid instead of both writing and the last one winning.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace vmc::files {

// The whole content of `path`, or nullopt with `problem` set to a sentence such as "it is a
// directory" or "cannot open file: No such file or directory" (without the path).
std::optional<std::string> read_file(const std::string& path, std::string& problem);

// What `path` is when it is not a regular file ("a directory", "a named pipe", ...), else "".
std::string not_regular_file(const std::string& path);

// A temporary file beside `target`, to be committed (renamed over it) or dropped. The stream is
// open for binary writing; errors are reported by commit() as a sentence (empty on success).
class AtomicFile {
 public:
  // On failure file() is null and problem() says why.
  explicit AtomicFile(std::string target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::FILE* file() const { return file_; }
  const std::string& problem() const { return problem_; }
  const std::string& temp_path() const { return temp_; }
  // Flushes, fsyncs and renames over the target. `write_problem` is what the caller's writes
  // reported (empty if none); returns "" on success, else the problem (the temporary is gone).
  std::string commit(std::string write_problem = {});

 private:
  std::string target_, temp_, problem_;
  std::FILE* file_ = nullptr;
};

// Writes `bytes` to `path` through an AtomicFile; "" on success, else the problem.
std::string write_atomic(const std::string& path, const std::string& bytes);

// Removes the temporaries (.NAME.vmc-tmp-XXXXXX) left in `dir` by killed runs; with
// `older_than_s` > 0 only those not modified for that long (for directories that other live
// processes share, such as the object cache).
void remove_stale_temporaries(const std::string& dir, double older_than_s = 0);

// True when `name` (a file name, no directory) is one of AtomicFile's temporaries.
bool is_temporary_name(const std::string& name);

// An exclusive advisory lock on DIR/.vmc.lock, released when destroyed (or when the process
// dies, however it dies). A failed lock leaves held() false and problem() naming the holder.
class OutputLock {
 public:
  explicit OutputLock(const std::string& dir);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  bool held() const { return fd_ >= 0; }
  // Not held because another process holds it (else the file system could not lock: NFS
  // without a lock daemon, a read-only lock file).
  bool contended() const { return contended_; }
  const std::string& problem() const { return problem_; }

 private:
  int fd_ = -1;
  bool contended_ = false;
  std::string problem_;
};

}  // namespace vmc::files

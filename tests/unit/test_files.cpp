// Safe reads and writes (runtime/include/vmc/files.hpp): what issue 21's red-team pass found —
// a directory or named pipe read as data, a symlink planted at a temporary's name, two runs in
// one output directory.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "temp_dir.hpp"
#include "vmc/data.hpp"
#include "vmc/files.hpp"

namespace fs = std::filesystem;
using vmc::test::TempDir;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("files: read_file refuses a directory and a device with a sentence; reads a named pipe") {
  TempDir t;
  std::string problem;
  fs::create_directory(t.path("x.npy"));
  CHECK_FALSE(vmc::files::read_file(t.path("x.npy"), problem));
  CHECK(problem.find("a directory") != std::string::npos);
  REQUIRE(::mkfifo(t.path("pipe.csv").c_str(), 0600) == 0);
  std::thread writer([&] {
    std::ofstream out(t.path("pipe.csv"));
    out << "1\n2\n";
  });
  auto piped = vmc::files::read_file(t.path("pipe.csv"), problem);
  writer.join();
  REQUIRE(piped);
  CHECK(*piped == "1\n2\n");
  CHECK_FALSE(vmc::files::read_file("/dev/zero", problem));  // endless: never read
  CHECK(problem.find("a character device") != std::string::npos);
  CHECK_FALSE(vmc::files::read_file(t.path("missing"), problem));
  CHECK(problem.find("No such file") != std::string::npos);
  auto bytes = vmc::files::read_file(t.write("ok.csv", "1\n2\n"), problem);
  REQUIRE(bytes);
  CHECK(*bytes == "1\n2\n");
  // The data loaders say it with the file's name, as a DataError (exit 1), not an abort.
  CHECK_THROWS_AS(vmc::data::load(t.path("x.npy"), "x"), vmc::data::DataError);
}

TEST_CASE("files: an atomic write never follows a symlink planted beside its target") {
  TempDir t;
  std::string victim = t.write("victim.txt", "keep me");
  // Every name the old scheme could pick (NAME.tmp.PID) and a guess at the new one's prefix.
  fs::create_symlink(victim, t.path("out.csv.tmp." + std::to_string(::getpid())));
  CHECK(vmc::files::write_atomic(t.path("out.csv"), "new").empty());
  CHECK(slurp(t.path("out.csv")) == "new");
  CHECK(slurp(victim) == "keep me");
  // The target itself a symlink: rename replaces the link, never writes through it.
  fs::create_symlink(victim, t.path("link.csv"));
  CHECK(vmc::files::write_atomic(t.path("link.csv"), "other").empty());
  CHECK(slurp(victim) == "keep me");
  CHECK_FALSE(fs::is_symlink(t.path("link.csv")));
  // Nothing left behind; the result has the usual mode (not mkstemp's 0600).
  int temporaries = 0;
  for (const auto& e : fs::directory_iterator(t.dir))
    temporaries += vmc::files::is_temporary_name(e.path().filename().string());
  CHECK(temporaries == 0);
  mode_t mask = ::umask(0);
  ::umask(mask);
  CHECK((fs::status(t.path("out.csv")).permissions() & fs::perms::all) ==
        static_cast<fs::perms>(0666 & ~mask));
}

TEST_CASE("files: a failed write leaves the old file and no temporary") {
  TempDir t;
  std::string target = t.write("summary.json", "old");
  {
    vmc::files::AtomicFile f(target);
    REQUIRE(f.file());
    std::fputs("half", f.file());
    CHECK(vmc::files::is_temporary_name(fs::path(f.temp_path()).filename().string()));
    CHECK_FALSE(f.commit("disk full").empty());
  }
  {
    vmc::files::AtomicFile dropped(target);  // destroyed uncommitted: as an exception would
    std::fputs("half", dropped.file());
  }
  CHECK(slurp(target) == "old");
  CHECK(std::distance(fs::directory_iterator(t.dir), fs::directory_iterator{}) == 1);
}

TEST_CASE("files: remove_stale_temporaries clears what killed runs left, and only that") {
  TempDir t;
  t.write(".checkpoint.bin.vmc-tmp-Ab12Cd", "half");
  t.write(".trace.csv.vmc-tmp-zzzzzz", "half");
  t.write("checkpoint.bin", "whole");
  t.write(".vmc-tmp-notours", "x");  // not the pattern: kept
  vmc::files::remove_stale_temporaries(t.dir.string(), 3600);  // too recent for a shared dir
  CHECK(fs::exists(t.path(".trace.csv.vmc-tmp-zzzzzz")));
  vmc::files::remove_stale_temporaries(t.dir.string());
  CHECK_FALSE(fs::exists(t.path(".checkpoint.bin.vmc-tmp-Ab12Cd")));
  CHECK_FALSE(fs::exists(t.path(".trace.csv.vmc-tmp-zzzzzz")));
  CHECK(fs::exists(t.path("checkpoint.bin")));
  CHECK(fs::exists(t.path(".vmc-tmp-notours")));
}

TEST_CASE("files: one output lock per directory, released with its holder") {
  TempDir t;
  {
    vmc::files::OutputLock first(t.dir.string());
    REQUIRE(first.held());
    // flock locks belong to the open file description: a second open in this process conflicts
    // as another process's would.
    vmc::files::OutputLock second(t.dir.string());
    CHECK_FALSE(second.held());
    CHECK(second.contended());
    CHECK(second.problem().find("pid " + std::to_string(::getpid())) != std::string::npos);
  }
  vmc::files::OutputLock again(t.dir.string());
  CHECK(again.held());
  // A lock file that cannot be opened (here a directory in its place) is not another run: the
  // caller warns and goes on.
  vmc::test::TempDir u;
  std::filesystem::create_directory(u.path(".vmc.lock"));
  vmc::files::OutputLock unlockable(u.dir.string());
  CHECK_FALSE(unlockable.held());
  CHECK_FALSE(unlockable.contended());
}

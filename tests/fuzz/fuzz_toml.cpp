// libFuzzer target: `--config FILE.toml` as vmc fit and vmc compare read it (driver/config.cpp)
// against a command with fit's options, on arbitrary bytes. Every problem must be a message.
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "driver/compare.hpp"
#include "driver/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    char tmpl[] = "/tmp/vmc_fuzz_toml.XXXXXX";
    return std::string(::mkdtemp(tmpl)) + "/fit.toml";
  }();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  CLI::App app{"fuzz"};
  std::string model, estimator, optimizer, out;
  std::vector<std::string> batch, set, files;
  std::int64_t steps = 0;
  double lr = 0, epochs = 0;
  int samples = 1, threads = 1;
  bool quiet = false;
  app.add_option("MODEL", model);
  app.add_option("--estimator", estimator)->check(CLI::IsMember({"A", "B", "iwae", "stl"}));
  app.add_option("--samples", samples)->check(CLI::Range(1, 100000));
  app.add_option("--batch", batch);
  app.add_option("--set", set);
  app.add_option("--data", files);
  app.add_option("--steps", steps)->check(CLI::NonNegativeNumber);
  app.add_option("--epochs", epochs);
  app.add_option("--lr", lr);
  app.add_option("--optimizer", optimizer);
  app.add_option("--threads", threads)->check(CLI::Range(1, 256));
  app.add_option("--out", out);
  app.add_flag("--quiet", quiet);
  std::vector<vmc::driver::RunSpec> runs;
  std::streambuf* saved = std::cerr.rdbuf();
  std::ostringstream sink;
  std::cerr.rdbuf(sink.rdbuf());  // the messages are the point, not their printing
  (void)vmc::driver::apply_config(app, path, &runs);
  std::cerr.rdbuf(saved);
  return 0;
}

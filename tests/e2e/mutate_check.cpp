// Robustness of `vmc check` on broken input: for every stdlib/*.vmodel, truncations at evenly
// spaced byte offsets and seeded random byte mutations must each end in a normal exit with
// status 0 (it still checks) or 1 (a user error, reported as a diagnostic). A signal, a hang,
// status 70 (an internal error) or any other status is a failure.
//
//   mutate_check VMC STDLIB_DIR [--seed S] [--count N] [--jobs J] [--timeout SECONDS]
//                               [--only NAME.vmodel] [--keep] [--stress]
//
// Each model gives N truncations (always including 0 bytes, 1 byte and all but the last byte)
// and N mutated copies (1 to 3 edits each: a byte set to a random value including 0x00 and
// bytes >= 0x80, a byte deleted, a span duplicated, a keyword or punctuation token inserted).
// With --stress, a fixed set of extreme inputs (very deep or very long expressions, huge
// tokens) runs instead. Inputs are written to a fresh temporary folder and run J at a time;
// the folder is removed at the end unless an input failed (failing inputs stay on disk, and
// their content, the seed and the edits made are printed). The last line is
// "N passed, M failed".
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string vmc;
  fs::path stdlib;
  std::uint32_t seed = 20261125;
  int count = 150;
  int jobs = 2;
  double timeout_s = 20;
  std::string only;
  bool keep = false;
  bool stress = false;
};

struct Input {
  fs::path path;
  std::string model;        // the stdlib file it came from ("" for stress inputs)
  std::string description;  // how it was made
  std::uint32_t seed = 0;   // the generator's seed for mutations, 0 otherwise
};

enum class Outcome { Ok, Signal, InternalError, OtherStatus, Hang, NotRun };

struct Result {
  Outcome outcome = Outcome::NotRun;
  int code = 0;  // exit status or signal number
};

const char* kTokens[] = {
    // keywords
    "model", "dims", "data", "param", "latent", "guide", "fn", "let", "plate", "in", "subsample",
    "target", "init", "real", "int", "lower", "upper", "cholesky", "pi",
    // punctuation and operators
    ";", "{", "}", "(", ")", "[", "]", "~", "+=", "'", ".*", "./", "^", ":", ",", "=", "<", ">",
    "+", "-", "*", "/", ".",
    // comment delimiters and odd lexemes
    "/*", "*/", "//", "1e", ".5", "1e-3", "\n", "\t"};

std::uint32_t fnv1a(const std::string& s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return static_cast<bool>(out);
}

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

// The content with every byte that is not printable ASCII, a newline or a tab shown as \xNN.
std::string escaped(const std::string& text, std::size_t limit = 8000) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f && c != '\\')) {
      out.push_back(static_cast<char>(c));
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (text.size() > limit) out += "\n... (" + std::to_string(text.size() - limit) + " more bytes)";
  return out;
}

std::string token_shown(const std::string& t) {
  if (t == "\n") return "'\\n'";
  if (t == "\t") return "'\\t'";
  return "'" + t + "'";
}

// One random edit of `text`; appends what it did to `log`.
void mutate_once(std::string& text, std::mt19937& rng, std::string& log) {
  auto pick = [&](std::size_t n) {  // uniform in [0, n)
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  if (!log.empty()) log += "; ";
  std::size_t kind = text.empty() ? 3 : pick(4);
  switch (kind) {
    case 0: {  // set a byte to a random value, weighted toward the interesting ones
      std::size_t at = pick(text.size());
      unsigned char value = 0;
      std::size_t cls = pick(10);
      if (cls == 0) value = 0x00;
      else if (cls <= 3) value = static_cast<unsigned char>(0x80 + pick(0x80));
      else if (cls == 4) value = static_cast<unsigned char>(1 + pick(0x1f));
      else value = static_cast<unsigned char>(0x20 + pick(0x5f));
      log += "byte " + std::to_string(at) + " " + hex_byte(static_cast<unsigned char>(text[at])) +
             " -> " + hex_byte(value);
      text[at] = static_cast<char>(value);
      break;
    }
    case 1: {  // delete a byte
      std::size_t at = pick(text.size());
      log += "delete byte " + std::to_string(at) + " (" +
             hex_byte(static_cast<unsigned char>(text[at])) + ")";
      text.erase(at, 1);
      break;
    }
    case 2: {  // duplicate a span somewhere
      std::size_t begin = pick(text.size());
      std::size_t len = 1 + pick(std::min<std::size_t>(64, text.size() - begin));
      std::size_t to = pick(text.size() + 1);
      std::string span = text.substr(begin, len);
      log += "copy bytes [" + std::to_string(begin) + ", " + std::to_string(begin + len) +
             ") to " + std::to_string(to);
      text.insert(to, span);
      break;
    }
    default: {  // insert a keyword or a punctuation token, with or without blanks around it
      std::string token = kTokens[pick(std::size(kTokens))];
      std::size_t to = pick(text.size() + 1);
      bool spaced = pick(2) == 0;
      log += "insert " + token_shown(token) + (spaced ? " with blanks" : "") + " at " +
             std::to_string(to);
      text.insert(to, spaced ? " " + token + " " : token);
      break;
    }
  }
}

// Inputs that are syntactically plausible but extreme: each level of nesting or chaining is a
// level of recursion somewhere in a naive parser, printer, checker or destructor.
std::vector<std::pair<std::string, std::string>> stress_inputs() {
  const std::string head = "model m;\nmodel { let t = ";
  const std::string tail = "; }\n";
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    out.reserve(s.size() * static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  const int n = 100000;
  return {
      {"100000 unary minus signs", head + repeat("-", n) + "a" + tail},
      {"a power chain of 100000 '^'", head + "a" + repeat("^a", n) + tail},
      {"a sum of 100000 terms", head + "a" + repeat(" + a", n) + tail},
      {"a valid model whose target is a sum of 10000 terms",
       "model m;\ndata { a : real; }\nmodel { target += a" + repeat(" + a", 10000) + tail},
      {"100000 transposes", head + "a" + repeat("'", n) + tail},
      {"100000 chained subscripts", head + "a" + repeat("[0]", n) + tail},
      {"100000 nested parentheses", head + repeat("(", n) + "a" + repeat(")", n) + tail},
      {"100000 unclosed '('", head + repeat("(", n)},
      {"100000 unclosed '{'", "model m;\n" + repeat("model {", n)},
      {"a call with 100000 arguments", head + "f(a" + repeat(", a", n) + ")" + tail},
      {"a 1 MB name", head + std::string(1 << 20, 'a') + tail},
      {"a 1 MB number", head + std::string(1 << 20, '9') + tail},
      {"100000 statements", "model m;\nmodel {\n" + repeat("  let t = 1;\n", n) + "}\n"},
      {"only NUL bytes", std::string(4096, '\0')},
      {"only bytes 0xff", std::string(4096, '\xff')},
      {"an unterminated comment", "model m; /*" + std::string(100000, '*')},
  };
}

pid_t spawn(const std::string& vmc, const fs::path& input, const std::string& stderr_to = "") {
  pid_t pid = fork();
  if (pid != 0) return pid;  // the parent, or -1
  int null = open("/dev/null", O_RDWR);
  int err = stderr_to.empty() ? null : open(stderr_to.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
  }
  if (err >= 0) dup2(err, 2);
  std::string path = input.string();
  char* argv[] = {const_cast<char*>("vmc"), const_cast<char*>("check"), path.data(), nullptr};
  execv(vmc.c_str(), argv);
  _exit(127);
}

Result classify(int status) {
  if (WIFSIGNALED(status)) return {Outcome::Signal, WTERMSIG(status)};
  if (!WIFEXITED(status)) return {Outcome::OtherStatus, status};
  int code = WEXITSTATUS(status);
  if (code == 0 || code == 1) return {Outcome::Ok, code};
  if (code == 70) return {Outcome::InternalError, code};
  return {Outcome::OtherStatus, code};
}

std::string describe(const Result& r, double timeout_s) {
  switch (r.outcome) {
    case Outcome::Ok: return "exit " + std::to_string(r.code);
    case Outcome::Signal:
      return "killed by signal " + std::to_string(r.code) + " (" + strsignal(r.code) + ")";
    case Outcome::InternalError: return "exit 70: an internal error";
    case Outcome::OtherStatus: return "exit " + std::to_string(r.code) + " (expected 0 or 1)";
    case Outcome::Hang:
      return "no exit after " + std::to_string(static_cast<int>(timeout_s)) + " s (killed)";
    case Outcome::NotRun: return "could not be started";
  }
  return "?";
}

// Runs every input, `jobs` at a time, killing any that outlives the timeout.
std::vector<Result> run_all(const Options& opt, const std::vector<Input>& inputs) {
  struct Running {
    pid_t pid;
    Clock::time_point start;
    std::size_t index;
  };
  std::vector<Result> results(inputs.size());
  std::vector<Running> running;
  std::size_t next = 0;
  auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(opt.timeout_s));
  while (next < inputs.size() || !running.empty()) {
    while (next < inputs.size() && static_cast<int>(running.size()) < opt.jobs) {
      pid_t pid = spawn(opt.vmc, inputs[next].path);
      if (pid < 0) {
        results[next] = {Outcome::NotRun, errno};
      } else {
        running.push_back({pid, Clock::now(), next});
      }
      ++next;
    }
    bool reaped = false;
    for (std::size_t i = 0; i < running.size();) {
      int status = 0;
      pid_t r = waitpid(running[i].pid, &status, WNOHANG);
      if (r == running[i].pid) {
        results[running[i].index] = classify(status);
      } else if (Clock::now() - running[i].start > timeout) {
        kill(running[i].pid, SIGKILL);
        waitpid(running[i].pid, &status, 0);
        results[running[i].index] = {Outcome::Hang, 0};
      } else {
        ++i;
        continue;
      }
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      reaped = true;
    }
    if (!reaped && !running.empty()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return results;
}

// The first lines vmc writes to stderr for `input` (run once more, with stderr kept).
std::string stderr_of(const Options& opt, const fs::path& input) {
  std::string err_path = input.string() + ".stderr";
  pid_t pid = spawn(opt.vmc, input, err_path);
  if (pid < 0) return "";
  auto start = Clock::now();
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() - start > std::chrono::duration<double>(opt.timeout_s)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::string err = read_file(err_path);
  if (err.size() > 2000) err = err.substr(0, 2000) + "\n...";
  return err;
}

bool parse_args(int argc, char** argv, Options& opt) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--seed") opt.seed = static_cast<std::uint32_t>(std::stoul(value()));
    else if (a == "--count") opt.count = std::stoi(value());
    else if (a == "--jobs") opt.jobs = std::max(1, std::stoi(value()));
    else if (a == "--timeout") opt.timeout_s = std::stod(value());
    else if (a == "--only") opt.only = value();
    else if (a == "--keep") opt.keep = true;
    else if (a == "--stress") opt.stress = true;
    else positional.push_back(a);
  }
  if (positional.size() != 2) return false;
  opt.vmc = positional[0];
  opt.stdlib = positional[1];
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  try {
    if (!parse_args(argc, argv, opt)) {
      std::cerr << "usage: mutate_check VMC STDLIB_DIR [--seed S] [--count N] [--jobs J] "
                   "[--timeout SECONDS] [--only NAME.vmodel] [--keep] [--stress]\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "mutate_check: " << e.what() << '\n';
    return 2;
  }
  if (access(opt.vmc.c_str(), X_OK) != 0) {
    std::cerr << "mutate_check: cannot execute " << opt.vmc << '\n';
    return 2;
  }
  std::vector<fs::path> models;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(opt.stdlib, ec)) {
    if (e.path().extension() != ".vmodel") continue;
    if (!opt.only.empty() && e.path().filename() != opt.only) continue;
    models.push_back(e.path());
  }
  std::sort(models.begin(), models.end());
  if (ec || models.empty()) {
    std::cerr << "mutate_check: no .vmodel files in " << opt.stdlib << '\n';
    return 2;
  }

  std::random_device rd;
  fs::path dir = fs::temp_directory_path() /
                 ("vmc_mutate_" + std::to_string(getpid()) + "_" + std::to_string(rd()));
  fs::create_directories(dir);

  std::vector<Input> inputs;
  auto add = [&](const std::string& name, const std::string& text, Input meta) {
    meta.path = dir / name;
    if (!write_file(meta.path, text)) {
      std::cerr << "mutate_check: cannot write " << meta.path << '\n';
      std::exit(2);
    }
    inputs.push_back(std::move(meta));
  };

  if (opt.stress) models.clear();
  for (const fs::path& model : models) {
    std::string text = read_file(model);
    std::string stem = model.stem().string();
    std::string name = model.filename().string();

    // (a) truncations at evenly spaced offsets, plus 0, 1 and len - 1.
    std::vector<std::size_t> offsets = {0, 1};
    if (!text.empty()) offsets.push_back(text.size() - 1);
    for (int k = 0; k < opt.count; ++k) {
      offsets.push_back(text.size() * static_cast<std::size_t>(k) /
                        static_cast<std::size_t>(std::max(1, opt.count)));
    }
    std::sort(offsets.begin(), offsets.end());
    offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
    for (std::size_t at : offsets) {
      if (at > text.size()) continue;
      add(stem + ".cut" + std::to_string(at) + ".vmodel", text.substr(0, at),
          {{}, name, "truncated to its first " + std::to_string(at) + " bytes", 0});
    }

    // (b) seeded random mutations.
    std::uint32_t seed = opt.seed ^ fnv1a(name);
    std::mt19937 rng(seed);
    for (int k = 0; k < opt.count; ++k) {
      std::string mutated = text;
      std::string log;
      int edits = 1 + static_cast<int>(std::uniform_int_distribution<int>(0, 9)(rng) / 4);
      for (int e = 0; e < edits; ++e) mutate_once(mutated, rng, log);
      add(stem + ".mut" + std::to_string(k) + ".vmodel", mutated,
          {{}, name, "mutation #" + std::to_string(k) + ": " + log, seed});
    }
  }

  // Or the stress inputs.
  int s = 0;
  if (opt.stress) {
    for (const auto& [what, text] : stress_inputs()) {
      add("stress" + std::to_string(s++) + ".vmodel", text, {{}, "", "stress: " + what, 0});
    }
  }

  std::cout << "mutate_check: " << inputs.size() << " inputs"
            << (opt.stress ? " (stress)" : " from " + std::to_string(models.size()) + " models")
            << ", seed " << opt.seed << ", " << opt.jobs << " at a time, in " << dir
            << std::endl;
  auto start = Clock::now();
  std::vector<Result> results = run_all(opt, inputs);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  int passed = 0, failed = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    if (results[i].outcome == Outcome::Ok) {
      ++passed;
      if (!opt.keep) fs::remove(in.path, ec);
      continue;
    }
    ++failed;
    std::cout << "\nFAILED: vmc check " << in.path.string() << ": "
              << describe(results[i], opt.timeout_s) << '\n';
    if (!in.model.empty()) std::cout << "  from stdlib/" << in.model << ", " << in.description;
    else std::cout << "  " << in.description;
    if (in.seed != 0) {
      std::cout << "\n  seed " << opt.seed << " (generator seed " << in.seed
                << "); reproduce with: mutate_check VMC STDLIB --seed " << opt.seed
                << " --count " << opt.count << " --only " << in.model << " --keep";
    }
    std::cout << '\n';
    if (failed <= 10) {
      if (results[i].outcome != Outcome::Hang) {
        std::string err = stderr_of(opt, in.path);
        if (!err.empty()) std::cout << "  stderr:\n" << err << (err.back() == '\n' ? "" : "\n");
      }
      std::string content = read_file(in.path);
      std::cout << "  input (" << content.size() << " bytes, non-printable bytes as \\xNN):\n"
                << "-----8<-----\n"
                << escaped(content, in.model.empty() ? 400 : 8000) << "\n-----8<-----\n";
    }
  }
  if (failed == 0 && !opt.keep) {
    fs::remove_all(dir, ec);
  } else {
    std::cout << "\ninputs kept in " << dir << '\n';
  }
  std::cout << "mutate_check: " << inputs.size() << " runs in " << static_cast<int>(seconds + 0.5)
            << " s; seed " << opt.seed << '\n';
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 ? 0 : 1;
}

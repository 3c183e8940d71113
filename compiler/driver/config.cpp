#include "driver/config.hpp"

#include "driver/compare.hpp"
#include "lower/estimator.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "support/suggest.hpp"

namespace vmc::driver {
namespace {

std::string where(const std::string& path, const toml::source_region& at) {
  return path + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column);
}

// One TOML value as the text the command line would have given.
bool text_of(const toml::node& v, std::string& out) {
  if (auto s = v.as_string()) out = s->get();
  else if (auto i = v.as_integer()) out = std::to_string(i->get());
  else if (auto f = v.as_floating_point()) {
    std::ostringstream o;
    o.precision(17);
    o << f->get();
    out = o.str();
  } else if (auto b = v.as_boolean()) out = b->get() ? "true" : "false";
  else return false;
  return true;
}

// One `[[run]]` table of a comparison.
bool read_run(const std::string& path, const toml::table& t, RunSpec& run) {
  bool ok = true;
  auto bad = [&](const toml::node& v, const std::string& message) {
    std::cerr << where(path, v.source()) << ": error: " << message << '\n';
    ok = false;
  };
  for (auto&& [key, value] : t) {
    std::string name(key.str());
    std::string text;
    if (name == "batch" && value.as_array()) {
      for (const toml::node& v : *value.as_array()) {
        if (!text_of(v, text)) bad(v, "'batch' takes M or \"DIM=M\"");
        else run.batch.push_back(text);
      }
      continue;
    }
    if (!text_of(value, text)) {
      bad(value, "'" + name + "' takes a number or a string");
      continue;
    }
    if (name == "label") {
      if (!value.as_string() || text.empty()) bad(value, "'label' is a non-empty string");
      run.label = text;
    } else if (name == "estimator") {
      if (!lower::find_estimator(text)) bad(value, "'estimator' is one of " + lower::estimator_list(", "));
      run.estimator = text;
    } else if (name == "samples") {
      auto i = value.as_integer();
      if (!i || i->get() < 1 || i->get() > 100000) bad(value, "'samples' is an integer from 1 to 100000");
      else run.samples = static_cast<int>(i->get());
    } else if (name == "batch") {
      run.batch.push_back(text);
    } else if (name == "optimizer") {
      run.optimizer = text;
    } else if (name == "lr") {
      auto f = value.as_floating_point();
      auto i = value.as_integer();
      double v = f ? f->get() : i ? static_cast<double>(i->get()) : -1;
      if (!(v > 0)) bad(value, "'lr' is a positive number");
      run.lr = v;
    } else {
      bad(value, "unknown key '" + name + "' in a [[run]] (the keys are label, estimator, samples, batch, optimizer, lr)");
    }
  }
  return ok;
}

// The keys whose values are paths: a relative one is relative to the config file's directory
// (as a file's own references are), not to wherever vmc is run from.
bool is_path_key(const std::string& flag) {
  return flag == "model" || flag == "data" || flag == "test-data" || flag == "out" || flag == "replot";
}

// `value` (PATH, or NAME=PATH for data) with a relative PATH put under `dir`.
std::string resolve(const std::filesystem::path& dir, const std::string& flag, const std::string& value) {
  if (dir.empty()) return value;
  std::string prefix, path = value;
  if (flag == "data" || flag == "test-data") {
    if (auto eq = value.find('='); eq != std::string::npos) {
      prefix = value.substr(0, eq + 1);
      path = value.substr(eq + 1);
    }
  }
  if (path.empty() || std::filesystem::path(path).is_absolute()) return value;
  return prefix + (dir / path).lexically_normal().string();
}

// The keys `cmd` takes, as a config spells them (tol_rel_obj), for a "did you mean".
std::vector<std::string> config_keys(const CLI::App& cmd, bool runs) {
  std::vector<std::string> keys = {"model"};
  if (runs) keys.push_back("run");
  for (const CLI::Option* o : cmd.get_options()) {
    for (std::string name : o->get_lnames()) {
      if (name == "help" || name == "config") continue;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      keys.push_back(name);
    }
  }
  return keys;
}

}  // namespace

bool apply_config(CLI::App& cmd, const std::string& path, std::vector<RunSpec>* runs) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    if (what.find("File could not be opened") != std::string::npos) {
      std::cerr << path << ": error: cannot open the config file\n";
    } else {
      std::cerr << where(path, e.source()) << ": error: " << what << '\n';
    }
    return false;
  }
  bool ok = true;
  for (auto&& [key, value] : table) {
    std::string name(key.str());
    std::string flag = name;
    for (char& c : flag) {
      if (c == '_') c = '-';
    }
    if (runs && name == "run") {
      const toml::array* list = value.as_array();
      if (!list || !list->is_array_of_tables()) {
        std::cerr << where(path, value.source()) << ": error: 'run' is a list of tables: [[run]] estimator = \"A\" ...\n";
        ok = false;
        continue;
      }
      for (const toml::node& t : *list) {
        RunSpec run;
        ok = read_run(path, *t.as_table(), run) && ok;
        runs->push_back(run);
      }
      continue;
    }
    CLI::Option* opt = name == "model" ? cmd.get_option_no_throw("MODEL") : cmd.get_option_no_throw("--" + flag);
    if (!opt || flag == "config") {
      std::string hint = did_you_mean(name, config_keys(cmd, runs != nullptr));
      std::cerr << where(path, value.source()) << ": error: unknown key '" << name << "' for vmc "
                << cmd.get_name()
                << (hint.empty() ? " (the keys are its options, e.g. estimator, batch, steps, lr)" : hint) << '\n';
      ok = false;
      continue;
    }
    if (opt->count() > 0) continue;  // the command line wins
    std::vector<std::string> items;
    if (const toml::array* arr = value.as_array()) {
      for (const toml::node& v : *arr) {
        std::string s;
        if (!text_of(v, s)) {
          std::cerr << where(path, v.source()) << ": error: '" << name << "' takes numbers or strings\n";
          ok = false;
        }
        items.push_back(s);
      }
    } else {
      std::string s;
      if (!text_of(value, s)) {
        std::cerr << where(path, value.source()) << ": error: '" << name << "' takes a number, string or boolean\n";
        ok = false;
        continue;
      }
      items.push_back(s);
    }
    if (items.size() > 1 && opt->get_expected_max() <= 1) {
      std::cerr << where(path, value.source()) << ": error: '" << name << "' takes one value\n";
      ok = false;
      continue;
    }
    bool is_flag = opt->get_type_size() == 0;
    if (is_flag && items[0] != "true" && items[0] != "false") {
      std::cerr << where(path, value.source()) << ": error: '" << name << "' is true or false\n";
      ok = false;
      continue;
    }
    if (is_flag && items[0] == "false") continue;
    if (is_path_key(flag)) {
      const std::filesystem::path dir = std::filesystem::path(path).parent_path();
      for (std::string& s : items) s = resolve(dir, flag, s);
    }
    try {
      for (const std::string& s : items) opt->add_result(s);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      std::cerr << where(path, value.source()) << ": error: " << name << ": " << e.what() << '\n';
      ok = false;
    }
  }
  return ok;
}

}  // namespace vmc::driver

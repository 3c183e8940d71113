#include "driver/config.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <iostream>
#include <sstream>

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

}  // namespace

bool apply_config(CLI::App& cmd, const std::string& path) {
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
    CLI::Option* opt = name == "model" ? cmd.get_option_no_throw("MODEL") : cmd.get_option_no_throw("--" + flag);
    if (!opt || flag == "config") {
      std::cerr << where(path, value.source()) << ": error: unknown key '" << name << "' for vmc "
                << cmd.get_name() << " (the keys are its options, e.g. estimator, batch, steps, lr)\n";
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

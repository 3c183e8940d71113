// vmc: the command line. Sub-commands are defined here; their work lives in commands.cpp.
#include <CLI/CLI.hpp>

#include <iostream>
#include <new>

#include "driver/commands.hpp"
#include "support/check.hpp"

namespace {

constexpr const char* kVersion = "0.1.0";

const char* kDescription =
    "vmc: a compiler and runtime for variational inference.\n"
    "Write a model and its guide in a .vmodel file; vmc checks it, derives the ELBO and its\n"
    "gradient symbolically, and optimises it.";

int run(int argc, char** argv) {
  CLI::App app{kDescription, "vmc"};
  app.set_version_flag("--version", std::string("vmc ") + kVersion);
  app.require_subcommand(0, 1);
  app.fallthrough(false);

  vmc::driver::CheckArgs check;
  CLI::App* check_cmd = app.add_subcommand(
      "check", "Parse and check a model: prints a one-line summary, or the errors (exit 1)");
  check_cmd->add_option("MODEL", check.model_path, "the .vmodel file")->required();
  check_cmd->add_option("--set", check.set,
                        "override a dim: --set J=2 (repeatable; also gives a dim the data "
                        "would otherwise give)");
  check_cmd->add_option("--guide", check.guide,
                        "an automatic guide for a model without a guide block")
      ->check(CLI::IsMember({"meanfield", "fullrank"}));

  std::string emit_stage, emit_path;
  CLI::App* emit_cmd = app.add_subcommand(
      "emit", "Print a compiler stage's output for a model (deterministic, for golden tests)");
  emit_cmd->add_option("STAGE", emit_stage, "the stage to print: ast")
      ->required()
      ->check(CLI::IsMember({"ast"}));
  emit_cmd->add_option("MODEL", emit_path, "the .vmodel file")->required();

  std::string help_topic;
  CLI::App* help_cmd = app.add_subcommand("help", "Explain a command: vmc help CMD");
  help_cmd->add_option("COMMAND", help_topic, "the command to explain");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "vmc: error: " << e.what() << "\nRun 'vmc --help' for the commands and options.\n";
    return 1;
  }

  if (*check_cmd) return vmc::driver::run_check(check);
  if (*emit_cmd) return vmc::driver::run_emit_ast(emit_path);
  if (*help_cmd) {
    if (help_topic.empty()) {
      std::cout << app.help();
      return 0;
    }
    for (CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == help_topic) {
        std::cout << sub->help();
        return 0;
      }
    }
    std::cerr << "vmc: error: no command named '" << help_topic
              << "'; run 'vmc help' for the list\n";
    return 1;
  }
  std::cout << app.help();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const vmc::InternalError& e) {
    std::cerr << "vmc: " << e.what() << "\nThis is a bug in vmc; please report it with the input.\n";
    return 70;
  } catch (const std::bad_alloc&) {
    std::cerr << "vmc: error: out of memory\n";
    return 1;
  }
}

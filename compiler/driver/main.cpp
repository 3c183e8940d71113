// vmc: the command line. Sub-commands are defined here; their work lives in commands.cpp.
#include <CLI/CLI.hpp>

#include <iostream>
#include <new>

#include "driver/commands.hpp"
#include "support/check.hpp"
#include "support/stack.hpp"

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

  vmc::driver::ModelArgs model;
  auto model_options = [&](CLI::App* cmd, bool lowering) {
    cmd->add_option("MODEL", model.model_path, "the .vmodel file")->required();
    cmd->add_option("--set", model.set,
                    "give a dim a value: --set J=2 (repeatable; overrides a default, or gives a "
                    "dim the data would otherwise give)");
    cmd->add_option("--guide", model.guide, "an automatic guide for a model without a guide block")
        ->check(CLI::IsMember({"meanfield", "fullrank"}));
    if (!lowering) return;
    cmd->add_option("--estimator", model.estimator,
                    "the ELBO estimator: A (sampled log p - log q), B (closed-form KL where the "
                    "table has one), iwae (importance weighted), stl (sticking the landing)")
        ->check(CLI::IsMember({"A", "B", "iwae", "stl"}))
        ->default_val("A");
    cmd->add_option("--samples", model.samples, "samples L per step (K for iwae)")
        ->check(CLI::Range(1, 100000))
        ->default_val(1);
    cmd->add_option("--precision", model.precision, "f32 or f64 for generated code")
        ->check(CLI::IsMember({"f32", "f64"}))
        ->default_val("f32");
    cmd->add_flag("--no-cache", model.no_cache,
                  "compile from scratch instead of loading an unchanged model's object from the "
                  "cache ($VMC_CACHE_DIR, else ~/.cache/vmc)");
  };

  CLI::App* check_cmd = app.add_subcommand(
      "check", "Parse and check a model: prints a one-line summary, or the errors (exit 1)");
  model_options(check_cmd, true);
  bool timing = false;
  check_cmd->add_flag("--timing,-v", timing,
                      "also compile to native code and print the time of each stage: parse, "
                      "sema, lower, diff, simplify, codegen, LLVM optimise, JIT link");

  std::string emit_stage;
  CLI::App* emit_cmd = app.add_subcommand(
      "emit", "Print a compiler stage's output for a model (deterministic, for golden tests): "
              "ast (the parsed program), ir (the objective's tensor IR), grad (the simplified "
              "value + gradient DAG), llvm (the generated LLVM module)");
  emit_cmd->add_option("STAGE", emit_stage, "ast, ir, grad or llvm")
      ->required()
      ->check(CLI::IsMember({"ast", "ir", "grad", "llvm"}));
  model_options(emit_cmd, true);
  bool optimized = false;
  emit_cmd->add_flag("--optimized", optimized,
                     "llvm: print the module after LLVM's O3 pipeline for this machine");

  vmc::driver::DiagnoseArgs diag;
  CLI::App* diagnose_cmd = app.add_subcommand(
      "diagnose", "Compare the symbolic gradient with finite differences of the reference "
                  "interpreter at a random point (fixed noise, synthetic data); exit 1 past the "
                  "tolerance");
  model_options(diagnose_cmd, true);
  diagnose_cmd->add_option("--epsilon", diag.epsilon, "finite-difference step")->default_val(1e-6);
  diagnose_cmd->add_option("--error", diag.error,
                           "tolerance on |symbolic - finite difference|, relative past 1")
      ->default_val(1e-6);
  diagnose_cmd->add_option("--seed", diag.seed, "seed of the point, noise and data")->default_val(1);
  diagnose_cmd->add_option("--init", diag.init_radius,
                           "draw params uniformly in (-R, R), unconstrained, instead of from "
                           "their declared inits")
      ->check(CLI::PositiveNumber);
  diagnose_cmd->add_option("--elements", diag.elements, "elements checked per param")
      ->check(CLI::Range(1, 1000000))
      ->default_val(10);

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

  if (*check_cmd) return vmc::driver::run_check(model, timing);
  if (*emit_cmd) return vmc::driver::run_emit(emit_stage, model, optimized);
  if (*diagnose_cmd) return vmc::driver::run_diagnose(model, diag);
  if (*help_cmd) {
    if (help_topic.empty()) {
      // app.help() would describe the selected sub-command (`help` itself): ask the formatter.
      std::cout << app.get_formatter()->make_help(&app, "vmc", CLI::AppFormatMode::Normal);
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
  return vmc::run_with_stack([&] {
    try {
      return run(argc, argv);
    } catch (const vmc::InternalError& e) {
      std::cerr << "vmc: " << e.what() << "\nThis is a bug in vmc; please report it with the input.\n";
      return 70;
    } catch (const std::bad_alloc&) {
      std::cerr << "vmc: error: out of memory\n";
      return 1;
    }
  });
}

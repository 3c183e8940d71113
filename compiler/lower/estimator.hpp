// The ELBO estimators (LANGUAGE.md "The objective"), one entry each in estimator.cpp: what the
// objective is for each (read by lowering as properties, never by name), and the name the CLI's
// --estimator and --estimators, the TOML config, the host API and `vmc help estimators` take.
// An unknown name is an error everywhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vmc::lower {

struct Estimator {
  std::string_view name;     // --estimator NAME
  std::string_view summary;  // one line: `vmc help estimators`, --help
  char samples;              // what --samples counts: 'L' samples averaged, 'K' importance samples
  // Each latent whose (guide, prior) pair has a closed-form KL takes −KL(q‖p) instead of its
  // sampled log p − log q (the note's eq. 10, L^B).
  bool closed_form_kl;
  // The bound is the log-mean-exp of the samples' importance weights per datapoint (IWAE), not
  // their mean; only for models whose latents are all local, or all global with no subsampling.
  bool importance_weighted;
  // The guide's params are held constant inside log q, removing the score term of the gradient
  // (sticking the landing); the value is the plain sampled bound's.
  bool path_derivative;
};

// In the order of the host API's vmc::Estimator enum, the plain sampled bound (L^A) first: the
// default.
const std::vector<Estimator>& estimators();
const Estimator* find_estimator(std::string_view name);
const Estimator& default_estimator();  // L^A: the sampled log p − log q
const Estimator& closed_form_estimator();  // L^B
std::vector<std::string> estimator_names();
// The names, "A, B, ... or ..." (with `last` between the last two).
std::string estimator_list(const std::string& last = " or ");
// The table `vmc help estimators` prints.
std::string estimators_reference();

}  // namespace vmc::lower

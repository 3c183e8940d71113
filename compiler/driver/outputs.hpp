// What `vmc fit` and `vmc sample` write besides the trace and checkpoint: summary.json's pieces,
// the global latents' posterior and draws.csv, PSIS k̂, and the pictures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver/binding.hpp"
#include "vmc/data.hpp"
#include "vmc/fit.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {

using Json = nlohmann::ordered_json;

// A flat C-order array as nested JSON lists of `shape` (a number for a scalar).
Json nested(const std::vector<double>& flat, const std::vector<std::int64_t>& shape, std::size_t dim = 0,
            std::size_t offset = 0);
Json shape_json(const std::vector<std::int64_t>& s);
Json number(double v);  // null when not finite

// Stan-style column names of a tensor's elements: w.0, w.1, ... (w.0.1 for a matrix).
std::vector<std::string> element_names(const std::string& name, const std::vector<std::int64_t>& shape);
// The draws of the outputs `keep` as CSV: a header of element names, a row per draw.
std::string draws_csv(const runtime::Draws& d, const std::vector<std::size_t>& keep);

// The global latents' guide moments (on their supports) and the generated block's quantities,
// and draws.csv, from `draws` guide draws.
struct Posterior {
  Json moments = Json::object();  // name → {mean, sd, q5, q50, q95}, each nested as the latent
  Json generated = Json::object();  // the same for the generated block's quantities
  std::string csv;
  std::string table;              // the same per element, as CmdStan's stansummary prints it
  std::int64_t draws = 0;
};
// Enough draws that their Monte Carlo error (sd / √draws) is small against the fit's own: 10,000
// for up to 100 elements, fewer (down to 1,000) so that draws.csv stays under 10^6 values.
Posterior posterior(runtime::Trainer& trainer, const sema::Model& m);
// Whether the compiled model has the kernel `name` (abi.h).
bool has_kernel(const vmc_model_info& info, const std::string& name);

// PSIS k̂ of the fitted guide over `draws` guide draws (nullopt when the model cannot be
// re-lowered with estimator A).
std::optional<double> psis(const FitArgs& args, const Bound& b, const runtime::Trainer& trainer, std::int64_t draws);

// The data array that holds images (real, [N, D] with D a square ≥ 16, values in [0, 1]).
std::optional<std::string> image_data(const Bound& b);
// A named output of a sampling kernel's draws, or null.
const std::vector<double>* output(const runtime::Draws& d, const std::string& name);

// The first rows of an array (what the reconstructions picture shows), and its full row count.
struct Preview {
  data::Array rows;
  std::int64_t n = 0;
};
Preview preview(const data::Array& a, std::int64_t rows);

// samples.png, reconstructions.png and (for a 2-D local latent) manifold.png; returns the names
// written.
std::vector<std::string> pictures(runtime::Trainer& trainer, const Bound& b, const std::string& dir,
                                  const std::string& x, const Preview& train_rows);
// elbo.svg: the per-step estimate, the smoothed bound and the test points.
void elbo_svg(const std::string& path, const std::string& model, const runtime::FitHistory& h);

}  // namespace vmc::driver

// Fits a model from C++ through the host API, then takes one step by hand.
//   host_api MODEL.vmodel [IDX_IMAGES]   (no images: the embedded digits)
#include <vmc/vmc.hpp>

#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: host_api MODEL.vmodel [IDX_IMAGES]\n");
    return 2;
  }
  try {
    vmc::Model model = vmc::compile_file(argv[1], {.dims = {{"J", 2}}, .estimator = vmc::Estimator::B});
    vmc::Data data = argc > 2 ? vmc::load_idx(argv[2], "x") : vmc::embedded_digits("x");
    vmc::FitOptions opt{.estimator = vmc::Estimator::B, .samples = 1, .batch = 100, .steps = 200};
    vmc::FitResult r = vmc::fit(model, data, opt);
    std::printf("%s: %lld steps, bound per datapoint %.3f -> %.3f, %.0f datapoints/s\n", model.name().c_str(),
                static_cast<long long>(r.steps), r.trace.front(), r.final_elbo_per_datapoint, r.datapoints_per_s);

    // Step by step: the bound and its gradient on a batch of 10 rows at the fitted params.
    vmc::data::Array rows = data.arrays.at("x");
    if (rows.shape.size() > 2) rows = vmc::data::flatten_rows(rows);
    std::int64_t d = rows.shape[1];
    rows.shape[0] = 10;
    rows.values.resize(static_cast<std::size_t>(10 * d));
    vmc::Data batch(rows);
    vmc::Values noise = model.draw_noise(batch, /*seed=*/1), grad;
    double elbo = model.elbo_and_grad(r.params, batch, noise, grad);
    double norm = 0;
    for (const auto& [name, g] : grad)
      for (double v : g) norm += v * v;
    std::printf("one batch of 10: elbo %.3f, gradient norm %.3f over %zu params\n", elbo, std::sqrt(norm), grad.size());
    return std::isfinite(elbo) && r.final_elbo_per_datapoint > r.trace.front() ? 0 : 1;
  } catch (const vmc::Error& e) {
    std::fprintf(stderr, "%s", e.what());
    return 1;
  } catch (const vmc::data::DataError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

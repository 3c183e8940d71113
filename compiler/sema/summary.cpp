#include "sema/analyzer.hpp"
#include "sema/sema.hpp"

namespace vmc::sema {
namespace {

// The number of param values, symbolic in the dims nothing gave a value.
std::string value_count(const Model& m) {
  try {
    Extent total;
    for (const Variable& p : m.params) {
      Extent n = Extent::constant(1);
      for (const Extent& e : p.type.shape) n = n * e;
      total = total + n;
    }
    return total.to_string() + (total == Extent::constant(1) ? " value" : " values");
  } catch (const ExtentOverflow&) {
    return "more than 2^63 values";
  }
}

}  // namespace

std::string summary_line(const Model& m) {
  std::size_t local = m.local_latent_count();
  return "ok: " + m.name + ": " + count(m.params.size(), "param", "params") + " (" +
         value_count(m) + "), " + count(m.latents.size(), "latent", "latents") + " (" +
         std::to_string(local) + " local, " + std::to_string(m.latents.size() - local) +
         " global), " + std::to_string(m.data.size()) + " data, " +
         count(m.dims.size(), "dim", "dims");
}

}  // namespace vmc::sema

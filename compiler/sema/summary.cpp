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
    return total.to_string() + " values";
  } catch (const ExtentOverflow&) {
    return "more than 2^63 values";
  }
}

}  // namespace

// INTERFACE.md fixes the line's start, `ok: N params (P values), L latents, ...`, for scripts
// that read it: the counts keep those words whatever the number.
std::string summary_line(const Model& m) {
  std::size_t local = m.local_latent_count();
  return "ok: " + std::to_string(m.params.size()) + " params (" + value_count(m) + "), " +
         std::to_string(m.latents.size()) + " latents (" + std::to_string(local) + " local, " +
         std::to_string(m.latents.size() - local) + " global), " + std::to_string(m.data.size()) +
         " data, " + std::to_string(m.dims.size()) + " dims; model " + m.name;
}

}  // namespace vmc::sema

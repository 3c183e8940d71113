// libFuzzer target: `vmc check` (and the lowering and gradient `vmc fit` would run) on arbitrary
// bytes. A user error must come back as diagnostics; an InternalError (a broken invariant) or a
// sanitizer report is a finding.
#include <cstdint>
#include <sstream>
#include <string>

#include "lower/lower.hpp"
#include "parse/parser.hpp"
#include "sema/sema.hpp"
#include "support/diagnostics.hpp"
#include "support/source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vmc::SourceManager sources;
  vmc::Diagnostics diags;
  const vmc::SourceFile* file = sources.add("fuzz.vmodel", std::string(reinterpret_cast<const char*>(data), size));
  std::optional<vmc::ast::Program> program = vmc::parse::parse_program(*file, diags);
  if (program) {
    vmc::sema::Options options;
    options.set_dims["N"] = 7;  // a dim the data would give: exercise shapes, not only symbols
    options.set_dims["D"] = 5;
    options.lowering = true;  // as the pipeline checks a model it lowers
    std::unique_ptr<vmc::sema::Model> model = vmc::sema::analyze(*program, options, diags);
    if (model && !diags.has_errors()) {
      for (const vmc::lower::Estimator* e : {vmc::lower::find_estimator("A"), vmc::lower::find_estimator("B")}) {
        vmc::lower::Options lo;
        lo.estimator = e;
        vmc::lower::Lowered lowered = vmc::lower::lower_model(*model, lo);
        vmc::lower::add_gradients(lowered);
      }
    }
  }
  std::ostringstream rendered;
  vmc::render(rendered, diags);  // every message renders with its file:line:col and excerpt
  return 0;
}

// The automatic guides (--guide NAME, LANGUAGE.md "Automatic guides"), one entry each in
// auto_guide.cpp: the guide vmc builds for a model without a guide block. Sema checks the name and
// where a guide applies, lowering builds it from the entry's properties (never by name), and the
// CLI's --guide, the TOML config, the host API and `vmc help guides` read the same table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vmc::sema {

struct AutoGuide {
  std::string_view name;     // --guide NAME
  std::string_view summary;  // one line: `vmc help guides`
  // One multivariate normal over all the global latents' elements, its covariance a Cholesky
  // factor (a dense matrix of params), instead of an independent normal per element. Local
  // latents (a factor per datapoint would not scale) keep the factorized guide.
  bool joint;
  // Written NAME:R with a rank R (1 ≤ R ≤ kMaxRank): lowrank's covariance, diagonal plus rank R.
  bool ranked = false;
  std::string_view brief = "";  // a few words for an option's help: "an independent normal per element"
};

// "meanfield (an independent normal per element), fullrank (...) or lowrank:R (...)".
std::string auto_guides_brief();

inline constexpr int kMaxRank = 16;

// A --guide value: "meanfield", "fullrank", "lowrank:4". Its entry and rank (0 for an entry that
// takes none), or nullptr with `problem` set.
const AutoGuide* parse_auto_guide(std::string_view text, int& rank, std::string& problem);

const std::vector<AutoGuide>& auto_guides();
const AutoGuide* find_auto_guide(std::string_view name);
const AutoGuide& factorized_auto_guide();  // the first that is not joint: for local latents
std::vector<std::string> auto_guide_names();  // as written: "lowrank:R" for a ranked one
// The names, "meanfield, fullrank or lowrank:R" (with `last` between the last two).
std::string auto_guide_list(const std::string& last = " or ");
// The table `vmc help guides` prints.
std::string auto_guides_reference();

}  // namespace vmc::sema

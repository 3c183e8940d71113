#include "driver/help.hpp"

#include "dist/distribution.hpp"
#include "support/check.hpp"
#include "lower/estimator.hpp"
#include "sema/auto_guide.hpp"
#include "vmc/schedule.hpp"
#include "sema/builtins.hpp"
#include "vmc/optimizers.hpp"

namespace vmc::driver {
namespace {

// One distribution: its signature, support, parameters' supports, guide use and KL partners.
std::string one_distribution(const dist::Distribution& d) {
  std::string out = std::string(d.name) + "(" + d.param_list() + ")\n";
  out += "  value: " + dist::to_string(d.support) +
         (d.accepts_real_data ? " (or real data in [0, 1]: then the cross-entropy)" : "") + "\n";
  for (const dist::Param& p : d.params) {
    out += "  " + std::string(p.name) + ": " + (p.kind == dist::ArgKind::Int ? "int, " : "") +
           dist::to_string(p.support) + (p.kind == dist::ArgKind::Constant ? ", a constant" : "") + "\n";
  }
  switch (d.reparam()) {
    case dist::Reparam::Yes: out += "  guide family: yes, " + std::string(d.sampler.how) + "\n"; break;
    case dist::Reparam::Later: out += "  guide family: not yet (needs implicit reparameterization)\n"; break;
    case dist::Reparam::No: out += "  guide family: no\n"; break;
  }
  out += std::string("  drawn forwards (generated block, vmc sample): ") +
         (!d.sampler.fn ? "not yet" : d.sampler.reparam == dist::Reparam::Yes ? "yes" : "yes, " + std::string(d.sampler.how)) +
         "\n";
  if (!d.kl.empty()) {
    std::string priors;
    for (const dist::KlPartner& k : d.kl) priors += (priors.empty() ? "" : ", ") + std::string(k.prior);
    out += "  closed-form KL (estimator B) against the priors: " + priors + "\n";
  }
  out += std::string("  init ") + (d.init.fn ? "may draw from it" : "cannot draw from it") + "\n";
  std::string name(d.name);
  out += "  density functions: " + name + std::string(dist::density_suffix(d)) + "(y | " + d.param_list() + ")";
  if (d.tails.log_cdf) out += ", " + name + "_lcdf(y | ...)";
  if (d.tails.log_ccdf) out += ", " + name + "_lccdf(y | ...)";
  out += "\n";
  return out;
}

// Binding data: the formats and their rules (runtime/include/vmc/data.hpp), --data's forms
// (driver/binding.cpp) and the checks made before any training.
const char* kDataReference = R"(# Data

`--data` binds the arrays of a model's `data` block; fit, eval, sample, bench, compare and
diagnose take it (diagnose: the data's shapes give the dims and its values replace the synthetic
data).

| form | binds |
|---|---|
| `--data NAME=PATH` | the array NAME to the file PATH (by its extension: below) |
| `--data NAME=FILE.csv:COLUMN` | NAME to the column of FILE.csv whose header is COLUMN, as a vector; several names may bind columns of one file: `--data y=hier.csv:score --data g=hier.csv:group` |
| `--data FILE.json` | every array of the data block found in the file by its name |
| none | a model whose data block is just `x : real[N, D]` runs on the embedded 8x8 digits |

| format | extension | holds |
|---|---|---|
| IDX | `.gz` (gzip), `.idx*`, `*-ubyte` | MNIST's format: a typed array with its shape; unsigned bytes of rank >= 2 (images) are scaled to [0, 1] unless `--raw-pixels`; the file must hold exactly the bytes its header describes |
| CSV | `.csv` | one row per leading index, comma-separated numbers: one column is a vector [N], more a matrix [N, D] |
| NPY | `.npy` | NumPy arrays of dtype <f4, <f8, <i4, <i8 or u1 in C order (u1 scaled as IDX) |
| JSON | `.json` | an object of named arrays, each a number or rectangular nested lists of numbers, nested at most 512 levels |

CSV: a UTF-8 byte-order mark is skipped; a first line with no numeric field, followed by data
rows, is a header (a first line with some numeric fields is data, and a non-numeric field in it
an error; the file's only line is always data); blank lines are ignored; every row has as many
fields as the first data row.

Before any training, every value is checked: finite (numbers past the range of a double, such
as 1e400, are named so), within the f32 range (3.4e38) when the model runs at
`--precision f32`, an integer where the data is declared `int`, inside the declared bounds and
the support of the distributions it is drawn from, and inside the array it indexes. An array
must have as many dimensions as its declaration (images stored [N, rows, cols] are read as
[N, rows * cols] for a matrix). Each problem is one message naming the file and the element,
line or column, and exit status 1.

In a `--config` TOML file, relative paths (`model`, `data`, `test_data`, `out`) are relative to
the config file's own directory; absolute paths are kept.
)";

// A reference (driver/reference/*.md) with each `{{TABLE}}` line replaced by that table and each
// `{{command NAME}}` line by the command's option listing.
std::string expand(const std::string& text, const CommandHelp& commands) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.size() > 4 && line.starts_with("{{") && line.ends_with("}}")) {
      std::string name = line.substr(2, line.size() - 4);
      std::optional<std::string> part;
      if (name.starts_with("command ")) {
        if (commands) part = commands(name.substr(8));
      } else if (name != "language" && name != "cli") {
        part = help_text(name);
      }
      VMC_ASSERT(part, "the reference names no table or command '" + name + "'");
      while (part->ends_with("\n")) part->pop_back();
      out += *part + "\n";
      continue;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

namespace reference {
extern const char* const language;  // reference_text.cpp, generated from reference/*.md
extern const char* const cli;
}  // namespace reference

std::vector<std::string> help_topics() {
  return {"language", "cli", "distributions", "functions", "estimators", "optimizers", "guides", "schedules", "data"};
}

std::optional<std::string> help_text(const std::string& topic, const CommandHelp& commands) {
  if (topic == "language") return expand(reference::language, commands);
  if (topic == "cli") return expand(reference::cli, commands);
  if (topic == "distributions") return dist::reference_table();
  if (topic == "functions") return sema::builtins_reference();
  if (topic == "estimators") return lower::estimators_reference();
  if (topic == "guides") return sema::auto_guides_reference();
  if (topic == "optimizers") return runtime::optimizers_reference();
  if (topic == "schedules") return runtime::lr_schedules_reference();
  if (topic == "data") return std::string(kDataReference);
  if (const dist::Distribution* d = dist::find(topic)) return one_distribution(*d);
  return std::nullopt;
}

}  // namespace vmc::driver

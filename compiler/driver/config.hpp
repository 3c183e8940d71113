// `--config FILE.toml`: a file of the same keys as a command's options (`estimator = "NAME"`,
// `batch = 100`, `data = ["x=train.gz"]`, `tol_rel_obj = 0.01` or "tol-rel-obj"), read with
// toml++. A key the command line also gives keeps the command line's value. Relative paths in
// it (model, data, test_data, out) are relative to the config file's directory.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace vmc::driver {

struct RunSpec;

// Applies the file's keys to `cmd`'s options that the command line left unset. Reports a
// malformed file, an unknown key (with a "did you mean") or a bad value as PATH:LINE:COL and
// returns false. A relative path (model, data, test_data, out) is put under the file's directory. With
// `runs` (vmc compare), `[[run]]` tables are read into it: each takes label, estimator,
// samples, batch, optimizer and lr.
bool apply_config(CLI::App& cmd, const std::string& path, std::vector<RunSpec>* runs = nullptr);

}  // namespace vmc::driver

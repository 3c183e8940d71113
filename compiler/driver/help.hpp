// `vmc help TOPIC` for what is not a command: the reference tables, printed from the compiler's
// own tables (the distribution registry, the ops with a builtin name), so they cannot drift from
// what the compiler accepts. docs/ holds the same text (tests/docs_check.sh compares them).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vmc::driver {

// The topics besides the commands: "distributions", "functions", ...
std::vector<std::string> help_topics();
// A command's option listing (`vmc help fit`), or nullopt for no such command.
using CommandHelp = std::function<std::optional<std::string>(const std::string& command)>;
// The text of `topic` (one of help_topics(), or a distribution's name), or nullopt. The
// references (language, cli) splice in the tables and, through `commands`, the option listings
// at their `{{TABLE}}` and `{{command NAME}}` lines.
std::optional<std::string> help_text(const std::string& topic, const CommandHelp& commands = {});

}  // namespace vmc::driver

// "Did you mean" suggestions for misspelled names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vmc {

// The candidate closest to `name` by edit distance (case differences cost less than other
// edits), or "" when none is close enough to be a plausible typo.
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

// "; did you mean 'x'?" or "" — ready to append to a message.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace vmc

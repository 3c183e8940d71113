// "Did you mean" suggestions for misspelled names, and lists of names for messages.
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

// "a", "a and b", "a, b and c" (or with another last separator: "a, b or c")
std::string join(const std::vector<std::string>& items, const std::string& last = " and ");

}  // namespace vmc

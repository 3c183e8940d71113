// The .vmodel grammar's entry points. Definitions live in grammar_def.hpp and are compiled
// once, in grammar.cpp.
#pragma once

#include <vector>

#include <boost/spirit/home/x3.hpp>

#include "parse/x3/ast.hpp"
#include "parse/x3/config.hpp"

namespace vmc::parse::x3ast {

struct program_class;
using program_type = x3::rule<program_class, std::vector<item>>;
BOOST_SPIRIT_DECLARE(program_type, skipper_type)

program_type const& program();
skipper_type const& skipper();

}  // namespace vmc::parse::x3ast

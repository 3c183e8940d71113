// The one translation unit that compiles the X3 grammar (X3 is slow to compile: keep it here).
#include "parse/x3/grammar_def.hpp"

namespace vmc::parse::x3ast {

BOOST_SPIRIT_INSTANTIATE(program_type, iterator_type, context_type)
BOOST_SPIRIT_INSTANTIATE(skipper_type, iterator_type, x3::unused_type)

program_type const& program() { return program_r; }
skipper_type const& skipper() { return skipper_r; }

}  // namespace vmc::parse::x3ast

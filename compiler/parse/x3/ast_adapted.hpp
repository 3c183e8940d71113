// Fusion adaptations so X3 can fill the parser AST's structs from rule attributes.
#pragma once

#include <boost/fusion/include/adapt_struct.hpp>

#include "parse/x3/ast.hpp"

BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::name, id)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::number, text)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::token, text)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::given, bar, args)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::call, callee, args, bar)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::group, open, inner)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::link, op, rhs)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::chain, first, rest)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::negation, op, operand)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::power, base, exponent)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::subscript, lo, is_slice, hi)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::suffix, kind, subscripts)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::postfix, base, suffixes)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::let_stmt, keyword, target, value)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::assign_stmt, target, subscripts, value)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::target_stmt, op, value)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::sample_stmt, lhs, tilde, dist)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::plate_stmt, index, dim, subsample, body)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::for_stmt, index, from, to, body)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::constraint, key, value)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::type_expr, base, constraints, shape)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::init_clause, keyword, value)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::dim_decl, id, value)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::var_decl, id, type, init)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::model_decl, keyword, id)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::dims_block, keyword, items)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::vars_block, keyword, items)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::stmts_block, keyword, items)
BOOST_FUSION_ADAPT_STRUCT(vmc::parse::x3ast::fn_def, keyword, id, params, body)

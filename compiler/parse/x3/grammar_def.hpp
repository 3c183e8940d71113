// The .vmodel grammar (LANGUAGE.md), in Spirit X3. Precedence, loosest first:
//   + -   then   * /   then   .* ./   then unary -   then ^ (right-assoc.)   then postfix ' [ ] ( )
// Statements, declarations and top-level items recover from a syntax error: the rule's
// on_error handler records the error, then a recovery parser skips to the next ';' (or to the
// '}' closing the block) so later, independent errors are reported in the same run.
#pragma once

#include <cstring>
#include <string>
#include <type_traits>

#include <boost/spirit/home/x3.hpp>

#include "parse/x3/ast.hpp"
#include "parse/x3/ast_adapted.hpp"
#include "parse/x3/config.hpp"
#include "parse/x3/grammar.hpp"
#include "parse/x3/tokens.hpp"

namespace vmc::parse::x3ast {

// --- rule behaviours ---

// Records every tagged node's byte range (leading whitespace already skipped by X3).
struct annotate {
  template <class It, class Attr, class Ctx>
  void on_success(It const& first, It const& last, Attr& attr, Ctx const& ctx) const {
    if constexpr (std::is_base_of_v<tagged, Attr>) {
      ParseState& state = x3::get<parse_state_tag>(ctx);
      attr.begin = state.offset(first);
      attr.end = state.offset(last);
    }
  }
};

// Records an expectation failure as a syntax error, then lets the rule fail so the enclosing
// alternative can try its recovery parser.
struct recoverable : annotate {
  template <class It, class Exc, class Ctx>
  x3::error_handler_result on_error(It&, It const&, Exc const& x, Ctx const& ctx) const {
    ParseState& state = x3::get<parse_state_tag>(ctx);
    report_expected(state, x.where(), x.which());
    return x3::error_handler_result::fail;
  }
};

// --- rule declarations ---

struct call_id : annotate {};
struct constraint_id : annotate {};
struct constraint_key_id : annotate {};
struct dim_decl_id : recoverable {};
struct dims_block_id : annotate {};
struct dims_kw_id : annotate {};
struct dist_id : annotate {};
struct elementwise_id : annotate {};
struct elementwise_link_id : annotate {};
struct expr_id : annotate {};
struct sum_id : annotate {};
struct comparison_id : annotate {};
struct comparison_link_id : annotate {};
struct arith_id : annotate {};
struct fn_id : annotate {};
struct fn_kw_id : annotate {};
struct init_id : annotate {};
struct init_kw_id : annotate {};
struct item_id : recoverable {};
struct let_id : annotate {};
struct let_kw_id : annotate {};
struct assign_id : annotate {};
struct for_id : annotate {};
struct given_id : annotate {};
struct bar_id : annotate {};
struct model_decl_id : annotate {};
struct model_kw_id : annotate {};
struct name_id : annotate {};
struct negation_id : annotate {};
struct number_id : annotate {};
struct pi_id : annotate {};
struct plate_id : annotate {};
struct postfix_id : annotate {};
struct power_id : annotate {};
struct primary_id : annotate {};
struct group_id : annotate {};
struct product_id : annotate {};
struct product_link_id : annotate {};
struct sample_id : annotate {};
struct statement_id : recoverable {};
struct stmts_block_id : annotate {};
struct subsample_id : annotate {};
struct subscript_id : annotate {};
struct suffix_id : annotate {};
struct sum_link_id : annotate {};
struct target_id : annotate {};
struct tilde_id : annotate {};
struct type_base_id : annotate {};
struct type_id : annotate {};
struct constraints_id : annotate {};
struct extents_id : annotate {};
struct unary_id : annotate {};
struct var_decl_id : recoverable {};
struct vars_block_id : annotate {};
struct vars_kw_id : annotate {};
struct statement_item_id : annotate {};
struct dim_item_id : annotate {};
struct var_item_id : annotate {};
struct item_or_bad_id : annotate {};
struct model_open_id {};
struct block_open_id : annotate {};
struct program_class : annotate {};
struct skipper_class {};

x3::rule<struct name_id, name> const name_r = "a name";
x3::rule<struct type_base_id, name> const type_base_r =
    "a type ('real', 'int', 'ordered', 'positive_ordered', 'simplex' or 'cholesky_factor_corr')";
x3::rule<struct constraint_key_id, name> const constraint_key_r = "'lower', 'upper' or 'cholesky'";
x3::rule<struct pi_id, name> const pi_r = "'pi'";
x3::rule<struct number_id, number> const number_r = "a number";
x3::rule<struct tilde_id, token> const tilde_r = "'~'";
x3::rule<struct subsample_id, token> const subsample_r = "'subsample'";
x3::rule<struct init_kw_id, token> const init_kw_r = "'init'";
x3::rule<struct model_kw_id, token> const model_kw_r = "'model'";
x3::rule<struct dims_kw_id, token> const dims_kw_r = "'dims'";
x3::rule<struct vars_kw_id, token> const vars_kw_r = "'data', 'param' or 'latent'";
x3::rule<struct fn_kw_id, token> const fn_kw_r = "'fn'";

x3::rule<struct sum_id, chain> const sum_r = "an expression";
x3::rule<struct expr_id, expr> const expr_r = "an expression";
x3::rule<struct comparison_id, chain> const comparison_r = "an expression";
x3::rule<struct comparison_link_id, link> const comparison_link_r = "a comparison";
x3::rule<struct arith_id, expr> const arith_r = "an expression";
x3::rule<struct sum_link_id, link> const sum_link_r = "'+' or '-'";
x3::rule<struct product_id, chain> const product_r = "an expression";
x3::rule<struct product_link_id, link> const product_link_r = "'*' or '/'";
x3::rule<struct elementwise_id, chain> const elementwise_r = "an expression";
x3::rule<struct elementwise_link_id, link> const elementwise_link_r = "'.*' or './'";
x3::rule<struct unary_id, expr> const unary_r = "an expression";
x3::rule<struct negation_id, negation> const negation_r = "an expression";
x3::rule<struct power_id, power> const power_r = "an expression";
x3::rule<struct postfix_id, postfix> const postfix_r = "an expression";
x3::rule<struct primary_id, expr> const primary_r = "an expression";
x3::rule<struct group_id, group> const group_r = "an expression";
x3::rule<struct call_id, call> const call_r = "a function call";
x3::rule<struct given_id, given> const given_r = "'|' and the parameters";
x3::rule<struct bar_id, token> const bar_r = "'|'";
x3::rule<struct dist_id, call> const dist_r = "a distribution";
x3::rule<struct suffix_id, suffix> const suffix_r = "an index or transpose";
x3::rule<struct subscript_id, subscript> const subscript_r = "an index";

x3::rule<struct statement_id, statement> const statement_r = "a statement";
x3::rule<struct let_id, let_stmt> const let_r = "a let statement";
x3::rule<struct let_kw_id, token> const let_kw_r = "'let' or 'var'";
x3::rule<struct assign_id, assign_stmt> const assign_r = "an assignment";
x3::rule<struct for_id, for_stmt> const for_r = "a for loop";
x3::rule<struct target_id, target_stmt> const target_r = "a target statement";
x3::rule<struct sample_id, sample_stmt> const sample_r = "a '~' statement";
x3::rule<struct plate_id, plate_stmt> const plate_r = "a plate";
x3::rule<struct statement_item_id, statement> const statement_item_r = "a statement";

x3::rule<struct constraint_id, constraint> const constraint_r = "a constraint";
x3::rule<struct type_id, type_expr> const type_r = "a type";
x3::rule<struct constraints_id, std::vector<constraint>> const constraints_r =
    "a constraint ('lower', 'upper' or 'cholesky')";
x3::rule<struct extents_id, std::vector<expr>> const extents_r = "an extent";
x3::rule<struct init_id, init_clause> const init_r = "an init clause";
x3::rule<struct dim_decl_id, dim_decl> const dim_decl_r = "a dim declaration";
x3::rule<struct var_decl_id, var_decl> const var_decl_r = "a declaration";
x3::rule<struct dim_item_id, dim_item> const dim_item_r = "a dim declaration";
x3::rule<struct var_item_id, var_item> const var_item_r = "a declaration";

x3::rule<struct model_decl_id, model_decl> const model_decl_r = "a model declaration";
x3::rule<struct dims_block_id, dims_block> const dims_block_r = "a dims block";
x3::rule<struct vars_block_id, vars_block> const vars_block_r = "a declaration block";
x3::rule<struct stmts_block_id, stmts_block> const stmts_block_r = "a model, guide or generated block";
x3::rule<struct fn_id, fn_def> const fn_r = "a function definition";
x3::rule<struct item_id, item> const item_r = "a block";
x3::rule<struct item_or_bad_id, item> const item_or_bad_r = "a block";
x3::rule<struct model_open_id, x3::unused_type> const model_open_r = "a model name or '{'";
x3::rule<struct block_open_id, token> const block_open_r = "'model', 'guide' or 'generated'";

program_type const program_r = "a model file";
skipper_type const skipper_r = "whitespace";

// --- tokens ---

auto const name_r_def = identifier;
// Stan's `ordered[K]`, `positive_ordered[K]` and `simplex[K]` are real vectors with that constraint,
// `cholesky_factor_corr[K]` a real [K, K] matrix with its own (parser.cpp).
auto const type_base_r_def =
    x3::raw[keyword("real") | keyword("int") | keyword("positive_ordered") | keyword("ordered") | keyword("simplex") |
            keyword("cholesky_factor_corr")];
auto const constraint_key_r_def =
    x3::raw[keyword("lower") | keyword("upper") | keyword("cholesky")] | identifier;  // `ordered` too: not a keyword
auto const pi_r_def = x3::raw[keyword("pi")];
// Character classes by range, not x3::digit / x3::space: those call <cctype> functions that are
// undefined for the bytes of multi-byte UTF-8 text.
auto const digit = x3::char_('0', '9');
auto const blank = x3::char_(" \t\r\n\f\v");
auto const number_r_def = x3::raw[x3::lexeme[
    (+digit >> -('.' >> +digit) | '.' >> +digit) >> -(x3::char_("eE") >> -x3::char_("+-") >> +digit)]];
auto const tilde_r_def = x3::raw[x3::lit('~')];
auto const subsample_r_def = x3::raw[keyword("subsample")];
auto const init_kw_r_def = x3::raw[keyword("init")];
auto const model_kw_r_def = x3::raw[keyword("model")];
auto const dims_kw_r_def = x3::raw[keyword("dims")];
auto const vars_kw_r_def = x3::raw[keyword("data") | keyword("param") | keyword("latent")];
auto const fn_kw_r_def = x3::raw[keyword("fn")];

// --- expressions ---

// A comparison (at most one: `a < b < c` is not an ordering test) binds looser than + and -.
auto const expr_r_def = comparison_r;
auto const comparison_r_def = sum_r >> -comparison_link_r;
auto const comparison_link_r_def =
    (x3::string("==") | x3::string("!=") | x3::string("<=") | x3::string(">=") | x3::string("<") |
     x3::string(">")) > sum_r;
// A constraint's value (`real<upper=K - 1>`): no comparison, so its '>' closes the list.
auto const arith_r_def = sum_r;
auto const sum_r_def = product_r >> *sum_link_r;
auto const sum_link_r_def = (x3::string("+") | x3::string("-")) > product_r;
auto const product_r_def = elementwise_r >> *product_link_r;
auto const product_link_r_def = (x3::string("*") | x3::string("/")) > elementwise_r;
auto const elementwise_r_def = unary_r >> *elementwise_link_r;
auto const elementwise_link_r_def = (x3::string(".*") | x3::string("./")) > unary_r;
auto const unary_r_def = negation_r | power_r;
auto const negation_r_def = x3::string("-") > unary_r;
auto const power_r_def = postfix_r >> -('^' > unary_r);
auto const postfix_r_def = primary_r >> *suffix_r;
auto const primary_r_def = number_r | call_r | pi_r | name_r | group_r;
auto const group_r_def = x3::string("(") > expr_r > ')';
auto const call_r_def = name_r >> '(' > -(expr_r % ',') > -given_r > ')';
auto const bar_r_def = x3::raw[x3::lit('|')];
auto const given_r_def = bar_r > (expr_r % ',');
auto const dist_r_def = name_r > '(' > -(expr_r % ',') > -given_r > ')';
auto const suffix_r_def = (x3::string("'") >> x3::attr(std::vector<subscript>())) |
                          (x3::string("[") > (subscript_r % ',') > ']');
auto const subscript_r_def = -expr_r >> slice_colon >> -expr_r;

// --- statements ---

auto const statement_r_def = let_r | target_r | plate_r | for_r | assign_r | sample_r;
auto const let_kw_r_def = x3::raw[keyword("let") | keyword("var")];
auto const let_r_def = let_kw_r > name_r > '=' > expr_r > ';';
// `NAME = ...` or `NAME[i, j] = ...` (one '=': no operator of the language starts with '='; a
// '~' after the subscripts makes it a '~' statement).
auto const assign_r_def = name_r >> -('[' >> (subscript_r % ',') >> ']') >> '=' > expr_r > ';';
auto const for_r_def = keyword("for") > name_r > keyword("in") > expr_r > ':' > expr_r > '{' >
                       *statement_item_r > '}';
auto const target_r_def = keyword("target") > x3::string("+=") > expr_r > ';';
auto const plate_r_def = keyword("plate") > name_r > keyword("in") > name_r > -subsample_r >
                         '{' > *statement_item_r > '}';
auto const sample_r_def = expr_r > tilde_r > dist_r > ';';
auto const statement_item_r_def =
    statement_r | recover<bad_stmt>("expected a statement", Recovery::Statement);

// --- declarations ---

auto const constraint_r_def = constraint_key_r > -('=' > arith_r);
auto const constraints_r_def = constraint_r % ',';
auto const extents_r_def = expr_r % ',';
auto const type_r_def = type_base_r > -('<' > constraints_r > '>') > -('[' > extents_r > ']');
auto const init_r_def = init_kw_r > expr_r;
auto const dim_decl_r_def = name_r > -('=' > expr_r) > ';';
auto const var_decl_r_def = name_r > ':' > type_r > -init_r > ';';
auto const dim_item_r_def =
    dim_decl_r | recover<bad_decl>("expected a dim declaration ('NAME;' or 'NAME = VALUE;')",
                                   Recovery::Statement);
auto const var_item_r_def =
    var_decl_r | recover<bad_decl>("expected a declaration ('NAME : TYPE;')", Recovery::Statement);

// --- top level ---

auto const model_decl_r_def = model_kw_r >> name_r > ';';
auto const dims_block_r_def = dims_kw_r > '{' > *dim_item_r > '}';
auto const vars_block_r_def = vars_kw_r > '{' > *var_item_r > '}';
auto const model_open_r_def = x3::lit('{');
// The token's text is the keyword and the brace ("model {"): parser.cpp keeps the keyword.
// `generated` is a keyword only here, at the top level (where no name can stand): it stays free
// as a name. Stan's `generated quantities {` is parsed so that parser.cpp can say what to write.
auto const block_open_r_def =
    x3::raw[(keyword("model") > model_open_r) | (keyword("guide") > '{') |
            (keyword("generated") > -keyword("quantities") > '{')];
auto const stmts_block_r_def = block_open_r > *statement_item_r > '}';
auto const fn_r_def = fn_kw_r > name_r > '(' > -(name_r % ',') > ')' > '=' > expr_r > ';';
auto const item_r_def = model_decl_r | dims_block_r | vars_block_r | stmts_block_r | fn_r;
auto const item_or_bad_r_def =
    item_r | recover<bad_item>("expected 'model', 'dims', 'data', 'param', 'latent', 'guide', "
                               "'generated' or 'fn' at the top level",
                               Recovery::TopLevel);
auto const program_r_def = *item_or_bad_r >> x3::eoi;

auto const skipper_r_def = blank | x3::lexeme["//" >> *(x3::char_ - x3::eol)] |
                           x3::lexeme["/*" >> *(x3::char_ - "*/") >> ("*/" | x3::eoi)];

BOOST_SPIRIT_DEFINE(name_r, sum_r, comparison_r, comparison_link_r, arith_r, type_base_r, constraint_key_r, pi_r, number_r, tilde_r, subsample_r,
                    init_kw_r, model_kw_r, dims_kw_r, vars_kw_r, fn_kw_r,
                    expr_r, sum_link_r, product_r, product_link_r, elementwise_r,
                    elementwise_link_r, unary_r, negation_r, power_r, postfix_r, primary_r, group_r,
                    call_r, given_r, bar_r, dist_r, suffix_r, subscript_r, statement_r, let_r, let_kw_r,
                    assign_r, for_r, target_r,
                    sample_r, plate_r, statement_item_r, constraint_r, constraints_r, extents_r, type_r, init_r,
                    dim_decl_r, var_decl_r, dim_item_r, var_item_r, model_decl_r, dims_block_r,
                    vars_block_r, model_open_r, block_open_r, stmts_block_r, fn_r, item_r, item_or_bad_r,
                    program_r, skipper_r)

}  // namespace vmc::parse::x3ast

// Syntax errors: for each broken input, the exact list of (line:col, message) the parser
// reports. Recovery skips a broken statement, declaration or top-level item, so independent
// errors in one file are each reported once, and nothing is reported twice.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/diagnostics.hpp"
#include "test_support.hpp"

namespace {

using namespace vmc;

// "line:col: message" for each diagnostic the parser reports on `text`, in order; each is an
// error with a place in the source.
std::vector<std::string> syntax_errors(const std::string& text, bool* parsed = nullptr) {
  test_support::Parsed p(text);
  if (parsed) *parsed = p.program.has_value();
  for (const Diagnostic& d : p.diags.all()) {
    CHECK(d.severity == Severity::Error);
    CHECK(d.span.valid());
  }
  return p.errors();
}

using Errors = std::vector<std::string>;

const char* kTopLevel =
    "expected 'model', 'dims', 'data', 'param', 'latent', 'guide', 'generated' or 'fn' at the top level";

}  // namespace

TEST_SUITE("parse errors") {

TEST_CASE("a program with errors is not returned") {
  bool parsed = true;
  CHECK(syntax_errors("model m;\nmodel { x ~ }\n", &parsed).size() == 1);
  CHECK_FALSE(parsed);
  CHECK(syntax_errors("model m;\nmodel { }\n", &parsed).empty());
  CHECK(parsed);
}

TEST_CASE("single syntax errors: position and message") {
  struct Case {
    const char* text;
    Errors errors;
  };
  const Case cases[] = {
      // A missing terminator is reported just after the previous token.
      {"model m;\nmodel {\n  x ~ normal(0, 1)\n}\n", {"3:19: expected ';'"}},
      {"model m\nmodel { }\n", {"1:8: expected ';'"}},
      {"model m;\ndata { x : real[N, D] }\n", {"2:22: expected ';'"}},
      {"model m;\nmodel { target += 1 }\n", {"2:20: expected ';'"}},
      {"model m;\nmodel { x ~ normal(0, 1)); }\n", {"2:25: expected ';', found ')'"}},
      {"model m;\nmodel { x ~ normal(0, 1); \n", {"2:26: expected '}'"}},
      // Something else was found where a construct was expected.
      {"model m;\nmodel { let h = a + ; }\n", {"2:21: expected an expression, found ';'"}},
      {"model m;\ndata { x real[N]; }\n", {"2:10: expected ':', found 'real'"}},
      {"model m;\ndata { x : float; }\n", {"2:12: expected a type, found 'float'"}},
      {"model m;\nmodel { plate i N { } }\n", {"2:17: expected 'in', found 'N'"}},
      {"model m;\nmodel { target = 1; }\n", {"2:16: expected '+=', found '='"}},
      {"model m;\nguide { x ~ 3; }\n", {"2:13: expected a distribution, found '3'"}},
      {"model m;\nmodel { x ~ a.b(0, 1); }\n", {"2:14: expected '(', found '.b'"}},
      {"model m;\nmodel { let x = 1;; }\n", {"2:19: expected a statement, found ';'"}},
      {"model", {"1:6: expected a model name or '{', found end of file"}},
      {"model m;\n}\n", {std::string("2:1: ") + kTopLevel + ", found '}'"}},
      {"model m;\nfoo;\n", {std::string("2:1: ") + kTopLevel + ", found 'foo'"}},
      {"model m;\n@\n", {std::string("2:1: ") + kTopLevel + ", found '@'"}},
      // A non-ASCII character is shown whole, and its column counts code points.
      {"model m; /* é */ €\n", {std::string("1:18: ") + kTopLevel + ", found '€'"}},
      // Subscripts.
      {"model m;\nmodel { x[1 2] ~ normal(0, 1); }\n",
       {"2:13: expected ',' or ']' between subscripts"}},
      {"model m;\nmodel { let x = a[]; }\n", {"2:19: expected an index"}},
      {"model m;\nmodel { let x = a[,]; }\n",
       {"2:19: expected an index", "2:20: expected an index"}},
      // Comments.
      {"model m;\n/* never closed\nmodel { }\n",
       {"2:1: unterminated comment: '/*' has no matching '*/'"}},
      {"model m;\nmodel { }\n/*", {"3:1: unterminated comment: '/*' has no matching '*/'"}},
  };
  for (const Case& c : cases) {
    std::string shown = c.text;
    CAPTURE(shown);
    CHECK(syntax_errors(c.text) == c.errors);
  }
}

TEST_CASE("a keyword cannot be a name") {
  struct Case {
    const char* text;
    Errors errors;
  };
  const Case cases[] = {
      {"model in;\n", {"1:7: expected a model name or '{', found 'in'"}},
      {"model model;\n", {"1:7: expected a model name or '{', found 'model'"}},
      {"model m;\ndims { in; }\n",
       {"2:8: expected a dim declaration ('NAME;' or 'NAME = VALUE;'), found 'in'"}},
      {"model m;\ndata { model : real; }\n",
       {"2:8: expected a declaration ('NAME : TYPE;'), found 'model'"}},
      {"model m;\nlatent { real : real; }\n",
       {"2:10: expected a declaration ('NAME : TYPE;'), found 'real'"}},
      {"model m;\nmodel { let plate = 1; }\n", {"2:13: expected a name, found 'plate'"}},
      {"model m;\nmodel { let x = target; }\n",
       {"2:17: expected an expression, found 'target'"}},
      {"model m;\nmodel { let x = lower + 1; }\n",
       {"2:17: expected an expression, found 'lower'"}},
      {"model m;\nmodel { plate in in N { } }\n", {"2:15: expected a name, found 'in'"}},
      {"model m;\nmodel { plate i in pi { } }\n", {"2:20: expected a name, found 'pi'"}},
      {"model m;\nfn let(x) = x;\n", {"2:4: expected a name, found 'let'"}},
  };
  for (const Case& c : cases) {
    std::string shown = c.text;
    CAPTURE(shown);
    CHECK(syntax_errors(c.text) == c.errors);
  }
}

TEST_CASE("a keyword as a fn parameter is an error at the keyword") {
  Errors errors = syntax_errors("model m;\nfn f(let) = 1;\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("2:6: expected ", 0) == 0);
}

TEST_CASE("several independent errors in one file are each reported") {
  const char* text =
      "model m;\n"                                       // 1
      "model {\n"                                        // 2
      "  let a = 1 + ;\n"                                // 3
      "  x ~ normal(0, 1);\n"                            // 4
      "  let b = 3 *;\n"                                 // 5
      "  y ~ ;\n"                                        // 6
      "  plate i in N { z[i] ~ normal(0, 1) }\n"         // 7
      "}\n"                                              // 8
      "data { x : real[N] y : real; z : real; }\n"       // 9
      "foo;\n"                                           // 10
      "guide { z ~ normal(0, 1); }\n"                    // 11
      "dims { N = ; M; }\n"                              // 12
      "param { p : real<lower=0> init ; q : real; }\n";  // 13
  CHECK(syntax_errors(text) == Errors{
                                   "3:15: expected an expression, found ';'",
                                   "5:14: expected an expression, found ';'",
                                   "6:7: expected a distribution, found ';'",
                                   "7:37: expected ';'",
                                   "9:20: expected ';', found 'y'",
                                   std::string("10:1: ") + kTopLevel + ", found 'foo'",
                                   "12:12: expected an expression, found ';'",
                                   "13:32: expected an expression, found ';'",
                               });
}

TEST_CASE("recovery resumes after a missing ';' inside a plate") {
  CHECK(syntax_errors("model m;\n"
                      "model {\n"
                      "  plate i in N { x[i] ~ normal(0, 1) }\n"
                      "  y ~ normal(0, 1);\n"
                      "  let = 2;\n"
                      "}\n") == Errors{"3:37: expected ';'", "5:7: expected a name, found '='"});
}

TEST_CASE("brackets nested too deep are refused, not a stack overflow") {
  std::string deep = "model m;\nmodel { let t = " + std::string(300, '(') + "a" +
                     std::string(300, ')') + "; }\n";
  Errors errors = syntax_errors(deep);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("brackets are nested more than") != std::string::npos);

  std::string fine = "model m;\nmodel { let t = " + std::string(100, '(') + "a" +
                     std::string(100, ')') + "; }\n";
  CHECK(syntax_errors(fine).empty());
}

// An unclosed '(' or '[' ends at the statement's ';' (unless a '{' is open), so it does not
// swallow the rest of the file: later independent errors are still reported, and no spurious
// "expected '}'" appears at the end of the file. A missing closer in the middle of a line is
// reported at the token found instead.
TEST_CASE("an unclosed '(' in a statement does not swallow the rest of the file") {
  CHECK(syntax_errors("model m;\n"
                      "model {\n"
                      "  let a = (1 + 2;\n"
                      "  x ~ normal(0, 1);\n"
                      "}\n"
                      "guide { z ~ normal(0, 1) }\n") ==
        Errors{"3:17: expected ')', found ';'", "6:25: expected ';'"});
}

TEST_CASE("an unclosed '[' in a statement does not swallow the rest of the file") {
  CHECK(syntax_errors("model m;\n"
                      "model {\n"
                      "  x[1 ~ normal(0, 1);\n"
                      "  y ~ normal(0, 1);\n"
                      "  let = 3;\n"
                      "}\n") ==
        Errors{"3:7: expected ']', found '~'", "5:7: expected a name, found '='"});
}

TEST_CASE("an unclosed '[' in a declaration does not swallow the rest of the file") {
  CHECK(syntax_errors("model m;\n"
                      "latent { c : real[K; d : real; }\n"
                      "model { x ~ normal(0, 1) }\n") ==
        Errors{"2:20: expected ']', found ';'", "3:25: expected ';'"});
}

TEST_CASE("several unclosed brackets in one file, each reported once") {
  CHECK(syntax_errors("model m;\n"
                      "model { let a = (1 + 2; let b = 3; }\n"
                      "fn f(x) = (x;\n"
                      "guide { z ~ normal(0 1); }\n") ==
        Errors{"2:23: expected ')', found ';'", "3:13: expected ')', found ';'",
               "4:22: expected ')', found '1'"});
}

// --- regressions: bugs found by these tests, now fixed ----------------------------------

// After "expected '}' to close the block before 'guide'", the blocks that follow still parse
// and their errors are reported.
TEST_CASE("a block left open is reported before the next block, which still parses") {
  CHECK(syntax_errors("model m;\n"
                      "model {\n"
                      "  x ~ normal(0, 1);\n"
                      "guide { z ~ normal(0, 1); }\n"
                      "data { x : real }\n") ==
        Errors{"3:20: expected '}' to close the block before 'guide'", "5:16: expected ';'"});
  CHECK(syntax_errors("model m;\ndata { x : real;\nmodel { x ~ normal(0, 1); }\n") ==
        Errors{"2:17: expected '}' to close the block before 'model'"});
  CHECK(syntax_errors("model m;\n"
                      "model {\n"
                      "  plate i in N {\n"
                      "    x ~ normal(0, 1);\n"
                      "}\n"
                      "guide { }\n") ==
        Errors{"5:2: expected '}' to close the block before 'guide'"});
}

// The type rule's lists are named rules: an expectation failure in them never shows X3's
// mangled C++ type names ("expected N5boost6spirit2x34listINS1_4rule...").
TEST_CASE("an empty constraint list or shape is reported in words") {
  for (const char* text : {"model m;\ndata { x : int<>; }\n", "model m;\ndata { x : real[]; }\n"}) {
    std::string shown = text;
    CAPTURE(shown);
    Errors errors = syntax_errors(text);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("boost") == std::string::npos);
    CHECK(errors[0].find("spirit") == std::string::npos);
    CHECK(errors[0].rfind("2:", 0) == 0);
  }
  CHECK(syntax_errors("model m;\ndata { x : int<>; }\n") ==
        Errors{"2:16: expected a constraint ('lower', 'upper' or 'cholesky'), found '>'"});
  CHECK(syntax_errors("model m;\ndata { x : real[]; }\n") ==
        Errors{"2:17: expected an extent, found ']'"});
}

// The offending byte was copied raw into the message; a NUL or another control byte in the
// input then ends up in the terminal (or truncates the message for C-string consumers).
TEST_CASE("a control byte in the input is not copied raw into the message") {
  std::string text = "model m;\nmodel {";
  text += '\0';
  text += " x ~ normal(0, 1); }\n";
  Errors errors = syntax_errors(text);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("2:8: expected a statement, found ", 0) == 0);
  for (char c : errors[0]) {
    int byte = static_cast<unsigned char>(c);
    CAPTURE(byte);
    CHECK(byte >= 0x20);
  }
}

}  // TEST_SUITE

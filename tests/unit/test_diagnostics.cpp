// The diagnostics renderer (INTERFACE.md, "Errors") and the "did you mean" suggestions.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/diagnostics.hpp"
#include "support/source.hpp"
#include "support/suggest.hpp"

namespace {

using namespace vmc;

std::string rendered(const Diagnostic& d) {
  std::ostringstream out;
  render(out, d);
  return out.str();
}

Diagnostic error_at(Span span, std::string message) {
  Diagnostic d;
  d.severity = Severity::Error;
  d.span = span;
  d.message = std::move(message);
  return d;
}

// The span of the first occurrence of `what` in the file's text at or after `from`.
Span find(const SourceFile& file, const std::string& what, std::size_t from = 0) {
  std::size_t at = file.text().find(what, from);
  REQUIRE(at != std::string::npos);
  return file.span(static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(at + what.size()));
}

// `count` numbered filler lines.
std::string filler(int count) {
  std::string out;
  for (int i = 1; i <= count; ++i) out += "// line " + std::to_string(i) + "\n";
  return out;
}

const std::vector<std::string> kDistributions = {
    "normal",      "lognormal", "laplace",           "logistic",  "cauchy",
    "student_t",   "exponential", "gamma",           "beta",      "uniform",
    "half_normal", "mvnormal_cholesky", "bernoulli", "bernoulli_logit",
    "poisson",     "poisson_log", "binomial_logit",  "categorical_logit"};

}  // namespace

TEST_SUITE("diagnostics") {

TEST_CASE("the INTERFACE.md example, exactly") {
  SourceManager sources;
  const SourceFile* file = sources.add(
      "models/bad.vmodel", filler(11) + "    let h = tanh(dec_W * x[i] + dec_b);\n}\n");
  Diagnostic d = error_at(find(*file, "dec_W * x[i]"),
                          "shapes do not agree for '*': real[400, 20] and real[784]");
  CHECK(rendered(d) ==
        "models/bad.vmodel:12:18: error: shapes do not agree for '*': real[400, 20] and "
        "real[784]\n"
        "   12 |     let h = tanh(dec_W * x[i] + dec_b);\n"
        "      |                  ^~~~~~~~~~~~\n");
}

TEST_CASE("a span in the middle of a line") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "model m;\nlet y = a + bcd + e;\n");
  CHECK(rendered(error_at(find(*file, "bcd"), "no such name 'bcd'")) ==
        "m.vmodel:2:13: error: no such name 'bcd'\n"
        "    2 | let y = a + bcd + e;\n"
        "      |             ^~~\n");
}

TEST_CASE("a one-character span is a caret without tildes") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "a * b\n");
  CHECK(rendered(error_at(find(*file, "*"), "bad")) ==
        "m.vmodel:1:3: error: bad\n"
        "    1 | a * b\n"
        "      |   ^\n");
}

TEST_CASE("a zero-width span is a caret only") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "model m;\nmodel { x ~ normal(0, 1) }\n");
  std::uint32_t at = static_cast<std::uint32_t>(file->text().find(") }") + 1);
  CHECK(rendered(error_at(file->span(at, at), "expected ';'")) ==
        "m.vmodel:2:25: error: expected ';'\n"
        "    2 | model { x ~ normal(0, 1) }\n"
        "      |                         ^\n");
}

TEST_CASE("a zero-width span at the start of a line") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "a\nbc\n");
  CHECK(rendered(error_at(file->span(2, 2), "here")) ==
        "m.vmodel:2:1: error: here\n"
        "    2 | bc\n"
        "      | ^\n");
}

TEST_CASE("a span to the end of the line") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "model m;\nlet y = a + b;\nnext\n");
  CHECK(rendered(error_at(find(*file, "a + b;"), "msg")) ==
        "m.vmodel:2:9: error: msg\n"
        "    2 | let y = a + b;\n"
        "      |         ^~~~~~\n");
}

TEST_CASE("a span over several lines is underlined to the end of its first line") {
  SourceManager sources;
  const SourceFile* file =
      sources.add("m.vmodel", "model m;\n  x ~ normal(mu,\n             sigma);\nnext\n");
  CHECK(rendered(error_at(find(*file, "normal(mu,\n             sigma)"), "multi")) ==
        "m.vmodel:2:7: error: multi\n"
        "    2 |   x ~ normal(mu,\n"
        "      |       ^~~~~~~~~~\n");
}

TEST_CASE("a span that starts at the end of a line and runs onto the next") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "ab\ncd\n");
  CHECK(rendered(error_at(file->span(2, 4), "x")) ==
        "m.vmodel:1:3: error: x\n"
        "    1 | ab\n"
        "      |   ^\n");
}

TEST_CASE("tabs before the span expand to 4-column stops and the caret lines up") {
  SourceManager sources;
  // Display: "    let h = a * b;" ("\t" -> 4 blanks, "let" -> col 7, "\t" -> 1 blank).
  const SourceFile* file = sources.add("m.vmodel", "\tlet\th = a * b;\n");
  CHECK(rendered(error_at(find(*file, "a * b"), "tabs")) ==
        "m.vmodel:1:10: error: tabs\n"
        "    1 |     let h = a * b;\n"
        "      |             ^~~~~\n");
}

TEST_CASE("a tab inside the span widens the underline") {
  SourceManager sources;
  // "ab" then a tab to column 4, then "cd": the span "b\tc" shows as "b  c" (4 columns).
  const SourceFile* file = sources.add("m.vmodel", "ab\tcd\n");
  CHECK(rendered(error_at(find(*file, "b\tc"), "tab inside")) ==
        "m.vmodel:1:2: error: tab inside\n"
        "    1 | ab  cd\n"
        "      |  ^~~~\n");
}

TEST_CASE("tabs after the span are expanded too") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "x\t\ty\n");
  CHECK(rendered(error_at(find(*file, "y"), "after tabs")) ==
        "m.vmodel:1:4: error: after tabs\n"
        "    1 | x       y\n"
        "      |         ^\n");
}

TEST_CASE("multi-byte UTF-8 before the span: the column counts code points, the caret lines up") {
  SourceManager sources;
  // "µ" is 2 bytes, "→" 3 bytes, "σ" 2 bytes: 3 code points, 7 bytes.
  const SourceFile* file = sources.add("m.vmodel", "/* µ→σ */ x * y;\n");
  CHECK(rendered(error_at(find(*file, "x * y"), "utf8")) ==
        "m.vmodel:1:11: error: utf8\n"
        "    1 | /* µ→σ */ x * y;\n"
        "      |           ^~~~~\n");
}

TEST_CASE("multi-byte UTF-8 inside the span: one tilde per code point") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "a /* é */ b\n");
  CHECK(rendered(error_at(find(*file, "/* é */"), "utf8 span")) ==
        "m.vmodel:1:3: error: utf8 span\n"
        "    1 | a /* é */ b\n"
        "      |   ^~~~~~~\n");
}

TEST_CASE("the last line of a file without a trailing newline") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "model m;\nmodel { x ~ y }");
  CHECK(rendered(error_at(find(*file, "y"), "last line")) ==
        "m.vmodel:2:13: error: last line\n"
        "    2 | model { x ~ y }\n"
        "      |             ^\n");
}

TEST_CASE("an error at the end of a file without a trailing newline") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "model m;\nmodel {");
  auto end = static_cast<std::uint32_t>(file->text().size());
  CHECK(rendered(error_at(file->span(end, end), "expected '}'")) ==
        "m.vmodel:2:8: error: expected '}'\n"
        "    2 | model {\n"
        "      |        ^\n");
}

TEST_CASE("an error at the end of a file that ends with a newline") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "model m;\nmodel {\n");
  auto end = static_cast<std::uint32_t>(file->text().size());
  CHECK(rendered(error_at(file->span(end, end), "expected '}'")) ==
        "m.vmodel:3:1: error: expected '}'\n"
        "    3 | \n"
        "      | ^\n");
}

TEST_CASE("an error in an empty file") {
  SourceManager sources;
  const SourceFile* file = sources.add("empty.vmodel", "");
  CHECK(rendered(error_at(file->span(0, 0), "no model block")) ==
        "empty.vmodel:1:1: error: no model block\n"
        "    1 | \n"
        "      | ^\n");
}

TEST_CASE("CRLF line ends are not shown") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "model m;\r\nlet y = a;\r\n");
  CHECK(rendered(error_at(find(*file, "a;\r\n"), "crlf")) ==
        "m.vmodel:2:9: error: crlf\n"
        "    2 | let y = a;\n"
        "      |         ^~\n");
}

TEST_CASE("line numbers of 4 and 5 digits; the gutter widens and the bars line up") {
  SourceManager sources;
  const SourceFile* file = sources.add("big.vmodel", filler(9998) + "x = 1;\ny = 2;\nz = 3;\n");
  CHECK(rendered(error_at(find(*file, "x"), "four digits")) ==
        "big.vmodel:9999:1: error: four digits\n"
        " 9999 | x = 1;\n"
        "      | ^\n");
  CHECK(rendered(error_at(find(*file, "y"), "five digits")) ==
        "big.vmodel:10000:1: error: five digits\n"
        "10000 | y = 2;\n"
        "      | ^\n");
  CHECK(rendered(error_at(find(*file, "3", file->text().find("z = 3")), "five digits")) ==
        "big.vmodel:10001:5: error: five digits\n"
        "10001 | z = 3;\n"
        "      |     ^\n");
}

TEST_CASE("line numbers of 6 digits") {
  SourceManager sources;
  const SourceFile* file = sources.add("huge.vmodel", std::string(123455, '\n') + "bad;\n");
  std::string out = rendered(error_at(find(*file, "bad"), "six digits"));
  CHECK(out ==
        "huge.vmodel:123456:1: error: six digits\n"
        "123456 | bad;\n"
        "       | ^~~\n");
}

TEST_CASE("notes are rendered after the error, each with its own source line") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel",
                                       "model m;\n"
                                       "latent { z : real; }\n"
                                       "model { z ~ normal(0, 1); z ~ normal(0, 2); }\n");
  std::size_t second = file->text().find("z ~ normal(0, 2)");
  Diagnostic d = error_at(find(*file, "z", second), "latent 'z' has two '~' in the model block");
  d.note(find(*file, "z ~ normal(0, 1)"), "the first is here");
  d.note(find(*file, "z : real"), "'z' is declared here");
  CHECK(rendered(d) ==
        "m.vmodel:3:27: error: latent 'z' has two '~' in the model block\n"
        "    3 | model { z ~ normal(0, 1); z ~ normal(0, 2); }\n"
        "      |                           ^\n"
        "m.vmodel:3:9: note: the first is here\n"
        "    3 | model { z ~ normal(0, 1); z ~ normal(0, 2); }\n"
        "      |         ^~~~~~~~~~~~~~~~\n"
        "m.vmodel:2:10: note: 'z' is declared here\n"
        "    2 | latent { z : real; }\n"
        "      |          ^~~~~~~~\n");
}

TEST_CASE("a note may point into another file") {
  SourceManager sources;
  const SourceFile* a = sources.add("a.vmodel", "x\n");
  const SourceFile* b = sources.add("lib/b.vmodel", "\n  y\n");
  Diagnostic d = error_at(find(*a, "x"), "here");
  d.note(find(*b, "y"), "and there");
  CHECK(rendered(d) ==
        "a.vmodel:1:1: error: here\n"
        "    1 | x\n"
        "      | ^\n"
        "lib/b.vmodel:2:3: note: and there\n"
        "    2 |   y\n"
        "      |   ^\n");
}

TEST_CASE("a diagnostic without a span: where: error: message") {
  Diagnostics diags;
  diags.error("data/x.csv", "row 3 has 5 values, expected 4");
  std::ostringstream out;
  render(out, diags);
  CHECK(out.str() == "data/x.csv: error: row 3 has 5 values, expected 4\n");
}

TEST_CASE("a diagnostic with neither span nor place") {
  Diagnostic d;
  d.message = "out of memory";
  CHECK(rendered(d) == "error: out of memory\n");
}

TEST_CASE("a note without a span") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "ab\n");
  Diagnostic d = error_at(find(*file, "b"), "main");
  d.note(Span{}, "try --set J=2");
  CHECK(rendered(d) ==
        "m.vmodel:1:2: error: main\n"
        "    1 | ab\n"
        "      |  ^\n"
        "note: try --set J=2\n");
}

TEST_CASE("warnings are rendered as warnings and are not errors") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "abc\n");
  Diagnostics diags;
  diags.warning(find(*file, "b"), "unused");
  CHECK_FALSE(diags.has_errors());
  CHECK(diags.error_count() == 0);
  CHECK(diags.size() == 1);
  std::ostringstream out;
  render(out, diags);
  CHECK(out.str() ==
        "m.vmodel:1:2: warning: unused\n"
        "    1 | abc\n"
        "      |  ^\n");
}

TEST_CASE("Diagnostics keeps the order of reports and counts errors") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "a b c\n");
  Diagnostics diags;
  CHECK_FALSE(diags.has_errors());
  diags.error(find(*file, "c"), "third letter");
  diags.warning(find(*file, "b"), "second letter");
  diags.error("--set", "bad value");
  diags.error(find(*file, "a"), "first letter").note(find(*file, "b"), "see b");
  CHECK(diags.has_errors());
  CHECK(diags.error_count() == 3);
  CHECK(diags.size() == 4);
  std::ostringstream out;
  render(out, diags);
  CHECK(out.str() ==
        "m.vmodel:1:5: error: third letter\n"
        "    1 | a b c\n"
        "      |     ^\n"
        "m.vmodel:1:3: warning: second letter\n"
        "    1 | a b c\n"
        "      |   ^\n"
        "--set: error: bad value\n"
        "m.vmodel:1:1: error: first letter\n"
        "    1 | a b c\n"
        "      | ^\n"
        "m.vmodel:1:3: note: see b\n"
        "    1 | a b c\n"
        "      |   ^\n");
}

TEST_CASE("SourceFile: line_col, line_text and line starts") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "ab\n\nµx\r\nlast");
  CHECK(file->line_count() == 4);
  CHECK(file->line_text(1) == "ab");
  CHECK(file->line_text(2) == "");
  CHECK(file->line_text(3) == "µx");
  CHECK(file->line_text(4) == "last");
  CHECK(file->line_text(5) == "");
  CHECK(file->line_start(3) == 4);
  LineCol x = file->line_col(6);  // 'x' after the two bytes of 'µ'
  CHECK(x.line == 3);
  CHECK(x.col == 2);
  LineCol end = file->line_col(static_cast<std::uint32_t>(file->text().size()));
  CHECK(end.line == 4);
  CHECK(end.col == 5);
  LineCol past = file->line_col(1000);  // clamped to the end
  CHECK(past.line == 4);
  CHECK(past.col == 5);
}

TEST_CASE("SourceManager::load reports a missing file and a directory") {
  SourceManager sources;
  std::string error;
  CHECK(sources.load("/nonexistent/dir/missing.vmodel", error) == nullptr);
  CHECK(error == "cannot open file: No such file or directory");
  error.clear();
  CHECK(sources.load(VMC_SOURCE_DIR, error) == nullptr);
  CHECK_FALSE(error.empty());
}

TEST_CASE("Span::cover") {
  SourceManager sources;
  const SourceFile* file = sources.add("m.vmodel", "abcdef");
  Span a = file->span(1, 2);
  Span b = file->span(4, 6);
  Span c = Span::cover(a, b);
  CHECK(c.begin == 1);
  CHECK(c.end == 6);
  CHECK(Span::cover(b, a).begin == 1);
  CHECK(Span::cover(Span{}, b).begin == 4);
  CHECK(Span::cover(a, Span{}).end == 2);
  CHECK_FALSE(Span::cover(Span{}, Span{}).valid());
}

// --- did you mean ---

TEST_CASE("closest_match: a case difference is the closest") {
  std::vector<std::string> names = {"dec_W", "dec_b", "enc_W", "enc_b", "mu_W", "mu_b"};
  CHECK(closest_match("dec_w", names) == "dec_W");
  CHECK(did_you_mean("dec_w", names) == "; did you mean 'dec_W'?");
  CHECK(closest_match("Dec_b", names) == "dec_b");
}

TEST_CASE("closest_match: distributions") {
  CHECK(closest_match("normall", kDistributions) == "normal");
  CHECK(closest_match("nromal", kDistributions) == "normal");  // a transposition
  CHECK(closest_match("Normal", kDistributions) == "normal");
  CHECK(closest_match("lognormall", kDistributions) == "lognormal");
  CHECK(closest_match("bernouli_logit", kDistributions) == "bernoulli_logit");
  CHECK(closest_match("poison", kDistributions) == "poisson");
  CHECK(did_you_mean("normall", kDistributions) == "; did you mean 'normal'?");
}

TEST_CASE("closest_match: nothing for a far name") {
  CHECK(closest_match("weibull", kDistributions) == "");
  CHECK(closest_match("xyz", {"dec_W", "dec_b"}) == "");
  CHECK(closest_match("completely_different", {"normal"}) == "");
  CHECK(did_you_mean("weibull", kDistributions) == "");
}

TEST_CASE("closest_match: no candidates, and the name itself is never suggested") {
  CHECK(closest_match("x", {}) == "");
  CHECK(closest_match("normal", {"normal"}) == "");
  CHECK(closest_match("normal", {"normal", "normals"}) == "normals");
}

TEST_CASE("closest_match: ties go to the alphabetically first candidate") {
  CHECK(closest_match("mu_c", {"mu_d", "mu_b"}) == "mu_b");
  CHECK(closest_match("mu_c", {"mu_b", "mu_d"}) == "mu_b");
}

}  // TEST_SUITE

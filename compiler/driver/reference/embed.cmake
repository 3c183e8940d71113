# Writes OUT, a C++ file holding each reference text of SRC_DIR (language.md, cli.md) as a string,
# for `vmc help language` and `vmc help cli` (driver/help.cpp). Run at build time, so an edit of
# a text rebuilds the binary.
set(body "// Generated from compiler/driver/reference/*.md by embed.cmake; do not edit.\n")
string(APPEND body "namespace vmc::driver::reference {\n")
foreach(name language cli)
  file(READ "${SRC_DIR}/${name}.md" text)
  string(FIND "${text}" ")vmcref\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${name}.md holds the raw string's delimiter )vmcref\"")
  endif()
  string(APPEND body "extern const char* const ${name};\nconst char* const ${name} = R\"vmcref(${text})vmcref\";\n")
endforeach()
string(APPEND body "}  // namespace vmc::driver::reference\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)

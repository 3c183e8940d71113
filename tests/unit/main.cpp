// The doctest runner for vmc_unit_tests: every tests/unit/*.cpp registers its cases with it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

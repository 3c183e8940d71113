#!/usr/bin/env bash
# The host API as a user gets it: install vmc into a fresh prefix, configure and build
# examples/host_api against the installed package (find_package(vmc), vmc::vmc), run it.
#   tests/e2e/host_api_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/vmc_host.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples/host_api" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
export VMC_CACHE_DIR="$work/cache"
LD_LIBRARY_PATH="$work/prefix/lib" "$work/build/host_api" "$src/stdlib/gaussian_vae.vmodel"
# A model that does not check: the diagnostics in the exception, exit 1.
printf 'model bad;\ndata { x : real[N, D]; }\n' > "$work/bad.vmodel"
if LD_LIBRARY_PATH="$work/prefix/lib" "$work/build/host_api" "$work/bad.vmodel" 2>"$work/err"; then
  echo "FAILED: a bad model compiled"; exit 1
fi
grep -q "bad.vmodel:" "$work/err" || { echo "FAILED: no file:line in the error"; cat "$work/err"; exit 1; }
echo "host API: ok"

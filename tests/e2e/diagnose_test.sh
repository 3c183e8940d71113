#!/usr/bin/env bash
# `vmc diagnose` end to end: every stdlib model under every estimator passes the gradient
# check at its declared inits; a tolerance nothing can meet fails with exit 1 and says why;
# bad input is a diagnostic.
#
#   tests/e2e/diagnose_test.sh VMC SOURCE_DIR
set -u
vmc=$1
cd "$2" || exit 2
failures=0
checks=0

expect() {  # STATUS PATTERN ARGS...
  local status=$1 pattern=$2; shift 2
  checks=$((checks + 1))
  output=$("$vmc" "$@" 2>&1)
  got=$?
  if [ "$got" != "$status" ] || ! grep -q -- "$pattern" <<< "$output"; then
    echo "FAILED: vmc $* (exit $got, wanted $status and /$pattern/)"
    echo "$output" | tail -n 8
    failures=$((failures + 1))
  fi
}

declare -A dims=(
  [gaussian_vae]="--set D=6 --set H=5 --set J=2"
  [bernoulli_vae]="--set D=6 --set H=5 --set J=2"
  [logistic_regression]="--set D=3"
  [eight_schools]="--set J=8"
  [ppca]="--set D=4"
  [ar]="--set T=9 --set K=3"
)
for model in "${!dims[@]}"; do
  for estimator in A B stl iwae; do
    # shellcheck disable=SC2086
    expect 0 "all checked elements agree" diagnose "stdlib/$model.vmodel" ${dims[$model]} \
      --estimator "$estimator" --samples 2 --elements 25
  done
done
# Issue 22's shapes: a product of a folded constant under a full-rank guide (log q from the noise),
# and the linear-regression model's full-rank guide.
for estimator in A B stl iwae; do
  expect 0 "all checked elements agree" diagnose tests/e2e/models/constant_product.vmodel --set N=6 \
    --set K=3 --guide fullrank --estimator "$estimator" --samples 2 --elements 25
  expect 0 "all checked elements agree" diagnose tests/e2e/models/linreg.vmodel --set N=6 --set D=3 \
    --guide fullrank --estimator "$estimator" --elements 25
done
# A coarse step makes finite differences themselves inexact: past a strict tolerance, exit 1.
expect 1 "differs from finite differences" diagnose stdlib/logistic_regression.vmodel --set D=3 \
  --epsilon 0.5 --error 1e-9
expect 1 "dim 'D' has no value" diagnose stdlib/gaussian_vae.vmodel
expect 1 "unknown dim 'Q'" diagnose stdlib/gaussian_vae.vmodel --set Q=2
expect 1 "" diagnose stdlib/gaussian_vae.vmodel --set D=4 --estimator C

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" = 0 ]

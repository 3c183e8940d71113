#!/usr/bin/env bash
# One fuzz target for a bounded time: run_fuzz.sh TARGET SOURCE_DIR SECONDS. Seeds a corpus
# from the repository's files of the target's kind, runs libFuzzer, prints its final stats
# (executions, coverage) and fails on any crash, leak, sanitizer report or timeout. A crash's
# input is kept in $VMC_FUZZ_ARTIFACTS (default /tmp/vmc-fuzz-artifacts) to become a test.
set -euo pipefail
target=$1 src=$2 seconds=$3
name=$(basename "$target")
work=$(mktemp -d "/tmp/vmc-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
corpus=$work/corpus seeds=$work/seeds
artifacts=${VMC_FUZZ_ARTIFACTS:-/tmp/vmc-fuzz-artifacts}/$name
mkdir -p "$corpus" "$seeds" "$artifacts"
extra=()
case $name in
  fuzz_check)
    find "$src/stdlib" "$src/tests/golden" "$src/tests/e2e/models" "$src/examples" -name '*.vmodel' \
      -exec cp -t "$seeds" {} + 2>/dev/null || true
    # Issue 21's compile blow-ups, within max_len: a long sum (a stack overflow once), 15 chained
    # lets (an exponential module once) and nested fns each calling the previous twice.
    /usr/bin/python3 - "$seeds" <<'PY'
import sys
head = "model s;\ndims { N; }\ndata { y : real[N]; }\nlatent { mu : real; }\nparam { m : real; }\n"
guide = "guide { mu ~ normal(m, 1); }\n"
seeds = {
    "long_sum": "model {\n  mu ~ normal(0, 1);\n  y ~ normal(" + " + ".join(["mu"] * 700) + ", 1);\n}\n",
    "chained_lets": "model {\n  mu ~ normal(0, 1);\n  let a1 = tanh(mu);\n" +
        "".join(f"  let a{i + 1} = tanh(a{i} * a{i} + a{i});\n" for i in range(1, 15)) + "  y ~ normal(a15, 1);\n}\n",
    "nested_fns": "".join(f"fn f{i + 1}(x) = f{i}(x) * f{i}(x);\n" for i in range(1, 20)) +
        "fn f1(x) = tanh(x);\nmodel {\n  mu ~ normal(0, 1);\n  y ~ normal(f20(mu), 1);\n}\n",
}
for name, body in seeds.items():
    with open(f"{sys.argv[1]}/issue21_{name}.vmodel", "w") as f:
        f.write(head + body + guide)
PY
    extra=(-dict="$src/tests/fuzz/vmodel.dict" -max_len=4096) ;;
  fuzz_data)
    # The first byte picks the format: 0 IDX raw, 1 IDX gzip'd, 2 CSV, 3 NPY, 4 JSON.
    i=0
    add() { { printf "\\x$(printf %02x "$1")"; cat "$2"; } > "$seeds/seed$((i++))"; }
    add 1 "$src/runtime/data/digits-images-idx3-ubyte.gz"
    gzip -dc "$src/runtime/data/digits-images-idx3-ubyte.gz" > "$work/all.idx"
    head -c 2000 "$work/all.idx" > "$work/raw.idx"
    add 0 "$work/raw.idx"
    head -c 3000 "$src/examples/logistic_regression/X.csv" > "$work/x.csv"; add 2 "$work/x.csv"
    for f in "$src"/stdlib/*.json "$src"/tests/e2e/*.json; do [ -f "$f" ] && add 4 "$f"; done
    printf '\x93NUMPY\x01\x00v\x00{"descr": "<f8", "fortran_order": False, "shape": (2, 3), }                                           \n' > "$work/x.npy"
    head -c 48 /dev/zero >> "$work/x.npy"; add 3 "$work/x.npy"
    # Issue 21's crash class: JSON nested ~32,000 levels (within max_len; 4,000,000 overflowed
    # the stack before the depth limit), a nested object where a number belongs, and a CSV
    # with a byte-order mark.
    { printf '{"x": '; head -c 32000 /dev/zero | tr '\0' '['; printf 1; head -c 32000 /dev/zero | tr '\0' ']'; printf '}'; } > "$work/deep.json"
    add 4 "$work/deep.json"
    printf '{"x": [1, {"a": [1, 2, 3]}]}' > "$work/object.json"; add 4 "$work/object.json"
    printf '\xef\xbb\xbf28\n8\n-3\n1e400\n' > "$work/bom.csv"; add 2 "$work/bom.csv"
    extra=(-max_len=65536) ;;
  fuzz_toml)
    find "$src/examples" -name '*.toml' -exec cp -t "$seeds" {} + ;;
  fuzz_checkpoint)
    export VMC_FUZZ_SEED_DIR=$seeds ;;
esac
status=0
"$target" "$corpus" "$seeds" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
  -artifact_prefix="$artifacts/" "${extra[@]}" > "$work/log" 2>&1 || status=$?
# The seeds' coverage, the final coverage and executions, then the end of the run (a crash's
# report, or the recommended dictionary).
grep -E "INITED|DONE" "$work/log" || true
tail -n 40 "$work/log"
exit $status

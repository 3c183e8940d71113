#!/usr/bin/env bash
# The vmc command line's basics: help, version, sub-command dispatch and the exit status and
# message of each kind of misuse.
#
#   tests/e2e/cli_test.sh VMC SOURCE_DIR
set -u
vmc=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/vmc_cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2

failures=0
checks=0
out=$work/stdout
err=$work/stderr

fail() {
  echo "FAILED: $*"
  echo "  stdout: $(head -c 2000 "$out")"
  echo "  stderr: $(head -c 2000 "$err")"
  failures=$((failures + 1))
}

# run EXPECTED_STATUS ARGS... : runs vmc with ARGS; checks the exit status.
run() {
  local expected=$1; shift
  checks=$((checks + 1))
  "$vmc" "$@" >"$out" 2>"$err"
  status=$?
  last="vmc $*"
  if [ "$status" != "$expected" ]; then
    fail "$last: exit $status, expected $expected"
    return 1
  fi
  if grep -q -e 'terminate called' -e 'internal error' "$err"; then
    fail "$last: a crash or internal error on stderr"
    return 1
  fi
  return 0
}

# has STREAM TEXT : the last run's stdout or stderr contains TEXT (a fixed string).
has() {
  local file=$out
  [ "$1" = stderr ] && file=$err
  if ! grep -q -F -e "$2" "$file"; then
    fail "$last: $1 does not contain '$2'"
  fi
}

# has_line STREAM LINE : the last run's stdout or stderr has exactly this line.
has_line() {
  local file=$out
  [ "$1" = stderr ] && file=$err
  if ! grep -q -x -F -e "$2" "$file"; then
    fail "$last: $1 has no line '$2'"
  fi
}

# empty STREAM : the last run wrote nothing there.
empty() {
  local file=$out
  [ "$1" = stderr ] && file=$err
  if [ -s "$file" ]; then
    fail "$last: $1 is not empty"
  fi
}

run 0 --help && { has stdout check; has stdout emit; empty stderr; }
run 0 -h && has stdout check
run 0 help && { has stdout check; has stdout emit; }
run 0 help check && { has stdout --set; has stdout MODEL; }
run 1 help bogus && has stderr bogus
# The language's tables, from the compiler's own (docs/ holds the same text: golden/docs).
run 0 help distributions && { has stdout "| normal | mu real, sigma (0, inf) |"; has stdout mvnormal_cholesky; }
run 0 help functions && { has stdout "| cosh |"; has stdout "| log_sum_exp | 1 or 2 arguments"; }
run 0 help gamma && { has stdout "gamma(shape, rate)"; has stdout "implicit reparameterization"; }
run 1 help distribution && has stderr "did you mean 'distributions'?"
run 0 --version && { has_line stdout "vmc 0.1.0"; [ "$(cat "$out")" = "vmc 0.1.0" ] || fail "$last: stdout is not exactly 'vmc 0.1.0'"; }

run 1 check && { has stderr error; empty stdout; }
run 1 check missing.vmodel &&
  { has_line stderr "missing.vmodel: error: cannot open file: No such file or directory"; empty stdout; }
mkdir -p "$work/a_folder.vmodel"
run 1 check a_folder.vmodel && { has stderr "a_folder.vmodel: error:"; empty stdout; }
run 1 check "$work" && has stderr error
run 1 bogus && has stderr bogus
run 1 --bogus-flag && has stderr error
run 1 check --set && has stderr error

run 0 emit ast "$src/stdlib/gaussian_vae.vmodel" &&
  { [ "$(head -n 1 "$out")" = "model gaussian_vae @2:7" ] || fail "$last: first line is not 'model gaussian_vae @2:7'"; empty stderr; }
run 1 emit nonsense X && has stderr nonsense
run 1 emit ast && has stderr error
run 1 emit ast missing.vmodel && has_line stderr "missing.vmodel: error: cannot open file: No such file or directory"

run 0 check "$src/stdlib/gaussian_vae.vmodel" && { has stdout "ok: 12 params"; empty stderr; }
printf 'model m;\nmodel { x ~ normal(0, 1) }\n' > broken.vmodel
run 1 check broken.vmodel && { has_line stderr "broken.vmodel:2:25: error: expected ';'"; empty stdout; }

# Issue 21 (1): a CSV's UTF-8 byte-order mark is not a header (eight schools ran with J = 7).
es=$src/stdlib/eight_schools.vmodel
esdata=$src/stdlib/eight_schools.data.json
printf '\xef\xbb\xbf28\n8\n-3\n7\n-1\n1\n18\n12\n' > y_bom.csv
printf '15\n10\n16\n11\n9\n11\n10\n18\n' > sigma.csv
run 0 fit "$es" --data y=y_bom.csv --data sigma=sigma.csv --steps 3 --out o_bom && has stdout "  8 datapoints"

# Issue 21 (2): numbers past a double (1e400) are named so; data past f32 (1e39) is refused
# before training at --precision f32, not found diverging at run time.
printf '1e39\n8\n-3\n7\n-1\n1\n18\n12\n' > y_big.csv
run 1 fit "$es" --data y=y_big.csv --data sigma=sigma.csv --steps 3 --out o_big &&
  has_line stderr "y_big.csv: error: data 'y' element 0 is 1e+39: beyond the range of f32 (magnitude at most 3.4e38), the model's precision; rescale the data or use --precision f64"
run 0 fit "$es" --data y=y_big.csv --data sigma=sigma.csv --steps 3 --out o_big64 -q --precision f64
printf '1e400\n8\n-3\n7\n-1\n1\n18\n12\n' > y_huge.csv
run 1 fit "$es" --data y=y_huge.csv --data sigma=sigma.csv --steps 3 --out o_huge &&
  has_line stderr "y_huge.csv: error: line 1, column 1: 1e400 is out of the range of a double (magnitude at most 1.8e308)"

# Issue 21 (5): CSV columns by their header's name; a table bound to a vector is a shape problem.
printf 'school,y,sigma\n1,28,15\n2,8,10\n3,-3,16\n4,7,11\n5,-1,9\n6,1,11\n7,18,10\n8,12,18\n' > schools.csv
run 0 fit "$es" --data y=schools.csv:y --data sigma=schools.csv:sigma --steps 3 --out o_cols && has stdout "  8 datapoints"
run 1 fit "$es" --data y=schools.csv:why --data sigma=schools.csv:sigma --steps 3 --out o_cols2 &&
  has_line stderr "schools.csv: error: no column named 'why' (its columns: school, y, sigma)"
run 1 fit "$es" --data y=schools.csv --data sigma=schools.csv:sigma --steps 3 --out o_cols3 &&
  has_line stderr "schools.csv: error: data 'y' has shape [8, 3], but 'y' is declared real[J] (1 dimension); bind one of its 3 columns by its header's name: --data y=schools.csv:COLUMN"
lr=$src/stdlib/logistic_regression.vmodel
printf '0.5,-1.60824,2\n1,0.25,-3\n' > X.csv
run 1 fit "$lr" --data X=X.csv --data y=X.csv --steps 3 --out o_shape &&
  { has stderr "X.csv: error: data 'y' has shape [2, 3], but 'y' is declared int<lower=0, upper=1>[N]"; has stderr "--data y=X.csv:COLUMN"; }
run 0 help data && has stdout "--data NAME=FILE.csv:COLUMN"

# Issue 21 (6): numbers on the command line. NaN, inf, negative seeds, 0 steps and step counts past
# what can be counted are refused with the flag's name; ranges read as numbers, not DBL_MAX.
run 1 fit "$es" --epochs 1e300 --data "$esdata" -q --out o_epochs &&
  { has stderr "--epochs: error: 1e+300 epochs of 1 step are 1e+300 steps, more than the 2^38"; [ ! -e o_epochs/summary.json ] || fail "$last: results written"; }
run 1 fit "$es" --epochs nan && has_line stderr "vmc: error: --epochs: 'nan' is not a finite number (it must be > 0)"
run 1 fit "$es" --tol-rel-obj nan && has stderr "--tol-rel-obj: 'nan' is not a finite number"
run 1 fit "$es" --clip-grad inf && has stderr "--clip-grad: 'inf' is not a finite number"
run 1 fit "$es" --lr nan && has stderr "--lr: 'nan' is not a finite number"
run 1 fit "$es" --seed -1 && has_line stderr "vmc: error: --seed: '-1': it must be at least 0"
run 1 fit "$es" --steps 0 && has_line stderr "vmc: error: --steps: '0': it must be at least 1"
run 1 fit "$es" --steps 99999999999999999999 && has stderr "--steps: '99999999999999999999': it must be at most 274877906944"
run 1 fit "$es" --eval-every -1 && has_line stderr "vmc: error: --eval-every: '-1': it must be at least 0"
run 1 compare "$es" --epochs nan && has stderr "--epochs: 'nan' is not a finite number"
run 1 compare "$es" --seed -2 && has stderr "--seed: '-2': it must be at least 0"
run 1 diagnose "$es" --epsilon nan && has stderr "--epsilon: 'nan' is not a finite number"
run 1 diagnose "$es" --error inf && has stderr "--error: 'inf' is not a finite number"
run 1 diagnose "$es" --seed -1 && has stderr "--seed: '-1': it must be at least 0"
run 1 bench "$es" --seed -1 && has stderr "--seed: '-1': it must be at least 0"
run 1 eval "$es" --params x --seed -1 && has stderr "--seed: '-1': it must be at least 0"
run 1 sample "$es" --params x --seed -1 && has stderr "--seed: '-1': it must be at least 0"
run 1 sample "$es" --params x --draws 0 && has stderr "--draws: '0': it must be at least 1"
# Ranges as numbers ("must be >= 0"), not "not in range 0.000000 to 179769313486231570...".
run 1 fit "$es" --epochs -1 && has_line stderr "vmc: error: --epochs: '-1': it must be > 0"
run 1 fit "$es" --tol-rel-obj -1 && has_line stderr "vmc: error: --tol-rel-obj: '-1': it must be >= 0"
run 1 diagnose "$es" --init -1 && has_line stderr "vmc: error: --init: '-1': it must be > 0"
run 1 bench "$es" --warmup -1 && has_line stderr "vmc: error: --warmup: '-1': it must be at least 0"

# Issue 21 (7): an unknown command is named, with the closest one.
run 1 fti "$es" && has_line stderr "vmc: error: unknown command 'fti'; did you mean 'fit'?"
run 1 frobnicate && has stderr "unknown command 'frobnicate'; the commands are check, emit, diagnose"

# Issue 21 (7): a config's relative paths are relative to its own file; an unknown key gets a
# "did you mean".
mkdir -p cfgdir/sub
cp y_bom.csv cfgdir/sub/y.csv
cp sigma.csv cfgdir/sub/sigma.csv
cp "$es" cfgdir/es.vmodel
printf 'model = "es.vmodel"\ndata = ["y=sub/y.csv", "sigma=sub/sigma.csv"]\nsteps = 3\nquiet = true\nout = "cfg_out"\n' > cfgdir/fit.toml
run 0 fit --config cfgdir/fit.toml &&
  { [ -f cfgdir/cfg_out/summary.json ] || fail "$last: no cfgdir/cfg_out/summary.json: out is not relative to the config"; }
printf 'model = "%s"\ndata = ["%s"]\nsteps = 3\nquiet = true\nout = "%s/abs_out"\n' "$es" "$esdata" "$work" > cfgdir/abs.toml
run 0 fit --config cfgdir/abs.toml && { [ -f "$work/abs_out/summary.json" ] || fail "$last: absolute out not kept"; }
printf 'stpes = 3\n' > cfgdir/typo.toml
run 1 fit "$es" --config cfgdir/typo.toml && has_line stderr "cfgdir/typo.toml:1:9: error: unknown key 'stpes' for vmc fit; did you mean 'steps'?"

# Issue 21 (8): diagnose takes --data (its own message asks for it); --batch on a model with no
# subsampled plate is ignored, and says so.
run 0 diagnose "$es" --data "$esdata" && has stdout "on the data given"
run 1 diagnose "$es" && has stderr "give the data that has it"
run 0 fit "$es" --data "$esdata" --batch 50 --steps 3 --out o_batch -q &&
  has_line stderr "note: --batch 50 is ignored: the model has no subsampled plate, so every step takes all 8 datapoints"

# Issue 21: `sample --draws 10000000` ended in "d.csv: error: std::bad_alloc". A sample too big
# for the memory there is refused before anything is allocated, naming --draws and the figure
# (the VAE's guide: 1797 x 20 codes a draw, terabytes), also when the limit is ulimit -v (here
# 1 GB: the eight schools' 10^7 draws need ~4 GB); a std::bad_alloc the estimate did not foresee
# says what ran out of memory (driver/out_of_memory.hpp), not that the output file is at fault.
vae=$src/stdlib/gaussian_vae.vmodel
run 0 fit "$vae" --steps 3 --out vae_fit -q
run 1 sample "$vae" --params vae_fit/checkpoint.bin --draws 10000000 --out big.csv &&
  { has stderr "vmc: error: --draws 10000000 needs about "; has stderr "GB of memory (35940 values a draw";
    has stderr "ask for fewer draws"; [ ! -e big.csv ] || fail "$last: big.csv written"; }
run 0 fit "$es" --data "$esdata" --steps 3 --out es_fit -q
if ldd "$vmc" 2>/dev/null | grep -q libasan; then
  echo "cli: skipped the out-of-memory case (AddressSanitizer needs more address space than 1 GB)"
else
  real_vmc=$vmc
  vmc=prlimit
  run 1 --as=1000000000 -- "$real_vmc" sample "$es" --data "$esdata" --params es_fit/checkpoint.bin \
      --draws 10000000 --out oom.csv &&
    { has stderr "vmc: error: --draws 10000000 needs about "; has stderr "left under ulimit -v";
      [ ! -e oom.csv ] || fail "$last: oom.csv written"; }
  vmc=$real_vmc
fi

# Issue 21: --samples is drawn at run time (was unrolled at compile time: L = 1000 took minutes):
# 10^4 samples of either kind of estimator compile as one and take a second.
run 0 fit "$es" --data "$esdata" --samples 10000 --steps 3 --out o_samples -q
run 0 fit "$es" --data "$esdata" --estimator iwae --samples 10000 --steps 3 --out o_samples_iw -q
run 0 eval "$es" --data "$esdata" --params o_samples/checkpoint.bin --estimator iwae --samples 10000

echo "cli: $((checks - failures)) of $checks commands as expected"
[ "$failures" = 0 ]

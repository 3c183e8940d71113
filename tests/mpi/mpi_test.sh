#!/usr/bin/env bash
# Data-parallel `vmc fit` over Open MPI (issue 10), ctest label `mpi`:
#   mpi_test.sh VMC PARAMS_DIFF SOURCE_DIR
# R = 2 and 4 ranks (oversubscribed on this 2-core machine) against one process after 50 steps,
# every param within 1e-5 relative; resume across rank counts; one rank failing to load its
# data; copies that differ; a command other than fit under mpirun.
set -uo pipefail
vmc=$1 diff=$2 src=$3
work=$(mktemp -d /tmp/vmc-mpi.XXXXXX)
trap 'rm -rf "$work"' EXIT
export VMC_CACHE_DIR=$work/cache
# mpirun refuses root unless told (CI containers run as root); --oversubscribe: more ranks
# than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Containers often forbid the cross-process memory reads (ptrace scope) of Open MPI's
# single-copy shared-memory transport: copy through the shared segment instead.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Under scripts/test-sanitized: Open MPI keeps allocations past MPI_Finalize, made inside its
# components (dlclose'd by then, unwound without frame pointers: one anonymous frame each, so
# no suppression can name them). Leak checking stays on in every other test; ASan's memory
# errors and UBSan stay on here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi=(mpirun --oversubscribe)
# A machine whose MPI cannot start two processes at all (a container without the network
# interfaces Open MPI's runtime needs) tests nothing of vmc: say so and skip (ctest's code 77).
if ! probe=$(timeout 120 "${mpi[@]}" -np 2 true 2>&1); then
  echo "skipped: mpirun cannot start 2 processes on this machine:"
  echo "$probe" | head -n 20
  exit 77
fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

vae=$src/stdlib/bernoulli_vae.vmodel
digits=$src/runtime/data/digits-images-idx3-ubyte.gz
fit() { "$vmc" fit "$vae" --data "x=$digits" --seed 3 -q "$@"; }

# One process, then 2 and 4 ranks (and 2 ranks x 2 threads): the same 50 steps. Every param
# within 1e-5 of one process's (relative, as a whole: see params_diff.cpp on float32 and Adam);
# in float64 every element within 1e-9 too.
for precision in f32 f64; do
  element=""; [ $precision = f64 ] && element=1e-9
  fit --precision $precision --steps 50 --out "$work/one.$precision" || fail "one process ($precision)"
  for np in 2 4; do
    for threads in 1 2; do
      [ $np = 4 ] && [ $threads = 2 ] && continue
      out=$work/np$np.t$threads.$precision
      if "${mpi[@]}" -np $np "$vmc" fit "$vae" --data "x=$digits" --seed 3 -q --precision $precision \
          --steps 50 --threads $threads --out "$out" > "$work/log" 2>&1; then
        if "$diff" "$work/one.$precision/checkpoint.bin" "$out/checkpoint.bin" $precision 1e-5 $element; then
          pass "$np ranks x $threads threads match one process ($precision)"
        else
          fail "$np ranks x $threads threads differ from one process ($precision)"
        fi
        grep -q "\"ranks\": $np" "$out/summary.json" || fail "summary.json of $np ranks lacks \"ranks\": $np"
      else
        cat "$work/log"; fail "mpirun -np $np ($precision)"
      fi
    done
  done
done

# Rank 0 alone writes: no other rank made files, and trace.csv has one line per step.
[ "$(wc -l < "$work/np2.t1.f32/trace.csv")" = 51 ] && pass "one trace of 50 steps" || fail "trace.csv of 2 ranks"

# Resume across rank counts: 30 steps on 2 ranks, then to 50 on 4 ranks, then one process
# resuming the 4-rank checkpoint to 70 against one process straight to 70.
if "${mpi[@]}" -np 2 "$vmc" fit "$vae" --data "x=$digits" --seed 3 -q --steps 30 --out "$work/res" &&
   "${mpi[@]}" -np 4 "$vmc" fit "$vae" --data "x=$digits" --seed 3 -q --steps 50 --resume --out "$work/res"; then
  "$diff" "$work/one.f32/checkpoint.bin" "$work/res/checkpoint.bin" f32 1e-5 && pass "2 ranks, resumed on 4" ||
    fail "2 ranks resumed on 4 differ from one process"
  fit --steps 70 --out "$work/one70" && fit --steps 70 --resume --out "$work/res" &&
    "$diff" "$work/one70/checkpoint.bin" "$work/res/checkpoint.bin" f32 1e-5 && pass "4 ranks, resumed as one process" ||
    fail "resume of a ranks' checkpoint by one process"
else
  fail "fit and resume across ranks"
fi

# Held-out data evaluated during and after the fit (rank 0 alone evaluates; the others go on).
if "${mpi[@]}" -np 2 "$vmc" fit "$vae" --data "x=$digits" --test-data "x=$digits" --eval-every 10 --steps 30 -q \
     --out "$work/test" && grep -q '"test_elbo_per_datapoint"' "$work/test/summary.json" &&
   [ "$(grep -c '"step":' "$work/test/summary.json")" = 3 ]; then
  pass "test data on ranks"
else
  fail "test data on ranks"
fi

# A divergent fit: every rank sees the same summed gradient, so all skip the same steps and
# give up together; the warning and the error are printed once, by rank 0, which writes the
# last good state.
"${mpi[@]}" -np 2 "$vmc" fit "$vae" --data "x=$digits" --lr 1e6 --steps 300 -q --out "$work/div" > "$work/log" 2>&1
status=$?
if [ $status -ne 0 ] && [ "$(grep -c "error: the fit stopped" "$work/log")" = 1 ] &&
   [ "$(grep -c "^warning: step " "$work/log")" = 1 ] && grep -q '"restored_step"' "$work/div/summary.json"; then
  pass "a divergent fit on ranks stops once, with the last good state"
else
  cat "$work/log"; fail "a divergent fit on ranks (exit $status)"
fi

# SIGTERM to mpirun (a scheduler's stop): every rank stops at the same step, rank 0 writes the
# results so far. Open MPI sends SIGKILL 1 s after its SIGTERM (odls_base_sigkill_timeout); on
# a loaded machine rank 0's writes (fsync'd checkpoint, pictures) took longer and were killed
# mid-way, so the test gives them 5 s, as a scheduler's grace period would (mpirun itself then
# takes about twice that to exit: the ranks' MPI_Finalize waits for the job's teardown).
"${mpi[@]}" --mca odls_base_sigkill_timeout 5 -np 2 "$vmc" fit "$vae" --data "x=$digits" --steps 100000000 -q --out "$work/stop" > "$work/log" 2>&1 &
launcher=$!
for _ in $(seq 1 600); do [ -d "$work/stop" ] && break; sleep 0.1; done
sleep 1
kill -TERM $launcher
wait $launcher
if grep -q '"stop_reason": "interrupted"' "$work/stop/summary.json" 2>/dev/null && [ -s "$work/stop/checkpoint.bin" ]; then
  pass "SIGTERM stops every rank cleanly"
else
  cat "$work/log"; fail "SIGTERM under mpirun"
fi

# A global latent beside the plate (the bound's row-free part counted once over the ranks),
# estimators A and B, float64, 3 ranks on 103 rows with batch 10 (the last batch of an epoch has
# 3 rows: one each).
/usr/bin/python3 - "$work/reg.json" <<'PY'
import json, math, sys
x = [[math.sin(0.7 * i + 1.3 * j) for j in range(3)] for i in range(103)]
y = [sum((j + 1) * 0.5 * v for j, v in enumerate(r)) + 0.1 * math.cos(i) for i, r in enumerate(x)]
json.dump({"x": x, "y": y}, open(sys.argv[1], "w"))
PY
reg=$src/tests/mpi/regression.vmodel
for est in A B; do
  "$vmc" fit "$reg" --data "$work/reg.json" --estimator $est --precision f64 --batch 10 --steps 60 --lr 0.01 -q \
    --out "$work/reg1.$est" || fail "regression, one process ($est)"
  if "${mpi[@]}" -np 3 "$vmc" fit "$reg" --data "$work/reg.json" --estimator $est --precision f64 --batch 10 \
       --steps 60 --lr 0.01 -q --out "$work/reg3.$est"; then
    "$diff" "$work/reg1.$est/checkpoint.bin" "$work/reg3.$est/checkpoint.bin" f64 1e-9 1e-9 &&
      pass "a global latent on 3 ranks = one process ($est)" || fail "a global latent on 3 ranks ($est)"
  else
    fail "regression on 3 ranks ($est)"
  fi
done
# An error every rank makes alike (iwae cannot take this model) is printed once, by rank 0.
"${mpi[@]}" -np 2 "$vmc" fit "$reg" --data "$work/reg.json" --estimator iwae --samples 4 --steps 5 -q \
  --out "$work/reg_iwae" > "$work/log" 2>&1
if [ $? -ne 0 ] && [ "$(grep -c "regression.vmodel:12:1: error: the iwae estimator needs" "$work/log")" = 1 ] &&
   [ ! -e "$work/reg_iwae" ]; then
  pass "an error of every rank printed once"
else
  cat "$work/log"; fail "an error of every rank"
fi

# A model without a subsampled plate: every rank computes the same whole-data step.
if "${mpi[@]}" -np 2 "$vmc" fit "$src/stdlib/eight_schools.vmodel" --data "$src/stdlib/eight_schools.data.json" \
     --steps 200 -q --out "$work/schools2" &&
   "$vmc" fit "$src/stdlib/eight_schools.vmodel" --data "$src/stdlib/eight_schools.data.json" --steps 200 -q \
     --out "$work/schools1"; then
  "$diff" "$work/schools1/checkpoint.bin" "$work/schools2/checkpoint.bin" f32 0 0 && pass "no plate: ranks = one process" ||
    fail "eight schools on 2 ranks"
else
  fail "eight schools on 2 ranks"
fi

# One rank cannot load its copy of the data: every rank exits 1, with that rank's message.
mkdir -p "$work/d0" "$work/d1"
cp "$digits" "$work/d0/digits.gz"
"${mpi[@]}" -np 2 "$vmc" fit "$vae" --data "x=$work/d{rank}/digits.gz" --steps 5 -q --out "$work/bad" > "$work/log" 2>&1
status=$?
if [ $status -ne 0 ] && grep -q "rank 1 of 2: $work/d1/digits.gz: error: cannot open" "$work/log" && [ ! -e "$work/bad" ]; then
  pass "a rank that cannot load its data stops every rank (exit $status), with its message, before any output"
else
  cat "$work/log"; fail "a rank failing to load its data (exit $status)"
fi
# With the copy in place the same command runs.
cp "$digits" "$work/d1/digits.gz"
"${mpi[@]}" -np 2 "$vmc" fit "$vae" --data "x=$work/d{rank}/digits.gz" --steps 5 -q --out "$work/good" &&
  pass "{rank} copies" || fail "{rank} copies"
# Copies that differ are refused.
gzip -dc "$digits" | head -c 60000 | gzip > "$work/d1/digits.gz"
"${mpi[@]}" -np 2 "$vmc" fit "$vae" --data "x=$work/d{rank}/digits.gz" --steps 5 -q --out "$work/differ" > "$work/log" 2>&1
if [ $? -ne 0 ] && grep -q "error" "$work/log" && [ ! -e "$work/differ" ]; then
  pass "different data on the ranks refused"
else
  cat "$work/log"; fail "different data on the ranks"
fi

# An output directory that cannot be made: every rank stops before training, one message.
"${mpi[@]}" -np 2 "$vmc" fit "$vae" --data "x=$digits" --steps 5 -q --out /dev/null/out > "$work/log" 2>&1
if [ $? -ne 0 ] && [ "$(grep -c "^/dev/null/out: error" "$work/log")" = 1 ]; then
  pass "an unwritable --out stops every rank, one message"
else
  cat "$work/log"; fail "an unwritable --out on ranks"
fi

# Only fit runs across ranks.
"${mpi[@]}" -np 2 "$vmc" bench "$vae" --steps 5 > "$work/log" 2>&1
if [ $? -ne 0 ] && [ "$(grep -c "only \`vmc fit\` runs across MPI ranks" "$work/log")" = 1 ]; then
  pass "bench under mpirun refused once"
else
  cat "$work/log"; fail "bench under mpirun"
fi

[ $failures = 0 ] || { echo "$failures failure(s)"; exit 1; }

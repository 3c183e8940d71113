#!/usr/bin/env bash
# vmc against the PyTorch peer (../shared/peers/torch_vae.py) on the BENCHMARKS.md workload:
# Fashion-MNIST, H = 400, J = 20, M = 100, L = 1, Adam, f32, estimator B, same --decoder.
# Three rounds, each running vmc bench (2 threads and 1 thread) and the peer (torch threads 1,
# its best configuration, and threads 2) back to back; prints every figure and the median
# ratios. Ratios in one run, never absolute figures (the machines are shared and noisy).
#
#   bench/compare_peer.sh [--install] [--rounds R] [--steps S] [--decoder bernoulli|gaussian|both]
#
# --install installs python3-torch and dataset-fashion-mnist with apt-get (benchmarking only;
# never a dependency of vmc). The peer runs under /usr/bin/python3 with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for its command alone. Set VMC_PEER_BLAS_DIR to a directory holding an
# OpenBLAS libblas.so.3 to preload it for the peer (this machine's python3-torch otherwise uses
# the reference BLAS; see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 steps=600 decoders="bernoulli gaussian" install=0
while [ $# -gt 0 ]; do
  case $1 in
    --install) install=1 ;;
    --rounds) rounds=$2; shift ;;
    --steps) steps=$2; shift ;;
    --decoder) [ "$2" = both ] || decoders=$2; shift ;;
    *) echo "usage: $0 [--install] [--rounds R] [--steps S] [--decoder bernoulli|gaussian|both]" >&2; exit 2 ;;
  esac
  shift
done
if [ $install = 1 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq python3-torch dataset-fashion-mnist >/dev/null
fi
vmc=${VMC:-build/compiler/vmc}
peer=../shared/peers/torch_vae.py
data=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
[ -x "$vmc" ] || { echo "no $vmc: build first (scripts/build)" >&2; exit 1; }
[ -f "$data" ] || { echo "no $data: run with --install" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "no python3-torch: run with --install" >&2; exit 1; }

peer_run() {  # decoder threads -> steps/s
  local env_blas=()
  [ -n "${VMC_PEER_BLAS_DIR:-}" ] && env_blas=(LD_LIBRARY_PATH="$VMC_PEER_BLAS_DIR")
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${env_blas[@]}" /usr/bin/python3 "$peer" \
      --decoder "$1" --threads "$2" --steps "$steps" --estimator B |
    sed -n 's/.*steps\/s=\([0-9.]*\).*/\1/p'
}
vmc_run() {  # decoder threads -> "steps/s bound% bound round-trip-ns"
  "$vmc" bench "stdlib/$1_vae.vmodel" --data "x=$data" --estimator B --threads "$2" --steps "$steps" --json |
    /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); print("%.1f %.1f %.1f %.0f" % (s["steps_per_s"], s["percent_of_gemm_bound"], s["gemm_bound_steps_per_s"], s.get("thread_round_trip_ns", 0)))'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%FT%TZ); $steps steps per run"
for dec in $decoders; do
  r2=() r1=() s21=() b2=() b1=()
  for ((r = 1; r <= rounds; ++r)); do
    read -r v2 p2 g2 rt <<<"$(vmc_run "$dec" 2)"
    read -r v1 p1 g1 _ <<<"$(vmc_run "$dec" 1)"
    t1=$(peer_run "$dec" 1)
    t2=$(peer_run "$dec" 2)
    best=$(printf '%s\n%s\n' "$t1" "$t2" | sort -g | tail -1)
    echo "$dec round $r: vmc 2 threads $v2 steps/s ($p2 % of its GEMM bound $g2; threads' round trip $rt ns), 1 thread $v1 ($p1 % of $g1); peer threads 1 $t1, threads 2 $t2"
    r2+=("$(awk -v a="$v2" -v b="$best" 'BEGIN {print a / b}')")
    r1+=("$(awk -v a="$v1" -v b="$best" 'BEGIN {print a / b}')")
    s21+=("$(awk -v a="$v2" -v b="$v1" 'BEGIN {print a / b}')")
    b2+=("$p2") b1+=("$p1")
  done
  printf '%s: median vmc(2 threads)/peer(best) %.2fx, vmc(1 thread)/peer(best) %.2fx, 2 vs 1 thread %.2fx, of the GEMM bound %.0f %% (2 threads) / %.0f %% (1 thread)\n' \
    "$dec" "$(printf '%s\n' "${r2[@]}" | median)" "$(printf '%s\n' "${r1[@]}" | median)" \
    "$(printf '%s\n' "${s21[@]}" | median)" "$(printf '%s\n' "${b2[@]}" | median)" "$(printf '%s\n' "${b1[@]}" | median)"
done

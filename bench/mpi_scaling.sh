#!/usr/bin/env bash
# Data-parallel vmc fit on this machine (issue 10): one process with 1 and 2 threads against
# mpirun -np 1 and -np 2 (one thread per rank), the same global minibatch, rounds interleaved;
# prints each figure (steps/s from summary.json's steps_per_s: the fit loop alone) and the medians.
#
#   bench/mpi_scaling.sh [--rounds R] [--steps S] [--batch M] [--decoder bernoulli|gaussian]
#
# Needs vmc built with MPI (libopenmpi-dev installed when it was configured) and Fashion-MNIST
# (dataset-fashion-mnist), like compare_peer.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 steps=600 batch=100 decoder=bernoulli
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --steps) steps=$2; shift ;;
    --batch) batch=$2; shift ;;
    --decoder) decoder=$2; shift ;;
    *) echo "usage: $0 [--rounds R] [--steps S] [--batch M] [--decoder bernoulli|gaussian]" >&2; exit 2 ;;
  esac
  shift
done
vmc=${VMC:-build/compiler/vmc}
data=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
[ -f "$data" ] || { echo "no $data: apt-get install dataset-fashion-mnist" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "no mpirun: apt-get install openmpi-bin libopenmpi-dev, then rebuild" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d /tmp/vmc-mpi-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
model=stdlib/${decoder}_vae.vmodel

rate() { /usr/bin/python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["steps_per_s"])' "$1/summary.json"; }
run() {  # label launcher... -- threads
  local label=$1 np=$2 threads=$3 dir=$out/$1
  rm -rf "$dir"
  if [ "$np" = 0 ]; then
    "$vmc" fit "$model" --data "x=$data" --batch "$batch" --steps "$steps" --threads "$threads" -q --out "$dir"
  else
    mpirun -np "$np" --bind-to core "$vmc" fit "$model" --data "x=$data" --batch "$batch" --steps "$steps" \
      --threads "$threads" -q --out "$dir"
  fi
  echo "$label $(rate "$dir")" >> "$out/all"
}
labels="process_1t process_2t ranks_1x1t ranks_2x1t"
for r in $(seq 1 "$rounds"); do
  run process_1t 0 1
  run process_2t 0 2
  run ranks_1x1t 1 1
  run ranks_2x1t 2 1
  echo "round $r: $(tail -n 4 "$out/all" | tr '\n' ' ')"
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "$decoder VAE, M = $batch, $steps steps, $rounds rounds (median steps/s):"
for l in $labels; do
  printf '  %-12s %8s  (%s)\n' "$l" "$(grep "^$l " "$out/all" | cut -d' ' -f2 | median)" \
    "$(grep "^$l " "$out/all" | cut -d' ' -f2 | tr '\n' ' ')"
done

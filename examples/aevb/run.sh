#!/bin/bash
# The AEVB paper's experiments with vmc (examples/aevb/README.md): Figure 2's layout for four
# estimators on Fashion-MNIST and the 8x8 digits at J = 3, 10, 20 (H = 500, M = 100, Adagrad),
# Figure 4's learned 2-D manifolds, and the marginal log-likelihood of the trained models by
# importance weighting (K = 5000) on held-out data.
#
#   examples/aevb/run.sh [OUT]        (from the repository root; OUT defaults to aevb-out)
#
# Environment: VMC (default build/compiler/vmc), EPOCHS_FASHION (20), EPOCHS_DIGITS (500),
# K (5000). Needs Debian's dataset-fashion-mnist and python3-sklearn (for the digits' split).
set -euo pipefail
VMC=${VMC:-build/compiler/vmc}
OUT=${1:-aevb-out}
EPOCHS_FASHION=${EPOCHS_FASHION:-20}
EPOCHS_DIGITS=${EPOCHS_DIGITS:-500}
K=${K:-5000}
F=/usr/share/datasets/fashion-mnist
MODEL=stdlib/bernoulli_vae.vmodel
mkdir -p "$OUT"
/usr/bin/python3 examples/aevb/data.py "$OUT/data"

# Figure 2: the bound per datapoint against training datapoints evaluated, four estimators.
for J in 3 10 20; do
  "$VMC" compare $MODEL --config examples/aevb/estimators.toml --set H=500 --set J=$J \
      --data x=$F/train-images-idx3-ubyte.gz --test-data x=$F/t10k-images-idx3-ubyte.gz \
      --epochs "$EPOCHS_FASHION" --out "$OUT/fashion-J$J" | tee "$OUT/fashion-J$J.txt"
  "$VMC" compare $MODEL --config examples/aevb/estimators.toml --set H=500 --set J=$J \
      --data x="$OUT/data/digits-train.csv" --test-data x="$OUT/data/digits-test.csv" \
      --epochs "$EPOCHS_DIGITS" --out "$OUT/digits-J$J" | tee "$OUT/digits-J$J.txt"
done

# Figure 4: the learned manifold of a 2-D latent (manifold.png), L^B as in the paper.
"$VMC" fit $MODEL --set H=500 --set J=2 --estimator B --optimizer adagrad --lr 0.02 --threads 2 -q \
    --data x=$F/train-images-idx3-ubyte.gz --test-data x=$F/t10k-images-idx3-ubyte.gz \
    --epochs "$EPOCHS_FASHION" --out "$OUT/fashion-manifold"
"$VMC" fit $MODEL --set H=500 --set J=2 --estimator B --optimizer adagrad --lr 0.02 --threads 2 -q \
    --data x="$OUT/data/digits-train.csv" --test-data x="$OUT/data/digits-test.csv" \
    --epochs "$EPOCHS_DIGITS" --out "$OUT/digits-manifold"

# The marginal log-likelihood log p(x) of every trained model, by iwae with K samples, on the
# first 1,000 Fashion-MNIST test images and the 297 held-out digits.
echo "data,J,run,iwae_K,test_log_likelihood" > "$OUT/marginal_likelihood.csv"
for data in fashion digits; do
  test=$([ $data = fashion ] && echo "$OUT/data/fashion-test-1000.idx.gz" || echo "$OUT/data/digits-test.csv")
  for J in 3 10 20; do
    for ckpt in "$OUT/$data-J$J"/checkpoints/*.bin; do
      run=$(basename "$ckpt" .seed1.bin)
      ll=$("$VMC" eval $MODEL --set H=500 --set J=$J --params "$ckpt" --data x="$test" \
               --estimator iwae --samples "$K" --threads 2 | sed -E 's/.*: ([-0-9.e+]+) per datapoint.*/\1/')
      echo "$data,$J,$run,$K,$ll" | tee -a "$OUT/marginal_likelihood.csv"
    done
  done
done

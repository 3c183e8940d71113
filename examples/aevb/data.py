#!/usr/bin/python3
"""The held-out splits examples/aevb/run.sh needs (Debian's python3-sklearn for the digits):

    data.py OUT   writes OUT/digits-train.csv (first 1,500 of the 1,797 8x8 digits, pixels / 16,
                  as vmc's embedded copy), OUT/digits-test.csv (the other 297), and
                  OUT/fashion-test-1000.idx.gz (the first 1,000 t10k images, for iwae K = 5000).
"""
import gzip
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
from sklearn.datasets import load_digits  # noqa: E402

x = load_digits().data / 16.0
for name, rows in (("digits-train.csv", x[:1500]), ("digits-test.csv", x[1500:])):
    with open(os.path.join(out, name), "w") as f:
        for r in rows:
            f.write(",".join(f"{v:.6g}" for v in r) + "\n")

src = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
with gzip.open(src) as f:
    raw = f.read()
n = 1000
header = raw[:4] + n.to_bytes(4, "big") + raw[8:16]
with gzip.open(os.path.join(out, "fashion-test-1000.idx.gz"), "wb") as f:
    f.write(header + raw[16:16 + n * 28 * 28])

#!/usr/bin/python3
"""Markdown tables of an examples/aevb/run.sh output directory (the README's tables):

    examples/aevb/summarize.py OUT
"""
import csv
import json
import os
import sys

out = sys.argv[1]


def load(name):
    with open(os.path.join(out, name, "compare.json")) as f:
        return json.load(f)


def fmt(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


ll = {}
path = os.path.join(out, "marginal_likelihood.csv")
if os.path.exists(path):
    with open(path) as f:
        for r in csv.DictReader(f):
            ll[(r["data"], int(r["J"]), r["run"])] = float(r["test_log_likelihood"]) if r["test_log_likelihood"] else None

for data, title in (("fashion", "Fashion-MNIST (60,000 train, bounds on 1,000 train / 1,000 t10k rows)"),
                    ("digits", "8x8 digits (1,500 train / 297 held out)")):
    print(f"\n### {title}\n")
    print("| J | run | train bound | test bound | iwae K=5000 log p(x), test | guide grad variance, start / end | "
          "model grad variance, start / end | guide SNR, start / end |")
    print("|---|---|---|---|---|---|---|---|")
    for J in (3, 10, 20):
        name = f"{data}-J{J}"
        if not os.path.exists(os.path.join(out, name, "compare.json")):
            continue
        s = load(name)
        for r in s["runs"]:
            g = r["gradient_noise"]
            key = (data, J, r["label"].replace(" ", "_").replace("=", "_"))
            print(f"| {J} | {r['label']} | {fmt(r['final_train_elbo']['mean'])} | "
                  f"{fmt(r.get('final_test_elbo', {}).get('mean'))} | {fmt(ll.get(key))} | "
                  f"{fmt(g['guide']['variance_start'], '.3g')} / {fmt(g['guide']['variance_end'], '.3g')} | "
                  f"{fmt(g['model']['variance_start'], '.3g')} / {fmt(g['model']['variance_end'], '.3g')} | "
                  f"{fmt(g['guide']['snr_start'], '.3g')} / {fmt(g['guide']['snr_end'], '.3g')} |")

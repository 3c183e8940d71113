#!/usr/bin/env python3
"""Summarise a posteriordb reference posterior into examples/posteriordb/NAME.reference.json.

Reads posterior_database/reference_posteriors/draws/draws/POSTERIOR.json.zip from a clone of
stan-dev/posteriordb (a work tree, or a bare git directory read with `git show`), pools its
chains and writes, per parameter element, the mean, the sample sd (n - 1) and R's type-7
5/50/95 % quantiles. Stan's 1-based names become vmc's 0-based ones: beta[1] is beta.0,
theta[1,2] is theta.0.1.

Where the draws' zip is missing from the clone (mcycle_gp-accel_gp's, at the commit below, is
absent from the repository's storage), --from-summary reads posteriordb's own summary statistics
of the same draws instead: mean_value and mean_squared_value, giving the mean and the sample sd
sqrt((E[x^2] - E[x]^2) n / (n - 1)) with n the draws' count from the draws' info file, and no
quantiles.

Usage: scripts/reference/posteriordb_summary.py POSTERIOR OUT.json [POSTERIORDB] [--only NAME,...]
                                               [--from-summary]
  POSTERIORDB: a posteriordb work tree or bare git directory
               (default /work/.mirror/stan-dev+posteriordb/repo)
  --only:      keep only these Stan parameter names (e.g. transformed parameters left out)
"""
import io
import json
import math
import os
import re
import subprocess
import sys
import zipfile

COMMIT_NOTE = "28f8d3d6e975315f42aa274a8399f21e07a43b30"


def read(root, path):
    if os.path.isdir(os.path.join(root, "posterior_database")):
        with open(os.path.join(root, path), "rb") as f:
            return f.read()
    return subprocess.run(["git", "--git-dir", root, "show", "HEAD:" + path], check=True,
                          capture_output=True).stdout


def quantile7(sorted_values, p):
    h = (len(sorted_values) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def vmc_name(stan):
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9, ]+)\])?", stan)
    if not m:
        raise SystemExit(f"cannot read the parameter name {stan!r}")
    if m.group(2) is None:
        return m.group(1)
    return m.group(1) + "".join("." + str(int(i) - 1) for i in m.group(2).split(","))


def from_summary(root, posterior):
    base = "posterior_database/reference_posteriors/summary_statistics"
    mean = json.loads(read(root, f"{base}/mean_value/mean_value/{posterior}.json"))
    square = json.loads(read(root, f"{base}/mean_squared_value/mean_squared_value/{posterior}.json"))
    info = json.loads(read(root, f"posterior_database/reference_posteriors/draws/info/{posterior}.info.json"))
    n = info["diagnostics"]["ndraws"]
    if mean["names"] != square["names"]:
        raise SystemExit("mean_value and mean_squared_value name different parameters")
    params = {}
    for name, m, s in zip(mean["names"], mean["mean_value"], square["mean_squared_value"]):
        params[vmc_name(name)] = {"mean": m, "sd": math.sqrt(max(s - m * m, 0.0) * n / (n - 1))}
    source = (f"posteriordb summary statistics of its reference draws ({n} draws, {info['diagnostics']['nchains']} "
              f"chains), commit {COMMIT_NOTE}: {base}/mean_value and mean_squared_value/{posterior}.json (the draws' "
              f"zip is absent from the repository); sd = sqrt((E[x^2] - E[x]^2) n / (n - 1)); Stan's 1-based x[k] is x.(k-1)")
    return params, source


def main(argv):
    summary_only = "--from-summary" in argv
    argv = [a for a in argv if a != "--from-summary"]
    only = None
    if "--only" in argv:
        k = argv.index("--only")
        only = set(argv[k + 1].split(","))
        argv = argv[:k] + argv[k + 2:]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    posterior, out = argv[0], argv[1]
    root = argv[2] if len(argv) > 2 else "/work/.mirror/stan-dev+posteriordb/repo"
    if summary_only:
        params, source = from_summary(root, posterior)
        write(out, {"posterior": posterior, "source": source, "params": params})
        return
    path = f"posterior_database/reference_posteriors/draws/draws/{posterior}.json.zip"
    with zipfile.ZipFile(io.BytesIO(read(root, path))) as z:
        chains = json.loads(z.read(z.namelist()[0]))
    params = {}
    for name in chains[0]:
        if only is not None and re.sub(r"\[.*", "", name) not in only:
            continue
        values = sorted(v for chain in chains for v in chain[name])
        n = len(values)
        mean = math.fsum(values) / n
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
        params[vmc_name(name)] = {"mean": mean, "sd": sd, "q5": quantile7(values, 0.05),
                                  "q50": quantile7(values, 0.5), "q95": quantile7(values, 0.95)}
    n = sum(len(next(iter(c.values()))) for c in chains)
    doc = {
        "posterior": posterior,
        "source": f"posteriordb reference draws ({n} draws, {len(chains)} chains), commit {COMMIT_NOTE}: "
                  f"{path}; Stan's 1-based x[k] is x.(k-1)",
        "params": params,
    }
    write(out, doc)


def write(out, doc):
    with open(out + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main(sys.argv[1:])

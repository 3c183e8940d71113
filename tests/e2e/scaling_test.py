#!/usr/bin/env python3
"""Compile time and memory against model size (issue 21): generated families that once grew
exponentially or overflowed a stack must grow linearly. Each point runs under a hang guard (a
timeout, not a timing assertion); the generated module's size, which is deterministic, must grow
linearly; the time and peak memory of each point are printed as a table (tests/README.md).

  scaling_test.py VMC [--table] [--large]

--large adds the slow points (a 10^6-term sum through `vmc fit`)."""
import os
import subprocess
import sys
import tempfile
import time

VMC = os.path.abspath(sys.argv[1])
TABLE = "--table" in sys.argv
LARGE = "--large" in sys.argv
GUARD_S = 120  # per point: far above any of them (the largest takes ~15 s on 2 cores)
failures = []

HEAD = """model fam;
dims { N; }
data { y : real[N]; }
latent { mu : real; }
param { mu_loc : real; mu_ls : real init -1; }
"""
GUIDE = "guide { mu ~ normal(mu_loc, exp(mu_ls)); }\n"


def chained_lets(n):
    """let a2 = tanh(a1 * a1 + a1); ...: each let used three times by the next."""
    lets = "".join(f"  let a{i + 1} = tanh(a{i} * a{i} + a{i});\n" for i in range(1, n))
    return (HEAD + "model {\n  mu ~ normal(0, 10);\n  let a1 = tanh(mu);\n" + lets +
            f"  y ~ normal(a{n}, 1);\n}}\n" + GUIDE)


def nested_fns(n):
    """fn f2(x) = tanh(f1(x) * f1(x) + x); ...: each fn calls the previous one twice."""
    fns = "fn f1(x) = tanh(x);\n" + "".join(
        f"fn f{i + 1}(x) = tanh(f{i}(x) * f{i}(x) + x);\n" for i in range(1, n))
    return HEAD + fns + f"model {{\n  mu ~ normal(0, 10);\n  y ~ normal(f{n}(mu), 1);\n}}\n" + GUIDE


def long_sum(n):
    terms = " + ".join(f"{(k % 7) + 1} * mu" for k in range(n))
    return HEAD + f"model {{\n  mu ~ normal(0, 10);\n  y ~ normal(({terms}) / {4 * n}, 1);\n}}\n" + GUIDE


def measure(args, cwd):
    """Runs vmc under the guard: (exit status or None, seconds, peak resident MB, stdout, stderr)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([VMC, *args], cwd=cwd, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)  # this child's own peak memory
            if pid:
                break
            if time.monotonic() - start > GUARD_S:
                p.kill()
                os.wait4(p.pid, 0)
                status, usage = None, None
                break
            time.sleep(0.01)
        p.returncode = 0  # reaped here: keep Popen from waiting again
        secs = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        code = None if status is None else os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss / 1024 if usage else 0
        return code, secs, rss, out.read(), err.read()


def main():
    rows = []
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "y.csv"), "w") as f:
            f.write("0.5\n1.5\n-0.2\n")
        families = [
            ("chained lets", chained_lets, [1, 5, 10, 20, 40], ["fit"]),
            ("nested fns", nested_fns, [1, 5, 10, 20, 30], ["fit"]),
            ("sum terms", long_sum, [10, 1000, 100000] + ([1000000] if LARGE else []), ["check", "fit"]),
        ]
        if not LARGE:
            families.append(("sum terms", long_sum, [1000000], ["check"]))
        for family, make, sizes, commands in families:
            ir_sizes = {}
            for n in sizes:
                model = os.path.join(work, f"m{n}.vmodel")
                with open(model, "w") as f:
                    f.write(make(n))
                for cmd in commands:
                    args = ["check", model, "--set", "N=3"] if cmd == "check" else \
                        ["fit", model, "--data", "y=y.csv", "--steps", "3", "--out", "out", "-q", "--no-cache"]
                    status, secs, rss, _, err = measure(args, work)
                    rows.append((family, n, cmd, secs, rss, status))
                    if status != 0:
                        failures.append(f"{family} {n}: vmc {cmd}: " +
                                        ("no answer within the guard" if status is None else
                                         f"exit {status}: {err.decode(errors='replace')[-500:]}"))
                if family != "sum terms" or n <= 1000:
                    status, _, _, out, err = measure(["emit", "llvm", model, "--set", "N=3"], work)
                    ir_sizes[n] = len(out) if status == 0 else None
            # Linear: the module grows by about the same amount per unit of n (the first point
            # carries the fixed part). A doubling per level fails by orders of magnitude.
            points = sorted(n for n, s in ir_sizes.items() if s)
            if len(points) >= 3:
                a, b, c = points[0], points[len(points) // 2], points[-1]
                slope_lo = (ir_sizes[b] - ir_sizes[a]) / (b - a)
                slope_hi = (ir_sizes[c] - ir_sizes[b]) / (c - b)
                if slope_hi > 3 * max(slope_lo, 1.0):
                    failures.append(f"{family}: the LLVM module grows faster than linearly: " +
                                    ", ".join(f"n={n}: {ir_sizes[n]} bytes" for n in points))
                print(f"{family}: LLVM module bytes " + ", ".join(f"n={n}: {ir_sizes[n]}" for n in points))
    print("| family | n | command | seconds | peak MB |")
    print("|---|---|---|---|---|")
    for family, n, cmd, secs, rss, status in rows:
        mark = "" if status == 0 else " (failed)"
        print(f"| {family} | {n} | `vmc {cmd}` | {secs:.2f}{mark} | {rss:.0f} |")
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

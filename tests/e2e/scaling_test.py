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
# Instrumented (scripts/test-sanitized) everything runs 10-50x slower: the guard stays a guard,
# and the sums stop at 10^4 terms (what that run looks for is memory errors, not growth).
SANITIZED = "libasan" in subprocess.run(["ldd", VMC], capture_output=True, text=True).stdout
if SANITIZED:
    GUARD_S = 1800
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


def recurrence(n):
    """A loop of T iterations carrying a var (issue 23): compiled once, whatever T (--set T=n)."""
    return ("model fam;\ndims { N; T; }\ndata { y : real[N]; }\nlatent { mu : real; }\n"
            "param { mu_loc : real; mu_ls : real init -1; }\nmodel {\n  mu ~ normal(0, 10);\n"
            "  var s = 0.0;\n  for t in 0:T {\n    s = 0.9 * s + tanh(mu + 0.001 * t);\n  }\n"
            "  y ~ normal(s / 10, 1);\n}\n" + GUIDE)


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
        # (family, model of n, points, commands, extra options of n)
        families = [
            ("chained lets", chained_lets, [1, 5, 10, 20, 40], ["fit"], None),
            ("nested fns", nested_fns, [1, 5, 10, 20, 30], ["fit"], None),
            ("sum terms", long_sum, [10, 1000, 10000 if SANITIZED else 100000] + ([1000000] if LARGE else []),
             ["check", "fit"], None),
            # L samples are L kernel calls a step, not L copies of the model: the compiled module
            # is the same for every L, and 3 steps of 10^4 samples take milliseconds of run time
            # (it was unrolled: L = 100 took 3-6 s, 1000 over 5 minutes).
            ("--samples", lambda n: chained_lets(5), [1, 10, 100, 1000, 10000], ["fit"],
             lambda n: ["--samples", str(n)]),
            # An importance-weighted bound's K samples: two passes of one sample's kernels.
            ("--estimator iwae --samples", lambda n: chained_lets(5), [1, 10, 100, 1000, 10000], ["fit"],
             lambda n: ["--estimator", "iwae", "--samples", str(n)]),
            # A loop's trip count: one body whatever T (the module differs only in T's digits).
            ("loop trip count", recurrence, [10, 1000, 10000, 100000], ["fit"], lambda n: ["--set", f"T={n}"]),
        ]
        if not LARGE and not SANITIZED:
            families.append(("sum terms", long_sum, [1000000], ["check"], None))
        for family, make, sizes, commands, extra in families:
            ir_sizes = {}
            for n in sizes:
                # (one file name for a family of options: the name is in the module's text)
                model = os.path.join(work, "same.vmodel" if extra else f"m{n}.vmodel")
                with open(model, "w") as f:
                    f.write(make(n))
                more = extra(n) if extra else []
                for cmd in commands:
                    args = ["check", model, "--set", "N=3"] if cmd == "check" else \
                        ["fit", model, "--data", "y=y.csv", "--steps", "3", "--out", "out", "-q", "--no-cache", *more]
                    status, secs, rss, _, err = measure(args, work)
                    rows.append((family, n, cmd, secs, rss, status))
                    if status != 0:
                        failures.append(f"{family} {n}: vmc {cmd}: " +
                                        ("no answer within the guard" if status is None else
                                         f"exit {status}: {err.decode(errors='replace')[-500:]}"))
                if family != "sum terms" or n <= 1000:
                    status, _, _, out, err = measure(["emit", "llvm", model, "--set", "N=3", *more], work)
                    ir_sizes[n] = len(out) if status == 0 else None
            # (a loop's trip count is a constant of the module, in each of its calls: only its digits differ)
            digits = 64 if family == "loop trip count" else 0
            known = [v for v in ir_sizes.values() if v is not None]
            if extra and (len(known) != len(ir_sizes) or max(known) - min(known) > digits):
                failures.append(f"{family}: the LLVM module changes with n: " +
                                ", ".join(f"n={n}: {ir_sizes[n]} bytes" for n in sorted(ir_sizes)))
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

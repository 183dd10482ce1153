"""Leak detection quality of the trend engine against the baselines administrators use.

Synthetic daily series with known shape (slopes, noise, cache steps, GC sawtooth,
reboots) are fed to ``trend.fit`` and to two naive rules measured in the same run:
  * top-by-bytes: call it a leak when the series is "high" (last value >= 30 % of the limit);
  * diff (poolmon's Diff column watched by eye): leak when last - first > 0.5 % of the limit.
Prints detection rate, false-positive rate and the samples needed for >= 99 % detection.
Target (issue "Leak trend engine"): >= 99 % detection of a leak of 1 % of the limit per
day within 8 daily samples, <= 1 % false positives on flat, sawtooth and step series.

Usage: python benchmarks/trend_detection.py [--trials N] [--noise SHARE] [--seed S]
"""

import argparse
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), ".tmp", "collections"))
try:
    from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend
except ImportError:  # run before the test suite created the import path
    LINK = os.path.join(os.path.dirname(HERE), ".tmp", "collections", "ansible_collections", "memleak")
    os.makedirs(LINK, exist_ok=True)
    if not os.path.exists(os.path.join(LINK, "remediation")):
        os.symlink(os.path.dirname(HERE), os.path.join(LINK, "remediation"))
    from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend

LIMIT = 128 * 1024 * 1024  # a small 32-bit nonpaged pool: the leak rate is relative anyway


def leak(rng, n, noise, rate=0.01):
    base = rng.uniform(0.2, 0.6)
    return [(d * 24.0, (base + rate * d + rng.gauss(0, noise)) * LIMIT, "b1") for d in range(n)]


def leak_after_reboot(rng, n, noise, rate=0.01):
    """Leaked for a while, rebooted at a random day, leaking again: only the new boot counts."""
    cut = rng.randint(1, max(1, n // 3))
    before = [(d * 24.0, (0.5 + rate * d + rng.gauss(0, noise)) * LIMIT, "b0") for d in range(cut)]
    after = [((cut + d) * 24.0, (0.2 + rate * d + rng.gauss(0, noise)) * LIMIT, "b1") for d in range(n)]
    return before + after


def flat(rng, n, noise):
    base = rng.uniform(0.2, 0.8)
    return [(d * 24.0, (base + rng.gauss(0, noise)) * LIMIT, "b1") for d in range(n)]


def step(rng, n, noise):
    """A cache that fills once (one jump of 5-20 %) and stays."""
    base, jump, at = rng.uniform(0.2, 0.5), rng.uniform(0.05, 0.2), rng.randint(1, max(1, n - 1))
    return [(d * 24.0, (base + (jump if d >= at else 0) + rng.gauss(0, noise)) * LIMIT, "b1") for d in range(n)]


def fill_then_flat(rng, n, noise):
    """A cache filling over the first third of the window, then flat."""
    base, top, fill = rng.uniform(0.2, 0.4), rng.uniform(0.05, 0.2), max(2, n // 3)
    return [(d * 24.0, (base + top * min(d, fill) / fill + rng.gauss(0, noise)) * LIMIT, "b1") for d in range(n)]


def sawtooth(rng, n, noise):
    """Garbage-collected heap: grows 2-8 % per day, collected every 2-4 days."""
    base, rate, period, phase = rng.uniform(0.2, 0.5), rng.uniform(0.02, 0.08), rng.randint(2, 4), rng.randint(0, 3)
    return [(d * 24.0, (base + rate * ((d + phase) % period) + rng.gauss(0, noise)) * LIMIT, "b1") for d in range(n)]


def reboot_reset(rng, n, noise):
    """High before a reboot, lower and flat after: a reset, not a leak."""
    cut = rng.randint(1, n - 1)
    return [(d * 24.0, ((0.7 if d < cut else 0.3) + rng.gauss(0, noise)) * LIMIT, "b0" if d < cut else "b1")
            for d in range(n)]


def engine(points):
    return trend.fit(points, limit=LIMIT)["leaking"]


def top_by_bytes(points):
    return points[-1][1] >= 0.3 * LIMIT


def diff(points):
    return points[-1][1] - points[0][1] > 0.005 * LIMIT


DETECTORS = (("trend engine", engine), ("top by bytes", top_by_bytes), ("last-minus-first diff", diff))
POSITIVE = (("leak 1 %/day", leak), ("leak after reboot", leak_after_reboot))
NEGATIVE = (("flat", flat), ("step", step), ("fill then flat", fill_then_flat), ("sawtooth", sawtooth),
            ("reboot reset", reboot_reset))


def rate(gen, detect, n, trials, noise, seed):
    rng = random.Random(seed)
    return sum(1 for dummy in range(trials) if detect(gen(rng, n, noise))) / float(trials)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--noise", type=float, default=0.005, help="noise sd as a share of the limit (default 0.5 %%)")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    n, t, noise = args.samples, args.trials, args.noise
    print("trend detection: %d trials per cell, %d daily samples, noise sd %.2f %% of the limit, seed %d"
          % (t, n, 100 * noise, args.seed))
    header = "| detector | " + " | ".join(name for name, dummy in POSITIVE) + " | " + \
        " | ".join("FP " + name for name, dummy in NEGATIVE) + " | worst FP | samples for 99 % |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    ok = True
    for dname, detect in DETECTORS:
        pos = [rate(g, detect, n, t, noise, args.seed) for dummy, g in POSITIVE]
        neg = [rate(g, detect, n, t, noise, args.seed + 1) for dummy, g in NEGATIVE]
        needed = next((k for k in range(3, 31) if rate(leak, detect, k, t // 4, noise, args.seed + 2) >= 0.99), None)
        print("| %s | %s | %s | %.1f %% | %s |" % (
            dname, " | ".join("%.1f %%" % (100 * p) for p in pos), " | ".join("%.1f %%" % (100 * q) for q in neg),
            100 * max(neg), needed if needed else "> 30"))
        if dname == "trend engine":
            ok = pos[0] >= 0.99 and max(neg) <= 0.01
    print("target (engine: >= 99 %% detection in %d samples, <= 1 %% FP): %s" % (n, "met" if ok else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The trend fit: growth rate, significance, shape checks and time to exhaustion."""

import math
import random

import pytest

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend

MIB = 1024 * 1024
LIMIT = 128 * MIB


def daily(values, boot="b1"):
    return [(day * 24.0, v, boot) for day, v in enumerate(values)]


def test_steady_leak_gives_rate_and_eta():
    # 1 MiB/hour from 40 MiB: after 7 days 208 MiB would overflow a 256 MiB pool in 48 h.
    pts = [(h * 24.0, 40 * MIB + h * 24 * MIB, "b1") for h in range(8)]
    fit = trend.fit(pts, limit=256 * MIB)
    assert fit["leaking"] is True and fit["reason"] == "sustained growth"
    assert fit["bytes_per_hour"] == pytest.approx(MIB)
    assert fit["samples"] == 8 and fit["span_hours"] == 168.0
    assert fit["exhaustion_eta_hours"] == pytest.approx(48.0)
    assert fit["confidence"] > 0.99


def test_one_outlier_does_not_bend_the_slope():
    values = [10 * MIB + d * MIB for d in range(10)]
    values[4] += 80 * MIB  # a one-off spike
    slope, dummy = trend.theil_sen([float(d) for d in range(10)], values)
    assert slope == pytest.approx(MIB)


def test_single_jump_is_not_a_leak():
    # Significant by Mann-Kendall (a jump is monotonic), rejected by the shape check.
    values = [50 * MIB + k * 4096 for k in range(5)] + [70 * MIB + k * 4096 for k in range(5)]
    fit = trend.fit(daily(values), limit=LIMIT)
    assert fit["confidence"] > 0.99
    assert fit["leaking"] is False and fit["reason"] == "one step, not sustained growth"


def test_cache_that_filled_and_stopped_is_not_a_leak():
    values = [30 * MIB, 40 * MIB, 50 * MIB, 51 * MIB, 50 * MIB, 51 * MIB, 50 * MIB, 51 * MIB]
    fit = trend.fit(daily(values), limit=LIMIT)
    assert fit["leaking"] is False
    assert fit["reason"] in ("growth has stopped (rise, then flat)", "one step, not sustained growth") \
        or fit["reason"].startswith("no significant trend")


def test_flat_series_is_not_growing():
    fit = trend.fit(daily([64 * MIB, 63 * MIB, 64 * MIB, 65 * MIB, 64 * MIB, 63 * MIB]), limit=LIMIT)
    assert fit["leaking"] is False


def test_only_the_current_boot_is_fitted():
    before = daily([100 * MIB, 110 * MIB, 120 * MIB], boot="old")
    after = [(72.0 + d * 24.0, 20 * MIB, "new") for d in range(5)]
    fit = trend.fit(before + after, limit=LIMIT)
    assert fit["samples"] == 5 and fit["dropped_other_boots"] == 3
    assert fit["leaking"] is False and fit["bytes_per_hour"] == 0


def test_too_few_samples_say_growth_is_unproven():
    assert trend.fit([(0, 1, "b")])["reason"] == "one sample: growth unproven"
    fit = trend.fit(daily([1 * MIB, 2 * MIB, 3 * MIB]))
    assert fit["leaking"] is False and "unproven" in fit["reason"]


def test_iso_timestamps_are_hours():
    assert trend.to_hours("1970-01-02T00:00:00Z") == 24.0
    pts = [("2026-11-0%dT06:00:00Z" % (d + 1), (10 + d) * MIB, "b") for d in range(8)]
    assert trend.fit(pts, limit=LIMIT)["bytes_per_hour"] == pytest.approx(MIB / 24.0)


def test_mann_kendall_counts_ties():
    s, tau, p = trend.mann_kendall([1, 1, 1, 1])
    assert (s, tau, p) == (0, 0.0, 1.0)
    s, tau, p = trend.mann_kendall([1, 2, 3, 4, 5, 6, 7, 8])
    assert s == 28 and tau == 1.0 and p < 0.001


def _pairwise_mann_kendall(ys):
    """The textbook definition: every pair compared, ties counted per value."""
    n = len(ys)
    s = sum((ys[j] > ys[i]) - (ys[j] < ys[i]) for i in range(n) for j in range(i + 1, n))
    groups = [ys.count(y) for y in set(ys)]
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in groups)) / 18.0
    p = 1.0 if var <= 0 or s <= 0 else 0.5 * math.erfc((s - 1) / math.sqrt(var) / math.sqrt(2.0))
    return s, p


def test_mann_kendall_matches_the_pairwise_definition_with_ties():
    rng = random.Random(7)
    for dummy in range(500):
        ys = [float(rng.randint(0, rng.choice((2, 5, 1000)))) for dummy_i in range(rng.randint(0, 61))]
        s, dummy_tau, p = trend.mann_kendall(ys)
        assert (s, p) == _pairwise_mann_kendall(ys), ys


def _random_series(rng):
    n = rng.randint(2, 60)
    slope = rng.choice((0.0, 0.0, MIB / 100.0, MIB / 10.0, -MIB / 50.0))
    noise = rng.choice((0.0, 0.01, 0.2)) * MIB
    return [(h * 6.0, 64 * MIB + slope * h * 6 + rng.gauss(0, noise), "b1") for h in range(n)]


def test_may_leak_never_rules_out_a_series_fit_calls_leaking():
    rng = random.Random(11)
    seen = {True: 0, False: 0}
    for dummy in range(400):
        pts = _random_series(rng)
        leaking = trend.fit(pts, limit=LIMIT)["leaking"]
        seen[leaking] += 1
        if leaking:
            assert trend.may_leak(pts), pts
        if not trend.may_leak(pts):
            assert not leaking
    assert seen[True] > 20 and seen[False] > 20  # both kinds were tried


def _plateau_by_refitting(xs, ys, ratio=0.3, min_plateau=3):
    """One least-squares fit per break, as the definition reads."""
    line = trend._sse(xs, ys)
    fits = [trend._sse([min(x, xs[k]) for x in xs], ys) for k in range(1, len(xs) - min_plateau + 1)]
    return line > 0 and min(fits or [line]) < ratio * line


def test_plateau_check_agrees_with_refitting_every_break():
    rng = random.Random(13)
    answers = set()
    for dummy in range(400):
        n = rng.randint(4, 60)
        xs = sorted(rng.choice((float(rng.randint(0, 200)), rng.random() * 200)) for dummy_i in range(n))
        xs = [x - xs[0] for x in xs]
        knee = xs[rng.randint(1, n - 1)]
        base = rng.choice((1.0, 1e9))
        ys = [base + min(x, knee) * base * 0.01 + rng.gauss(0, base * rng.choice((1e-4, 1e-2))) for x in xs]
        expected = _plateau_by_refitting(xs, ys)
        answers.add(expected)
        assert trend._plateau_fits_better(xs, ys, trend.DEFAULTS) == expected, (xs, ys)
    assert answers == {True, False}

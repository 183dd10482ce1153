"""The trend fit: growth rate, significance, shape checks and time to exhaustion."""

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import trend

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

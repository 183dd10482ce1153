# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a series grow without bound? Robust slope, significance, and time to exhaustion.

A snapshot shows *high*; only a trend shows *leaking*. The fit must not be fooled
by one jump (a cache filling once), a garbage collector's sawtooth or a reboot,
so it uses the Theil-Sen slope (median of pairwise slopes, robust to outliers),
the Mann-Kendall test for a monotonic trend, and two shape checks: the rise is
not a single step, and the growth goes on in the later half of the window.
Pure Python, stdlib only; runs on the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
from bisect import bisect_left, bisect_right

from ansible_collections.memleak.remediation.plugins.module_utils.series import to_hours

DEFAULTS = {
    "window": 60,            # newest samples of the current boot that are fitted
    "min_samples": 4,        # fewer cannot tell growth from noise
    "alpha": 0.01,           # Mann-Kendall one-sided significance for "growing"
    "min_growth_share": 0.005,  # fitted growth over the span, as a share of the limit (if known)
    "min_growth_bytes": 0,   # ... or in bytes when no limit is known
    "max_step_share": 0.6,   # one interval may carry at most this share of the total rise
    "plateau_ratio": 0.3,    # a "rise then flat" fit this much better than a line: growth stopped
    "min_plateau": 3,        # samples the flat part of that fit needs
}

def current_boot(points):
    """The trailing run of points that share the last point's boot id (a reboot resets pools)."""
    if not points:
        return []
    boot = points[-1][2]
    boots = [p[2] for p in points]
    if boots.count(boot) == len(boots):
        return points  # one boot throughout, the usual case: no need to walk back
    start = len(points)
    while start > 0 and points[start - 1][2] == boot:
        start -= 1
    return points[start:]


def theil_sen(xs, ys):
    """Median of pairwise slopes and the matching intercept; (0, median y) for a single x."""
    slopes = []
    n = len(xs)
    if len(set(xs)) == n:  # the usual case, no two samples at one time: no pair to leave out
        for i in range(n - 1):
            xi, yi = xs[i], ys[i]
            slopes += [(yj - yi) / (xj - xi) for xj, yj in zip(xs[i + 1:], ys[i + 1:])]
    else:
        for i in range(n):
            xi, yi = xs[i], ys[i]
            slopes.extend([(ys[j] - yi) / (xs[j] - xi) for j in range(i + 1, n) if xs[j] != xi])
    slope = _median(slopes) if slopes else 0.0
    intercept = _median([y - slope * x for x, y in zip(xs, ys)])
    return slope, intercept


def mann_kendall(ys):
    """(S, tau, one-sided p for an upward trend), with the variance corrected for ties.

    S counts, for each value, the earlier values below it minus those above it: kept
    sorted, each count is two binary searches, O(n log n) rather than the O(n^2) of
    comparing every pair (the same S, ties included).
    """
    n = len(ys)
    s = 0
    seen = []
    for y in ys:
        below = bisect_left(seen, y)
        above = bisect_right(seen, y, below)
        s += below - (len(seen) - above)
        seen.insert(above, y)
    pairs = n * (n - 1) / 2.0
    tau = s / pairs if pairs else 0.0
    var = n * (n - 1) * (2 * n + 5)
    if s > 0:
        start = 0
        while start < n:  # tie groups are runs of equal values in the sorted list
            end = bisect_right(seen, seen[start], start)
            size = end - start
            var -= size * (size - 1) * (2 * size + 5)
            start = end
    var /= 18.0
    if var <= 0 or s <= 0:
        return s, tau, 1.0
    z = (s - 1) / math.sqrt(var)
    return s, tau, 0.5 * math.erfc(z / math.sqrt(2.0))


def may_leak(points, options=None):
    """False when ``fit`` cannot call the series leaking; cheap enough to ask of every series.

    ``fit`` calls nothing leaking without ``min_samples`` points of the current boot and a
    significant Mann-Kendall trend; this checks both in O(n log n) and leaves the O(n^2)
    slope and the shape checks to the few series that pass. True does not mean leaking.
    """
    opts = options or {}
    window = int(opts.get("window", DEFAULTS["window"]))
    ys = [p[1] for p in current_boot(_usable(points))[-window:]]
    if len(ys) < max(2, opts.get("min_samples", DEFAULTS["min_samples"])):
        return False
    return mann_kendall(ys)[2] <= opts.get("alpha", DEFAULTS["alpha"])


def _usable(points):
    """(hours, value, boot) of the points that have a value, by time."""
    pts = [(to_hours(t), float(v), b) for t, v, b in points if v is not None]
    pts.sort(key=lambda p: p[0])
    return pts


def fit(points, limit=None, options=None):
    """Fit one series. ``points``: [(time, bytes, boot_id)] oldest first; time in hours or ISO text.

    Returns {bytes_per_hour, samples, span_hours, confidence, tau, leaking, reason,
    exhaustion_eta_hours}; ``leaking`` is True only for sustained, significant growth.
    """
    opts = dict(DEFAULTS)
    opts.update(options or {})
    pts = _usable(points)
    seg = current_boot(pts)[-int(opts["window"]):]
    result = {"bytes_per_hour": 0.0, "samples": len(seg), "span_hours": 0.0, "confidence": 0.0,
              "tau": 0.0, "leaking": False, "reason": "", "exhaustion_eta_hours": None,
              "dropped_other_boots": len(pts) - len(current_boot(pts))}
    if len(seg) < 2:
        result["reason"] = "one sample: growth unproven"
        return result
    xs = [p[0] - seg[0][0] for p in seg]
    ys = [p[1] for p in seg]
    if min(ys) == max(ys):
        # A constant series (an unused pool of a tag, an idle counter): every pairwise slope is 0 and
        # Mann-Kendall's S is 0, so the O(n^2) fits below would return exactly this.
        slope, intercept, tau, p_value = 0.0, ys[0], 0.0, 1.0
    else:
        slope, intercept = theil_sen(xs, ys)
        _s, tau, p_value = mann_kendall(ys)
    span = xs[-1]
    result.update(bytes_per_hour=slope, span_hours=span, confidence=round(1.0 - p_value, 4), tau=round(tau, 3))
    result["reason"] = _verdict(seg, xs, ys, slope, p_value, limit, opts)
    result["leaking"] = result["reason"] == "sustained growth"
    if result["leaking"] and limit:
        fitted_now = intercept + slope * span
        result["exhaustion_eta_hours"] = max(0.0, (float(limit) - max(fitted_now, ys[-1])) / slope)
    return result


def _verdict(seg, xs, ys, slope, p_value, limit, opts):
    if len(seg) < opts["min_samples"]:
        return "%d samples: growth unproven (need %d)" % (len(seg), opts["min_samples"])
    if slope <= 0:
        return "not growing"
    if p_value > opts["alpha"]:
        return "no significant trend (p=%.3f)" % p_value
    growth = slope * xs[-1]
    floor = opts["min_growth_share"] * float(limit) if limit else opts["min_growth_bytes"]
    if growth < floor:
        return "growth too small to matter (%d bytes)" % growth
    rise = max(ys) - min(ys)
    steps = [b - a for a, b in zip(ys, ys[1:])]
    if rise > 0 and max(steps) > opts["max_step_share"] * rise:
        return "one step, not sustained growth"
    if _plateau_fits_better(xs, ys, opts):
        return "growth has stopped (rise, then flat)"
    return "sustained growth"


def _sse(zs, ys):
    """Residual sum of squares of the least-squares line y = a + b z."""
    n = float(len(zs))
    mz, my = sum(zs) / n, sum(ys) / n
    szz = sum((z - mz) ** 2 for z in zs)
    b = sum((z - mz) * (y - my) for z, y in zip(zs, ys)) / szz if szz else 0.0
    return sum((y - my - b * (z - mz)) ** 2 for z, y in zip(zs, ys))


def _plateau_fits_better(xs, ys, opts):
    """A cache that filled and stopped: y = a + b min(x, x_k) explains the data far better than a line.

    Every break k is tried; running sums give each one's residuals in O(1), so the
    search costs O(n) rather than a least-squares fit per break.
    """
    line = _sse(xs, ys)
    if line <= 0:
        return False
    n = len(xs)
    mean_y = sum(ys) / float(n)
    yc = [y - mean_y for y in ys]
    syy = sum(v * v for v in yc)
    total = sum(yc)
    best = line
    sum_x = sum_xx = sum_xy = sum_y = 0.0
    for k in range(n - opts["min_plateau"] + 1):
        x = xs[k]
        sum_x += x
        sum_xx += x * x
        sum_xy += x * yc[k]
        sum_y += yc[k]
        if k == 0:
            continue
        if x == xs[0]:
            sse = syy  # min(x, x_k) is constant: the best fit is the mean
        else:
            rest = n - k - 1  # points on the flat part, at x_k
            sz = sum_x + rest * x
            szz = sum_xx + rest * x * x - sz * sz / n
            szy = sum_xy + x * (total - sum_y)
            sse = syy - szy * szy / szz
        best = min(best, sse)
    return best < opts["plateau_ratio"] * line


def _median(values):
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0

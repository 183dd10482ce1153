# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a series grow without bound? Robust slope, significance, and time to exhaustion.

A snapshot shows *high*; only a trend shows *leaking*. The fit must not be fooled
by one jump (a cache filling once), a garbage collector's sawtooth or a reboot,
so it uses the Theil-Sen slope (median of pairwise slopes, robust to outliers),
the Mann-Kendall test for a monotonic trend, and two shape checks: the rise is
not a single step, and the growth goes on in the later half of the window.

A significant fit is not yet proof. Minutes of samples, a rise lost in the
series' own noise or a rise too small to matter say "rising, not proven yet":
growth is *proven* (``leaking``) only over at least ``min_span_hours``, when the
fitted rise is ``noise_factor`` times the scatter around the fit, and above the
growth floor. An exhaustion ETA is given only for proven growth and only up to
``eta_span_factor`` times the observed span: a line is not extrapolated further
than the evidence reaches (docs/data-contracts.md, "Confidence").
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
    "min_span_hours": 6.0,   # growth over less time than this is "rising, not proven yet"
    "noise_factor": 3.0,     # the fitted rise must be this many times the scatter around the fit
    "half_slope_share": 0.5,  # each half of the window must rise at least this share of the whole's rate
    "fast_growth_share": 0.25,  # ... unless it already rose by this share of the limit
    "eta_span_factor": 4.0,  # no ETA further ahead than this many times the observed span
}

RISING = "rising, not proven yet"


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

    Returns {bytes_per_hour, samples, span_hours, confidence, tau, leaking, rising, noise_bytes,
    reason, exhaustion_eta_hours, eta_beyond_evidence}. ``leaking`` is True only for *proven* growth
    (significant, sustained, long enough, above noise and floor); ``rising`` for a series that would be
    leaking but is not proven yet (its ``reason`` starts with RISING). ``exhaustion_eta_hours`` is None
    beyond ``eta_span_factor`` x span (``eta_beyond_evidence`` then holds the raw figure).
    """
    opts = dict(DEFAULTS)
    opts.update(options or {})
    pts = _usable(points)
    seg = current_boot(pts)[-int(opts["window"]):]
    result = {"bytes_per_hour": 0.0, "samples": len(seg), "span_hours": 0.0, "confidence": 0.0,
              "tau": 0.0, "leaking": False, "rising": False, "noise_bytes": 0.0, "reason": "",
              "exhaustion_eta_hours": None, "eta_beyond_evidence": None,
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
    if result["reason"] == "sustained growth":
        noise = _noise(xs, ys, slope, intercept)
        result["noise_bytes"] = noise
        unproven = _unproven(span, slope * span, noise, limit, opts)
        if not unproven and len(xs) >= 12:  # fewer: each half too short to have a slope of its own
            half = len(xs) // 2
            slopes = [theil_sen(xs[:half], ys[:half])[0], theil_sen(xs[half:], ys[half:])[0]]
            if min(slopes) < opts["half_slope_share"] * slope:
                unproven = "the rise does not hold in both halves of the window (%d then %d bytes/h)" % tuple(slopes)
        if not unproven:
            corrected = _autocorrelated_p(xs, ys, slope, intercept, p_value)
            if corrected > opts["alpha"]:
                unproven = "the noise is autocorrelated; corrected for it the trend is not significant (p=%.3f)" % corrected
        if unproven:
            result["rising"] = True
            result["reason"] = "%s (%d samples over %s): %s" % (RISING, len(seg), span_text(span), unproven)
        else:
            result["leaking"] = True
    if result["rising"] and not opts.get("_second_look"):
        start = _onset(xs, ys, max(opts["min_samples"], 6))
        if start:
            # A leak that started (or came back) late in the window, after a flat part: the samples since
            # its onset prove it on their own, with every check, half the significance level (two looks at
            # one series: Bonferroni) and a rise three times as clear of the noise; one second look only.
            since = fit(seg[start:], limit, dict(opts, _second_look=True, alpha=opts["alpha"] / 2.0,
                                                 noise_factor=3 * opts["noise_factor"]))
            if since["leaking"]:
                since["reason"] = "sustained growth over the newest %d samples, after a flat start (%s)" % (
                    since["samples"], result["reason"])
                since["dropped_other_boots"] = result["dropped_other_boots"]
                return since
    if result["leaking"] and limit:
        fitted_now = intercept + slope * span
        eta = max(0.0, (float(limit) - max(fitted_now, ys[-1])) / slope)
        if eta <= opts["eta_span_factor"] * span:
            result["exhaustion_eta_hours"] = eta
        else:
            result["eta_beyond_evidence"] = eta
    return result


def _noise(xs, ys, slope, intercept):
    """Scatter of the series around its fitted line: 1.4826 x the median absolute residual (a robust
    standard deviation; Gaussian noise gives its sigma)."""
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys)]
    centre = _median(residuals)
    return 1.4826 * _median([abs(r - centre) for r in residuals])


def _autocorrelated_p(xs, ys, slope, intercept, p_value):
    """Mann-Kendall's p with its variance inflated for lag-1 autocorrelated residuals.

    Slowly wandering noise (an idle host's counters) makes runs that Mann-Kendall takes for a
    trend. The effective-sample-size correction (variance x (1 + r1) / (1 - r1), r1 the lag-1
    autocorrelation of the residuals around the fit, bias-corrected by (1 + 4 r1) / n as short
    series underestimate it) undoes that and leaves white noise alone.
    """
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys)]
    n = len(residuals)
    if n < 12 or p_value >= 1.0:
        return p_value  # too few residuals to estimate an autocorrelation
    mean = sum(residuals) / float(n)
    centred = [r - mean for r in residuals]
    denominator = sum(c * c for c in centred)
    growth = slope * (xs[-1] - xs[0])
    if denominator <= 0 or growth > 20 * math.sqrt(denominator / n):
        return p_value  # the scatter is negligible next to the rise (a clean line): nothing to correct
    r1 = sum(a * b for a, b in zip(centred, centred[1:])) / denominator
    r1 = min(r1 + (1.0 + 4.0 * r1) / n, 0.95)
    if r1 <= 0:
        return p_value
    z = math.sqrt(2.0) * _erfc_inverse(2.0 * p_value) / math.sqrt((1.0 + r1) / (1.0 - r1))
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _erfc_inverse(value):
    """x with erfc(x) = value (0 < value < 2), by bisection: precise enough for a p-value."""
    value = min(max(value, 1e-300), 2.0 - 1e-16)
    low, high = -10.0, 10.0
    for dummy in range(200):
        mid = (low + high) / 2.0
        if math.erfc(mid) > value:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def _unproven(span, growth, noise, limit, opts):
    """Why significant growth is not proof yet, or '' when it is.

    A short span is enough only for a rise that already took ``fast_growth_share`` of the limit:
    waiting hours for such a leak would mean waiting for the out-of-memory.
    """
    fast = limit and growth >= opts["fast_growth_share"] * float(limit)
    if span < opts["min_span_hours"] and not fast:
        return "needs at least %s of samples" % span_text(opts["min_span_hours"])
    if growth < opts["noise_factor"] * noise:
        return "the rise (%d bytes) is within %g x the series' noise (%d bytes)" % (growth, opts["noise_factor"], noise)
    return ""


def span_text(hours):
    """'45 s', '2.0 min', '6.0 h', '3.5 days'."""
    if hours < 1.0 / 60:
        return "%d s" % round(hours * 3600)
    if hours < 1:
        return "%.1f min" % (hours * 60)
    if hours < 48:
        return "%.1f h" % hours
    return "%.1f days" % (hours / 24)


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


def _onset(xs, ys, min_points):
    """Index where a flat stretch turns into a rise, keeping at least ``min_points`` after it; None when
    no such break explains the series.

    Each candidate break k is judged on a window with as many points before it as after it: there
    y = a + b max(x, x_k) (flat, then a line) must fit far better than one line. The best fit wins.
    """
    n = len(xs)
    best, where = 0.3, None
    for k in range(max(1, min_points // 2), n - min_points + 1):
        first = max(0, 2 * k - n)
        wx, wy = xs[first:], ys[first:]
        line = _sse(wx, wy)
        if line <= 0:
            continue
        ratio = _sse([max(x, xs[k]) for x in wx], wy) / line
        if ratio < best:
            best, where = ratio, k
    return where


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

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet page: diagnoses and snapshots in, one self-contained index.html out.

Administrators look before they read, so the page shows the numbers and the
curves and needs nothing else: no network, no CDN, no chart library. The charts
are SVG drawn here, on the controller; the only script is a few lines that
filter the page by verdict (without it, everything stays visible).

What is on the page
-------------------
* a fleet table, one row per host, in the order of ``report_formats.fleet_rows``
  (most severe first, then the host that runs out of memory soonest): host,
  verdict, culprit, owner/version, the biggest number, growth rate, time until
  memory runs out and the next step; hosts that could not be diagnosed are
  listed with the reason;
* filter buttons, one per verdict present (with the count), "problems" and "all";
* per host a section: the verdict sentence, what the host is, the memory ledger
  as one stacked bar, the culprit's series over time as a line chart with its
  limit, the findings, the plan and the evidence behind the verdict.

The trend chart
---------------
The series is the one the verdict's finding stands for (``series.py`` names):
``proc:<name>[<pid>]`` for a process, ``slab:<cache>``, ``ledger.unaccounted``,
``balloon``, ``tag.np:<TAG>`` for a pool tag, ``mem.commit_used`` for commit
exhaustion, ``mem.used`` when there is no culprit. Its limit is where memory
runs out: for a pool tag or pool the pool's limit, for the commit charge the
commit limit, otherwise the series' current value plus MemAvailable (the level
at which the trend stage's ETA ends). A change of boot id breaks the line and
is marked "reboot". A limit more than three times above the data is named at
the top edge instead of flattening the curve.

Pure: no I/O, no clock (``generated_at`` is passed in), same input, same page.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.formats import (
    NOT_DIAGNOSED, UNHEALTHY, eta_text, fleet_rows, rate_text)
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import (
    headline_finding, human_bytes, partial_text, step_target_text, subject_text)
from ansible_collections.memleak.remediation.plugins.module_utils.schema import SEVERITIES, platform_text, severity_rank
from ansible_collections.memleak.remediation.plugins.module_utils.series import to_hours

from html import escape as _html_escape

MAX_POINTS = 120          # points drawn per chart (history is thinned, reboots are kept)
FINDINGS_SHOWN = 5
EVIDENCE_LINES = 8
WARNINGS_SHOWN = 5
LIMIT_OFF_SCALE = 3.0     # a limit this many times above the data is named, not drawn

# Memory ledger colours, in the memory ledger's own order (memory_ledger.CATEGORIES); unknown categories get a palette colour.
LEDGER_COLOURS = (
    ("free", "#d0d0d0"), ("page_cache", "#9ecae1"), ("shmem", "#c994c7"), ("anon", "#3182bd"),
    ("unevictable", "#08519c"), ("slab_reclaimable", "#fdd0a2"), ("slab_unreclaimable", "#fd8d3c"),
    ("kernel_stack", "#fdae6b"), ("page_tables", "#e6550d"), ("vmalloc", "#a63603"), ("percpu", "#d9b38c"),
    ("kernel_other", "#bcbddc"), ("hugepages", "#756bb1"), ("zswap", "#74c476"), ("zram", "#31a354"),
    ("balloon", "#636363"), ("unaccounted", "#d7301f"),
    # Windows memory ledger (diagnosis.windows.LEDGER_CATEGORIES)
    ("nonpaged_pool", "#d94801"), ("paged_pool_resident", "#fdae6b"), ("process_private", "#3182bd"),
    ("available", "#d0d0d0"), ("other", "#bcbddc"),
)
_PALETTE = ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3")
_KNOWN = dict((name, index) for index, (name, _colour) in enumerate(LEDGER_COLOURS))
_LEDGER_CSS = "".join(".k%d{fill:%s;background:%s}" % (index, colour, colour)
                      for index, (_name, colour) in enumerate(LEDGER_COLOURS))

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1d;background:#fafafa}
header,main{padding:0 20px}header{background:#fff;border-bottom:1px solid #ddd;padding-bottom:8px}
h1{font-size:20px;margin:0;padding-top:12px}h2{font-size:17px;margin:0 0 4px}
.meta{color:#555;margin:4px 0}
#filters button{font:inherit;border:1px solid #aaa;background:#fff;border-radius:12px;padding:2px 10px;margin:2px;
cursor:pointer}#filters button.on{background:#1d1d1d;color:#fff;border-color:#1d1d1d}
table{border-collapse:collapse;width:100%;background:#fff;margin:12px 0}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0;white-space:nowrap}td.n,#fleet td:first-child,#fleet td:nth-child(2){white-space:nowrap}
td.n,td.r,th.n,th.r{text-align:right}.partial{color:#8a4b00;font-weight:600}
b.s{display:inline-block;border-radius:3px;padding:0 5px;color:#fff;font-weight:600;font-size:12px}
.s-critical{background:#b3261e}.s-warning{background:#b26a00}.s-info{background:#1a5fb4}.s-ok{background:#2e7d32}
.s-unknown{background:#666}
section.host{background:#fff;border:1px solid #ddd;border-radius:6px;margin:14px 0;padding:10px 14px}
.sum{margin:2px 0 6px}.facts{color:#444;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts figure{margin:0;flex:1 1 420px;min-width:320px}
figcaption{font-size:12px;color:#444}
svg{width:100%;height:auto;display:block}svg text{font:11px sans-serif;fill:#333}
.ln{fill:none;stroke:#1f4e99;stroke-width:2}.pt{fill:#1f4e99}.gr{stroke:#e6e6e6}
.lim{stroke:#b3261e;stroke-width:1.5;stroke-dasharray:6 4}.pj{stroke:#1f4e99;stroke-width:1.5;stroke-dasharray:2 3}
.ex{fill:none;stroke:#b3261e;stroke-width:2}.rb{stroke:#888;stroke-dasharray:3 3}
text.lt{fill:#b3261e}ul.lg{list-style:none;padding:0;margin:4px 0;font-size:12px;columns:2}
ul.lg i{display:inline-block;width:10px;height:10px;margin-right:4px}
ol.plan{margin:4px 0 4px 18px;padding:0}.conf{color:#555;font-size:12px;font-style:italic}
.capture{font-size:13px;margin:2px 0 6px}.capture ul{margin:2px 0 2px 18px;padding:0}details{font-size:13px;margin:4px 0}
table.f{font-size:13px;margin:6px 0}.none{color:#777;font-style:italic}
"""

_JS = """
(function(){var bar=document.getElementById('filters'),shown=document.getElementById('shown');
function apply(f){var n=0;document.querySelectorAll('tr[data-verdict],section[data-verdict]').forEach(function(el){
var hide=f!==''&&(f==='problems'?!el.classList.contains('bad'):el.getAttribute('data-verdict')!==f);
el.hidden=hide;if(!hide&&el.tagName==='TR'){n++;}});
bar.querySelectorAll('button').forEach(function(b){b.classList.toggle('on',b.getAttribute('data-f')===f);});
shown.textContent=String(n);}
bar.addEventListener('click',function(e){var b=e.target.closest('button');if(b){apply(b.getAttribute('data-f'));}});
})();
"""


def _e(value):
    return _html_escape("" if value is None else str(value), quote=True)


def _num(value):
    """Compact coordinate: one decimal, no trailing zero."""
    text = "%.1f" % value
    return text[:-2] if text.endswith(".0") else text


# -- samples and series --------------------------------------------------------------------------

def sample_points(snapshot):
    """[(hours, time text, boot id, {series: value})] oldest first, from the snapshot's samples.

    Reads both sample forms: the compact history sample of series.py
    (``{v, t, boot, s}``) and the Windows in-run sample (``{collected_at, boot_id,
    pools: {nonpaged_bytes, paged_bytes}, tags: {TAG: {...}}}``). Samples with an
    unreadable time are skipped.
    """
    points = []
    for sample in (snapshot or {}).get("samples") or []:
        if not isinstance(sample, dict):
            continue
        if "s" in sample:
            stamp, boot, values = sample.get("t"), sample.get("boot"), dict(sample.get("s") or {})
        else:
            stamp, boot, values = sample.get("collected_at"), sample.get("boot_id"), _windows_values(sample)
        try:
            hours = to_hours(stamp)
        except (AttributeError, TypeError, ValueError):
            continue
        points.append((hours, str(stamp), boot, values))
    points.sort(key=lambda p: p[0])
    return points


def _windows_values(sample):
    values = {}
    pools = sample.get("pools") or {}
    for pool in ("nonpaged", "paged"):
        if isinstance(pools.get(pool + "_bytes"), int):
            values["pool." + pool] = pools[pool + "_bytes"]
    for tag, counters in (sample.get("tags") or {}).items():
        if not isinstance(counters, dict):
            continue
        for short, pool in (("np", "nonpaged"), ("p", "paged")):
            if isinstance(counters.get(pool + "_bytes"), int):
                values["tag.%s:%s" % (short, tag)] = counters[pool + "_bytes"]
    return values


def _series_names(points):
    names = set()
    for point in points:
        names.update(point[3])
    return names


def _process_series(subject_name, culprit_name, names):
    """proc:<name>[<pid>] from a subject 'name (pid N)'; else the newest series of that process name."""
    text = subject_name or ""
    if text.endswith(")") and " (pid " in text:
        name, _sep, pid = text[:-1].rpartition(" (pid ")
        candidate = "proc:%s[%s]" % (name, pid)
        if candidate in names:
            return [candidate]
        culprit_name = culprit_name or name
    prefix = "proc:%s[" % (culprit_name or text)
    return sorted(n for n in names if n.startswith(prefix))[-1:]


def culprit_series(diagnosis, points, family=None):
    """Name of the series to draw for this host's verdict, or None when the samples hold none.

    ``family`` (linux, windows) chooses the fallback when the verdict has no culprit series.
    """
    names = _series_names(points)
    finding = headline_finding(diagnosis) or {}
    subject = finding.get("subject") or {}
    culprit = diagnosis.get("culprit") or {}
    kind = subject.get("kind") or culprit.get("kind")
    name = subject.get("name") or culprit.get("name") or ""
    verdict = (diagnosis.get("verdict") or {}).get("id")
    candidates = []
    if verdict == "commit_exhaustion":
        candidates = ["mem.commit_used"]
    elif kind == "process":
        candidates = _process_series(name, culprit.get("name"), names)
    elif kind == "slab_cache":
        candidates = ["slab:%s" % name, "ledger.slab_unreclaimable"]
    elif kind == "balloon":
        candidates = ["balloon", "ledger.balloon"]
    elif kind == "tmpfs":
        candidates = ["ledger.shmem", "tmpfs:%s" % name]
    elif kind == "hugepages":
        candidates = ["ledger.hugepages"]
    elif kind == "pool_tag":
        both = [n for n in ("tag.np:%s" % name, "tag.p:%s" % name) if n in names]
        candidates = sorted(both, key=lambda n: -(points[-1][3].get(n) or 0))
    elif kind == "kernel":
        lowered = name.lower()
        if "unaccounted" in lowered:
            candidates = ["ledger.unaccounted"]
        elif "paged pool" in lowered and not lowered.startswith("nonpaged"):
            candidates = ["pool.paged"]
        elif "pool" in lowered:
            candidates = ["pool.nonpaged"]
        elif "page cache" in lowered:
            candidates = ["ledger.page_cache"]
    candidates += ["mem.used"] if family != "windows" else ["pool.nonpaged", "mem.used"]
    for candidate in candidates:
        if candidate in names:
            return candidate
    return None


def pool_limit(snapshot, pool):
    """A Windows pool's limit: as reported, else the published maximum for the release, else None."""
    pools = ((snapshot or {}).get("windows") or {}).get("pools") or {}
    limit = (pools.get(pool) or {}).get("limit")
    if isinstance(limit, int) and limit > 0:
        return limit
    try:
        # Imported here: only Windows snapshots need the limit table.
        from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.pool_limits import limits_for_snapshot
        computed = limits_for_snapshot(snapshot)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    value = (computed or {}).get(pool)
    return value if isinstance(value, int) and value > 0 else None


def series_limit(name, snapshot, last_value):
    """(limit, label) for a series: the level at which it has used up what is left.

    A pool tag is drawn against its value plus the room left in its pool (pool limit
    minus pool usage), a pool total against the pool limit, the commit charge against
    the commit limit, anything else against its value plus MemAvailable: the same
    levels the diagnosis' time-to-exhaustion is measured against.
    """
    memory = (snapshot or {}).get("memory") or {}
    pools = ((snapshot or {}).get("windows") or {}).get("pools") or {}
    for prefix, pool in (("tag.np:", "nonpaged"), ("tag.p:", "paged")):
        if name.startswith(prefix) or name == "pool." + pool:
            limit = pool_limit(snapshot, pool)
            if not limit:
                return None, "%s pool limit" % pool
            if name.startswith("pool."):
                return limit, "%s pool limit" % pool
            used = (pools.get(pool) or {}).get("bytes")
            if not isinstance(used, int) or last_value is None:
                return None, "%s pool limit" % pool
            return last_value + max(0, limit - used), "%s pool full" % pool
    if name == "mem.commit_used":
        return memory.get("commit_limit"), "commit limit"
    available = memory.get("available")
    if isinstance(available, int) and last_value is not None:
        return last_value + available, "memory runs out (now + available)"
    return memory.get("total"), "RAM"


def _thin(points):
    """At most MAX_POINTS points, keeping the first and last and both sides of every reboot."""
    if len(points) <= MAX_POINTS:
        return points
    step = int(math.ceil(len(points) / float(MAX_POINTS - 2)))
    kept = []
    for index, point in enumerate(points):
        boundary = 0 < index < len(points) - 1 and (points[index - 1][2] != point[2] or points[index + 1][2] != point[2])
        if index % step == 0 or index == len(points) - 1 or boundary:
            kept.append(point)
    return kept


# -- SVG -------------------------------------------------------------------------------------------

def _colours(entries):
    """category -> ' class="kN"' for known categories; unknown ones take palette colours in ledger order."""
    out = {}
    spare = 0
    for entry in entries:
        category = entry["category"]
        if category in _KNOWN:
            out[category] = ' class="k%d"' % _KNOWN[category]
        elif category not in out:
            colour = _PALETTE[spare % len(_PALETTE)]
            spare += 1
            out[category] = ' fill="%s" style="background:%s"' % (colour, colour)
    return out


def ledger_svg(ledger):
    """The ledger as one stacked horizontal bar plus a legend; '' without a ledger.

    Categories under 1 % of the total share one grey segment (named in its tooltip);
    the host's JSON report has every number.
    """
    entries = [e for e in ledger or [] if isinstance(e, dict) and isinstance(e.get("bytes"), int) and e["bytes"] > 0]
    total = sum(e["bytes"] for e in entries)
    if not total:
        return ""
    colours = _colours(entries)
    big = [e for e in entries if e["bytes"] >= 0.01 * total]
    small = [e for e in entries if e["bytes"] < 0.01 * total]
    rects = []
    x = 0.0
    for entry in big:
        width = 1000.0 * entry["bytes"] / total
        rects.append('<rect%s x="%s" width="%s" height="24"><title>%s %s (%.1f %%)</title></rect>' % (
            colours[entry["category"]], _num(x), _num(width), _e(entry["category"]), human_bytes(entry["bytes"]),
            100.0 * entry["bytes"] / total))
        x += width
    if small:
        rest = sum(e["bytes"] for e in small)
        rects.append('<rect fill="#999" x="%s" width="%s" height="24"><title>%d under 1 %%: %s (%s)</title></rect>'
                     % (_num(x), _num(max(1000.0 * rest / total, 1.0)), len(small),
                        _e(", ".join(e["category"] for e in small)), human_bytes(rest)))
    ranked = sorted(big, key=lambda e: -e["bytes"])[:8]
    legend = "".join('<li><i%s></i>%s %s (%.0f %%)</li>' % (
        colours[e["category"]], _e(e["category"]), human_bytes(e["bytes"]), 100.0 * e["bytes"] / total)
        for e in ranked)
    if small:
        legend += '<li><i style="background:#999"></i>%d more under 1 %% each</li>' % len(small)
    return ('<figure><svg viewBox="0 0 1000 24" preserveAspectRatio="none" class="ledger" role="img" '
            'aria-label="memory ledger">%s</svg><figcaption>Memory ledger: where the %s are</figcaption>'
            '<ul class="lg">%s</ul></figure>' % ("".join(rects), human_bytes(total), legend))


def _short_time(text):
    return text.replace("T", " ")[:16]


def _y_range(values, limit):
    """(low, high, draw the limit): the y-axis always starts at zero, so that 1 % of growth looks like 1 %."""
    v_max = float(max(values)) or 1.0
    draw_limit = bool(limit) and limit <= LIMIT_OFF_SCALE * v_max
    high = max(v_max, float(limit)) if draw_limit else v_max
    return 0.0, high * 1.06, draw_limit


def trend_svg(points, name, limit=None, limit_label="limit", caption="", eta_hours=None):
    """Line chart of one series: [(hours, time text, boot, value)], breaks and a marker at each reboot.

    With ``eta_hours`` (and a limit on the chart) the time axis is stretched to the moment the
    series reaches the limit, when that lies within one more data span, and a dotted line shows it.
    """
    points = _thin([p for p in points if p[3] is not None])
    if len(points) < 2:
        return ""
    left, right, top, bottom = 70.0, 630.0, 22.0, 176.0
    low, high, draw_limit = _y_range([p[3] for p in points], limit)
    x_min, x_last = points[0][0], points[-1][0]
    span = (x_last - x_min) or 1.0
    project = draw_limit and eta_hours is not None and 0 < eta_hours <= span
    x_max = x_last + (eta_hours if project else 0.0)
    width = (x_max - x_min) or 1.0

    def sx(hours):
        return left + (right - left) * (hours - x_min) / width

    def sy(value):
        return bottom - (bottom - top) * (float(value) - low) / (high - low)

    parts = ['<svg viewBox="0 0 640 200" class="trend" role="img" aria-label="trend of %s">' % _e(name)]
    for value in (low, (low + high) / 2.0, high):
        y = sy(value)
        parts.append('<line class="gr" x1="%s" x2="%s" y1="%s" y2="%s"/><text x="%s" y="%s" text-anchor="end">%s'
                     '</text>' % (_num(left), _num(right), _num(y), _num(y), _num(left - 4), _num(y + 4),
                                  human_bytes(value)))
    segments = [[points[0]]]
    for previous, point in zip(points, points[1:]):
        if point[2] != previous[2]:
            x = (sx(previous[0]) + sx(point[0])) / 2.0
            parts.append('<line class="rb" x1="%s" x2="%s" y1="%s" y2="%s"/><text x="%s" y="%s" '
                         'text-anchor="middle">reboot</text>' % (_num(x), _num(x), _num(top), _num(bottom),
                                                                 _num(x), _num(top - 4)))
            segments.append([])
        segments[-1].append(point)
    for segment in segments:
        if len(segment) == 1:
            only = segment[0]
            parts.append('<circle class="pt" cx="%s" cy="%s" r="2.5"/>' % (_num(sx(only[0])), _num(sy(only[3]))))
        else:
            parts.append('<polyline class="ln" points="%s"/>' % " ".join(
                "%s,%s" % (_num(sx(p[0])), _num(sy(p[3]))) for p in segment))
    last = points[-1]
    parts.append('<circle class="pt" cx="%s" cy="%s" r="3"/>' % (_num(sx(last[0])), _num(sy(last[3]))))
    if draw_limit:
        y = sy(limit)
        parts.append('<line class="lim" x1="%s" x2="%s" y1="%s" y2="%s"/><text class="lt" x="%s" y="%s" '
                     'text-anchor="end">%s %s</text>'
                     % (_num(left), _num(right), _num(y), _num(y), _num(right), _num(y - 4), _e(limit_label),
                        human_bytes(limit)))
        if project:
            parts.append('<line class="pj" x1="%s" y1="%s" x2="%s" y2="%s"/><circle class="ex" cx="%s" cy="%s" '
                         'r="4"/>' % (_num(sx(last[0])), _num(sy(last[3])), _num(right), _num(y), _num(right),
                                      _num(y)))
    elif limit:
        parts.append('<text class="lt" x="%s" y="%s" text-anchor="end">%s %s: off scale &#8593;</text>' % (
            _num(right), _num(top - 8), _e(limit_label), human_bytes(limit)))
    parts.append('<text x="%s" y="194">%s</text><text x="%s" y="194" text-anchor="end">%s</text>' % (
        _num(left), _e(_short_time(points[0][1])), _num(right),
        "limit in %s" % eta_text(eta_hours) if project else _e(_short_time(last[1]))))
    parts.append("</svg>")
    return '<figure>%s<figcaption>%s</figcaption></figure>' % ("".join(parts), caption)


# -- page -------------------------------------------------------------------------------------------

def _badge(severity):
    severity = severity if severity in SEVERITIES else "unknown"
    return '<b class="s s-%s">%s</b>' % (severity, severity)


def _culprit_cell(row):
    culprit = row["culprit"]
    if culprit.get("kind") in (None, "none"):
        return "none"
    return subject_text(culprit["kind"], culprit.get("name") or "?")


def _owner(row):
    culprit = row["culprit"]
    return " ".join(x for x in (culprit.get("owner"), culprit.get("version")) if x)


def _facts(snapshot):
    snap = snapshot or {}
    os_info = snap.get("os") or {}
    virt = snap.get("virt") or {}
    memory = snap.get("memory") or {}
    parts = []
    name = " ".join(str(x) for x in (os_info.get("name"), os_info.get("version")) if x)
    if name:
        parts.append(name)
    if os_info.get("kernel") and os_info.get("family") != "windows":
        parts.append("kernel %s" % os_info["kernel"])
    if (virt.get("platform") and virt["platform"] != "unknown") or virt.get("container"):
        tools = virt.get("tools") if isinstance(virt.get("tools"), dict) else {}
        parts.append("%s%s" % (platform_text(virt), " (%s %s)" % (tools.get("name") or "tools", tools.get("version"))
                               if tools.get("version") else ""))
    if memory.get("total"):
        parts.append("RAM %s, available %s" % (human_bytes(memory["total"]), human_bytes(memory.get("available"))))
    pools = (snap.get("windows") or {}).get("pools") or {}
    for pool in ("nonpaged", "paged"):
        used = (pools.get(pool) or {}).get("bytes")
        if isinstance(used, int):
            limit = pool_limit(snap, pool)
            parts.append("%s pool %s%s" % (pool, human_bytes(used), " of %s (%.0f %%)" % (
                human_bytes(limit), 100.0 * used / limit) if limit else ""))
    if snap.get("source"):
        parts.append("source %s" % snap["source"])
    if snap.get("collected_at"):
        parts.append("read %s" % _short_time(str(snap["collected_at"])))
    return '<p class="facts">%s</p>' % _e(" · ".join(parts)) if parts else ""


def _findings_table(diagnosis):
    findings = [f for f in diagnosis.get("findings") or [] if isinstance(f, dict)][:FINDINGS_SHOWN]
    if not findings:
        return ""
    rows = []
    for item in findings:
        subject = item.get("subject") or {}
        growth = item.get("growth") if isinstance(item.get("growth"), dict) else {}
        rows.append('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="n">%s</td><td class="n">%s</td>'
                    '<td class="n">%s</td></tr>' % (
                        _e(item.get("id")), _badge(item.get("severity")), _e(item.get("confidence") or ""),
                        _e(subject_text(subject.get("kind"), subject.get("name"))),
                        human_bytes(item.get("bytes")), rate_text(growth.get("bytes_per_hour")),
                        eta_text(item.get("exhaustion_eta_hours"))))
    return ('<table class="f"><thead><tr><th>finding</th><th>severity</th><th>confidence</th><th>subject</th>'
            '<th class="n">bytes</th><th class="n">growth</th><th class="n">runs out in</th></tr></thead>'
            '<tbody>%s</tbody></table>' % "".join(rows))


def _plan(diagnosis):
    steps = [s for s in diagnosis.get("plan") or [] if isinstance(s, dict)]
    if not steps:
        return ""
    return '<ol class="plan">%s</ol>' % "".join(
        '<li><b>%s</b>%s: %s</li>' % (_e(s.get("step")), " (%s)" % _e(step_target_text(s.get("step"), s["target"]))
                                      if s.get("target") else "", _e(s.get("reason"))) for s in steps)


def _details(title, lines, limit):
    lines = [line for line in lines or [] if isinstance(line, str)]
    if not lines:
        return ""
    more = len(lines) - limit
    return "<details><summary>%s (%d)</summary><ul>%s%s</ul></details>" % (
        title, len(lines), "".join("<li>%s</li>" % _e(line) for line in lines[:limit]),
        "<li>... %d more in the host's JSON report</li>" % more if more > 0 else "")


def _trend(diagnosis, snapshot, row):
    points = sample_points(snapshot)
    if not points:
        return '<p class="none">No samples: the trend needs the host history or in-run samples.</p>'
    name = culprit_series(diagnosis, points, ((snapshot or {}).get("os") or {}).get("family"))
    if name is None:
        return '<p class="none">No series for %s in the samples.</p>' % _e(row["culprit_text"])
    series = [(p[0], p[1], p[2], p[3].get(name)) for p in points if p[3].get(name) is not None]
    if len(series) < 2:
        return '<p class="none">%s: one sample so far, no trend yet.</p>' % _e(name)
    limit, label = series_limit(name, snapshot, series[-1][3])
    caption = "%s, %d samples" % (_e(name), len(series))
    boots = len(set(p[2] for p in series))
    if boots > 1:
        caption += ", %d boots" % boots
    if row["growth_bytes_per_hour"] is not None:
        caption += "; grows %s" % rate_text(row["growth_bytes_per_hour"])
    if row["exhaustion_eta_hours"] is not None:
        caption += "; runs out in about %s" % eta_text(row["exhaustion_eta_hours"])
    return trend_svg(series, name, limit, label, caption, row["exhaustion_eta_hours"])


def _confidence(row):
    """'likely' after the verdict; nothing for a diagnosis from before confidences."""
    return ' <span class="conf">%s</span>' % _e(row["confidence"]) if row.get("confidence") else ""


def _capture(row):
    """What to capture next, as commands an operator can paste."""
    missing = row.get("missing") or []
    if not missing:
        return ""
    return '<div class="capture"><b>Capture next</b><ul>%s</ul></div>' % "".join(
        "<li><code>%s</code>: %s</li>" % (_e(m.get("command")), _e(m.get("what"))) for m in missing)


def _section(index, row, diagnosis, snapshot):
    bad = " bad" if row["severity"] in UNHEALTHY else ""
    finding = headline_finding(diagnosis) or {}
    warnings = (snapshot or {}).get("warnings") or []
    partial = partial_text(snapshot)
    return ('<section class="host%s" id="h%d" data-verdict="%s"><h2>%s %s %s%s</h2><p class="sum">%s</p>%s%s%s'
            '<div class="charts">%s%s</div>%s%s%s%s</section>' % (
                bad, index, _e(row["verdict"]), _e(row["host"]), _badge(row["severity"]), _e(row["verdict"]),
                _confidence(row), _e(row["summary"]),
                '<p class="partial">%s</p>' % _e(partial[:1].upper() + partial[1:]) if partial else "",
                _capture(row), _facts(snapshot), ledger_svg(diagnosis.get("ledger")),
                _trend(diagnosis, snapshot, row), _findings_table(diagnosis), _plan(diagnosis),
                _details("Evidence", finding.get("evidence"), EVIDENCE_LINES),
                _details("Warnings", warnings, WARNINGS_SHOWN)))


def _snapshot_map(snapshots):
    if isinstance(snapshots, dict):
        if "schema" in snapshots and "host" in snapshots:
            return {snapshots.get("host"): snapshots}
        return dict(snapshots)
    return dict((s.get("host"), s) for s in snapshots or [] if isinstance(s, dict))


def render_index(diagnoses, snapshots=None, missing=None, title="Memory diagnosis", generated_at=None):
    """The whole index.html as text.

    ``diagnoses``: list of memleak_diagnosis; ``snapshots``: the matching
    memleak_snapshot list or {host: snapshot} (optional: without it, no trend
    and no host facts); ``missing``: {host: reason} for hosts not diagnosed.
    """
    diagnoses = [d for d in diagnoses or [] if isinstance(d, dict)]
    by_host = dict((d.get("host"), d) for d in diagnoses)
    snaps = _snapshot_map(snapshots)
    missing = missing or {}
    rows = fleet_rows(diagnoses)

    counts = {}
    for row in rows:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    severities = dict((s, sum(1 for r in rows if r["severity"] == s)) for s in SEVERITIES)
    problems = sum(1 for r in rows if r["severity"] in UNHEALTHY)
    total = len(rows) + len(missing)

    buttons = ['<button type="button" data-f="" class="on">all (%d)</button>' % total,
               '<button type="button" data-f="problems">problems (%d)</button>' % problems]
    worst = {}
    for row in rows:
        rank = severity_rank(row["severity"])
        worst[row["verdict"]] = max(rank, worst.get(row["verdict"], -1))
    order = sorted(counts, key=lambda v: (-worst[v], str(v)))
    buttons += ['<button type="button" data-f="%s">%s (%d)</button>' % (_e(v), _e(v), counts[v]) for v in order]
    if missing:
        buttons.append('<button type="button" data-f="%s">not diagnosed (%d)</button>' % (NOT_DIAGNOSED,
                                                                                          len(missing)))

    table = []
    sections = []
    for index, row in enumerate(rows, 1):
        bad = ' class="bad"' if row["severity"] in UNHEALTHY else ""
        table.append(
            '<tr data-verdict="%s"%s><td><a href="#h%d">%s</a></td><td>%s %s%s</td><td>%s</td><td>%s</td>'
            '<td class="r">%s</td><td class="n">%s</td><td class="n">%s</td><td>%s</td></tr>' % (
                _e(row["verdict"]), bad, index, _e(row["host"]), _badge(row["severity"]), _e(row["verdict"]),
                _confidence(row),
                _e(_culprit_cell(row)), _e(_owner(row)), _e(row["biggest_text"]),
                rate_text(row["growth_bytes_per_hour"]), eta_text(row["exhaustion_eta_hours"]),
                _e(row["next_text"])))
        sections.append(_section(index, row, by_host.get(row["host"]) or {}, snaps.get(row["host"])))
    for host in sorted(missing, key=str):
        table.append('<tr data-verdict="%s" class="bad"><td>%s</td><td>%s not diagnosed</td><td colspan="5">%s'
                     '</td><td>fix access, run again</td></tr>' % (NOT_DIAGNOSED, _e(host), _badge(None),
                                                                   _e(missing[host])))

    overview = " · ".join("%s %d" % (s, severities[s]) for s in reversed(SEVERITIES) if severities[s])
    if missing:
        overview += " · not diagnosed %d" % len(missing)
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<link rel="icon" href="data:,"><title>%s</title><style>%s%s</style></head><body>' % (_e(title), _CSS, _LEDGER_CSS),
        '<header><h1>%s</h1><p class="meta">%d host(s)%s%s · showing <span id="shown">%d</span></p>' % (
            _e(title), total, " · generated %s" % _e(_short_time(str(generated_at))) if generated_at else "",
            " · " + overview if overview else "", total),
        '<nav id="filters">%s</nav></header><main>' % "".join(buttons),
        '<table id="fleet"><thead><tr><th>host</th><th>verdict</th><th>culprit</th><th>owner / version</th>'
        '<th class="r">biggest consumer</th><th class="n">growth</th><th class="n">runs out in</th><th>next step</th>'
        '</tr></thead><tbody>',
        "".join(table), "</tbody></table>", "".join(sections),
        "</main><script>%s</script></body></html>\n" % _JS,
    ])

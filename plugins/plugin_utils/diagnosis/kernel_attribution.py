# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name the kernel's culprit: which call site, in which module, holds the kernel's memory.

``unaccounted_kernel`` says memory is missing from every counter and ``slab_growth`` names a
cache; neither says who allocates. Where the snapshot carries the kernel's own accounting
(``linux.kernel_sources``: /proc/allocinfo, a bpftrace trace, kmemleak, page_owner,
/proc/vmallocinfo), this stage adds to those findings the top call sites with their bytes and
share, their growth across the history samples, and makes the module (with its version) or
the call site the culprit. When no source exists it says so and how to turn one on, with the
cost of each. Pure: snapshot and diagnosis in, diagnosis out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.memleak.remediation.plugins.module_utils import series as _series
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import human_bytes

FINDINGS = ("unaccounted_kernel", "slab_growth")
TOP = 5
# One site (or module) holding at least this share of the finding's bytes names the culprit "likely".
DOMINANT_SHARE = 0.5
# A site whose growth over the history is at least this share of the finding's growth is "proven"
# when the fit over the samples is sustained growth.
_SOURCES = (  # (key, label, list key, what the bytes mean)
    ("allocinfo", "/proc/allocinfo", "sites", "bytes allocated now"),
    ("trace", "bpftrace trace", "sites", "bytes allocated during the trace and not freed"),
    ("kmemleak", "kmemleak", "sites", "bytes in objects no pointer refers to"),
    ("page_owner", "page_owner", "sites", "bytes in pages allocated there"),
    ("vmallocinfo", "/proc/vmallocinfo", "callers", "vmalloc bytes"),
)

ENABLE = (
    {"what": "kernel allocation call sites (/proc/allocinfo)",
     "command": "sysctl vm.mem_profiling=1; cat /proc/allocinfo",
     "how": "Linux 6.10+ built with CONFIG_MEM_ALLOC_PROFILING (boot with sysctl.vm.mem_profiling=1 to count "
            "from boot); the kernel documents it as low overhead, suitable for production "
            "(https://docs.kernel.org/mm/allocation-profiling.html)"},
    {"what": "kernel allocations traced for a while (bpftrace)",
     "command": "meminfo_facts with trace_seconds: 60 (become: true; apt-get/dnf install bpftrace)",
     "how": "any kernel with the kmem tracepoints (RHEL 8/9, Ubuntu LTS, Debian); costs CPU on every "
            "allocation while it runs, nothing after (docs/kernel-attribution.md)"},
    {"what": "leaked kernel objects (kmemleak)",
     "command": "cat /sys/kernel/debug/kmemleak (meminfo_facts scan_kmemleak: true to scan first)",
     "how": "a kernel built with CONFIG_DEBUG_KMEMLEAK (debug kernels; kmemleak=on at boot where it is "
            "off by default): a debugging option with large memory and CPU overhead, not for production "
            "(https://docs.kernel.org/dev-tools/kmemleak.html)"},
    {"what": "page allocations by stack (page_owner)",
     "command": "cat /sys/kernel/debug/page_owner > page_owner.txt; page_owner_sort -m page_owner.txt sorted.txt",
     "how": "CONFIG_PAGE_OWNER and the boot option page_owner=on: a stack record for every page, memory "
            "overhead per page (https://docs.kernel.org/mm/page_owner.html)"},
)


def _pct(part, whole):
    return 100.0 * part / whole if whole else 0.0


def _label(site):
    text = site.get("site") or "?"
    if site.get("func") and site.get("func") != text:
        text += " func:%s" % site["func"]
    if site.get("module"):
        text += " [%s]" % site["module"]
    return text


def _sources(snapshot):
    """[(key, label, meaning, sites, data)] of the call-site sources the snapshot holds, best first."""
    linux = snapshot.get("linux") if isinstance(snapshot.get("linux"), dict) else {}
    kernel = linux.get("kernel_sources") if isinstance(linux.get("kernel_sources"), dict) else {}
    out = []
    for key, label, list_key, meaning in _SOURCES:
        data = kernel.get(key)
        if not isinstance(data, dict):
            continue
        sites = [s for s in data.get(list_key) or [] if isinstance(s, dict) and isinstance(s.get("bytes"), int)
                 and not isinstance(s.get("bytes"), bool) and s["bytes"] > 0]
        sites.sort(key=lambda s: (-s["bytes"], str(s.get("site"))))
        out.append((key, label, meaning, sites, data))
    return out


def _module_versions(snapshot):
    linux = snapshot.get("linux") if isinstance(snapshot.get("linux"), dict) else {}
    kernel = linux.get("kernel_sources") if isinstance(linux.get("kernel_sources"), dict) else {}
    out = {}
    for module in kernel.get("modules") or []:
        if isinstance(module, dict) and module.get("name"):
            out[module["name"]] = module
    return out


def _growth(snapshot, site):
    """The fit of one allocinfo site over the history samples of this boot, or None."""
    table = _series.SeriesTable(snapshot.get("samples") or [], trend.to_hours, boot=snapshot.get("boot_id") or None)
    points = table.points(_series.key("kernel_site", site))
    if len(points) < 2:
        return None
    return trend.fit(points)


def _module_totals(sites):
    totals = {}
    for site in sites:
        if site.get("module"):
            totals[site["module"]] = totals.get(site["module"], 0) + site["bytes"]
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def _attribute(snapshot, finding, sources, modules):
    """Evidence lines, the attribution dict and the culprit for one finding."""
    whole = finding.get("bytes") or 0
    what = "the unaccounted memory" if finding.get("id") == "unaccounted_kernel" else "the slab memory"
    lines = []
    best = None
    for key, label, meaning, sites, data in sources:
        if not sites:
            lines.append("%s read: no call site holds memory" % label)
            continue
        top = sites[:TOP]
        lines.append("%s (%s): %s" % (label, meaning, "; ".join(
            "%s %s (%.1f %% of %s)" % (_label(s), human_bytes(s["bytes"]), _pct(s["bytes"], whole), what)
            for s in top)))
        totals = _module_totals(sites)
        if totals:
            lines.append("%s by module: %s" % (label, ", ".join(
                "%s %s (%.1f %%)" % (name, human_bytes(nbytes), _pct(nbytes, whole)) for name, nbytes in totals[:TOP])))
        if key == "trace":
            lines.append("trace: %s s, %s events, bpftrace CPU %s s" % (
                data.get("seconds"), data.get("events"), data.get("cpu_seconds")))
        if key == "kmemleak":
            lines.append("kmemleak: %s unreferenced objects, %s" % (data.get("objects"), human_bytes(data.get("bytes") or 0)))
        if best is None and key != "vmallocinfo":
            best = (key, label, sites, totals)
    if best is None and sources:
        key, label, meaning, sites, data = sources[-1]
        if sites:
            best = (key, label, sites, _module_totals(sites))
    if best is None:
        return lines, None, None
    key, label, sites, totals = best
    site = sites[0]
    module = site.get("module")
    module_bytes = dict(totals).get(module, 0) if module else 0
    if not module and totals and totals[0][1] >= DOMINANT_SHARE * whole:
        module, module_bytes = totals[0]
    growth = None
    confidence = "suspected"
    if key == "allocinfo":
        fit = _growth(snapshot, site["site"])
        if fit is not None:
            growth = {"bytes_per_hour": int(round(fit["bytes_per_hour"])), "samples": fit["samples"],
                      "span_hours": round(fit["span_hours"], 3), "leaking": fit["leaking"]}
            lines.append("growth of %s: %s/h over %d samples in %.1f h (%s)" % (
                _label(site), human_bytes(fit["bytes_per_hour"]), fit["samples"], fit["span_hours"], fit["reason"]))
        else:
            lines.append("growth of %s unknown: one sample of it; run again later (history) to see it grow"
                         % _label(site))
    share = _pct(site["bytes"], whole) / 100.0
    held = max(site["bytes"], module_bytes)
    if growth and growth["leaking"]:
        confidence = "proven"
    elif whole and held >= DOMINANT_SHARE * whole and key != "trace":
        confidence = "likely"
    version = (modules.get(module) or {}).get("version") if module else None
    taint = (modules.get(module) or {}).get("taint") if module else None
    if module and module in modules:
        lines.append("module %s: version %s%s, %s bytes of code" % (
            module, version or "unknown (no /sys/module/%s/version)" % module,
            ", taint %s (%s)" % (taint, ", ".join(modules[module].get("taint_meaning") or [])) if taint else "",
            modules[module].get("size")))
    lines.append("attribution confidence: %s (%s)" % (confidence, {
        "proven": "the site kept growing over the history samples",
        "likely": "one snapshot, the site or its module holds most of %s" % what,
        "suspected": "the site holds only part of %s, or it was seen over a short trace" % what}[confidence]))
    attribution = {
        "source": key,
        "sites": [dict((k, s.get(k)) for k in ("site", "func", "module", "bytes")) for s in sites[:TOP]],
        "site": site.get("site"), "func": site.get("func"), "module": module, "module_version": version,
        "module_taint": taint, "bytes": site["bytes"], "share": round(share, 4), "growth": growth,
        "confidence": confidence,
    }
    if module:
        culprit = {"kind": "kernel_module", "name": module, "owner": None, "version": version,
                   "site": _label(site)}
    else:
        culprit = {"kind": "kernel", "name": site.get("func") or site.get("site"), "owner": None,
                   "version": (snapshot.get("os") or {}).get("kernel"), "site": _label(site)}
    return lines, attribution, culprit


def _no_source_lines(snapshot):
    lines = ["kernel call sites unknown: the snapshot holds no /proc/allocinfo, trace, kmemleak or page_owner, "
             "so the allocating code cannot be named. To capture one:"]
    lines.extend("- %s: %s; %s" % (item["what"], item["command"], item["how"]) for item in ENABLE)
    return lines


def _plan_step(attribution, culprit, what):
    where = culprit.get("site")
    if culprit["kind"] == "kernel_module":
        taint = attribution.get("module_taint") or ""
        version = culprit.get("version") or "version unknown"
        if "O" in taint or "P" in taint:
            return {"step": "escalate", "target": "%s vendor (%s %s)" % (culprit["name"], culprit["name"], version),
                    "reason": "%s in module %s (%s, out-of-tree) holds %s of %s: ask its vendor for a fixed "
                              "version; unloading the module (modprobe -r %s) frees it." % (
                                  where, culprit["name"], version, human_bytes(attribution["bytes"]), what,
                                  culprit["name"])}
        return {"step": "patch_os", "target": "%s (%s)" % (culprit["name"], version),
                "reason": "%s in module %s (%s) holds %s of %s: update the kernel package that ships it; "
                          "unloading the module (modprobe -r %s) frees it meanwhile." % (
                              where, culprit["name"], version, human_bytes(attribution["bytes"]), what,
                              culprit["name"])}
    return {"step": "patch_os", "target": culprit.get("version") or "the running kernel",
            "reason": "%s holds %s of %s: update the kernel; give the OS vendor this call site." % (
                where, human_bytes(attribution["bytes"]), what)}


def attribute(snapshot, diagnosis):
    """``diagnosis`` with kernel call-site attribution added to its unaccounted/slab findings.

    The verdict's culprit becomes the module (kind ``kernel_module``, with ``version`` and
    ``site``) or the kernel call site when the verdict is one of those findings; its plan
    gains the matching first step. ``missing`` lists how to capture a source when none exists.
    """
    if not isinstance(snapshot, dict) or not isinstance(diagnosis, dict):
        return diagnosis
    findings = [f for f in diagnosis.get("findings") or [] if isinstance(f, dict) and f.get("id") in FINDINGS]
    if not findings:
        return diagnosis
    sources = _sources(snapshot)
    modules = _module_versions(snapshot)
    verdict_id = (diagnosis.get("verdict") or {}).get("id")
    for finding in findings:
        evidence = finding.setdefault("evidence", [])
        lines, attribution, culprit = _attribute(snapshot, finding, sources, modules) if sources else ([], None, None)
        evidence.extend(lines)
        if not [s for s in sources if s[0] != "vmallocinfo"]:
            evidence.extend(_no_source_lines(snapshot))
            # ``missing`` ({what, command}) belongs to the diagnosis rules; add to it where it exists.
            missing = diagnosis.get("missing") if isinstance(diagnosis.get("missing"), list) else []
            for item in ENABLE[:2]:
                entry = {"what": item["what"], "command": item["command"]}
                if entry not in missing:
                    missing.append(entry)
            if attribution is not None and attribution["confidence"] != "likely":
                attribution = None  # vmalloc alone names a culprit only when it holds most of the memory
        if attribution is None:
            continue
        finding["attribution"] = attribution
        if finding.get("id") != verdict_id or finding is not _verdict_finding(diagnosis, verdict_id):
            continue
        diagnosis["culprit"] = culprit
        what = "the unaccounted memory" if verdict_id == "unaccounted_kernel" else "the slab memory"
        step = _plan_step(attribution, culprit, what)
        old = [s for s in diagnosis.get("plan") or [] if isinstance(s, dict) and s.get("step") != step["step"]]
        diagnosis["plan"] = [step] + old
        verdict = diagnosis.get("verdict")
        if isinstance(verdict, dict) and verdict.get("summary"):
            verdict["summary"] = "%s Call site %s holds %s (%.0f %%; %s)." % (
                verdict["summary"].rstrip(), culprit["site"], human_bytes(attribution["bytes"]),
                100.0 * attribution["share"], attribution["confidence"])
    return diagnosis


def _verdict_finding(diagnosis, verdict_id):
    """The finding the verdict stands for: the first (highest ranked) one with its id."""
    for finding in diagnosis.get("findings") or []:
        if isinstance(finding, dict) and finding.get("id") == verdict_id:
            return finding
    return None

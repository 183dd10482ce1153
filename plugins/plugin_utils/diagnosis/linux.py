# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux diagnosis: a snapshot (and its memory ledger) in, one memleak_diagnosis out.

The diagnosis follows docs/architecture.md (Data contracts, schema 1). It is pure: no I/O, no
clock, the same snapshot always gives the same diagnosis.

How one verdict is chosen for a host
------------------------------------
1. Every check looks at one kind of memory and, when it is above its
   threshold (``OPTIONS``), adds a *finding*: the verdict id it stands for, its
   subject, its bytes, its share of MemTotal and evidence lines with the
   numbers an administrator can check against /proc/meminfo.
2. Findings of severity ``warning`` or ``critical`` are abnormal. The verdict
   is the abnormal finding with the highest severity; among equal severities
   the one holding the most bytes wins: the biggest problem is named first,
   the others stay in ``findings``.
3. Without an abnormal finding the verdict is ``page_cache`` when "used"
   memory is mostly reclaimable cache, otherwise ``healthy``.

A finding is ``critical`` instead of ``warning`` when the host is also short of
memory (MemAvailable below ``critical_available_share`` of MemTotal).

Growth: a check names the history series behind its finding (``series``);
the trend stage fits that series over the snapshot's ``samples`` (host history
plus in-run samples, current boot only) and fills ``growth`` and
``exhaustion_eta_hours`` (hours until MemAvailable is used up at that rate).
A series that grows significantly without being large yet becomes a finding of
its own, so a leak is named before it is big. With one sample the snapshot
rules stand alone and the evidence says that growth is unproven; a large
process that is proven stable is a working set, not a leak, and drops to
``info``. ``kb`` is filled by the knowledge base stage the same way.

Growth raises severity or gives an ETA only when trend.fit proves it (a
minimum span, above the series' noise, ETA no further than a few times the
span); otherwise the evidence says "rising, not proven yet".

Evidence and confidence (docs/data-contracts.md): every finding and the
verdict carry ``confidence`` (proven, likely, suspected) and ``missing``
({what, command}: the captures that would settle what is unknown). A fact is
absent only when the artifact that shows it was captured (``captured``): a
balloon is "not loaded" only when a module list was read, else its state is
unknown. A snapshot without a complete /proc/meminfo (a lone slabtop, ps
listing, ``free`` or OOM report) has no ledger; its listings are judged by
dominance (one cache or process holding most of what is listed and several
times the next one). A slab cache the kernel reclaims under pressure
(knowledge base ``reclaimable``) is ``info`` by its size alone and a leak only
when its growth is proven.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.thresholds import resolve as resolve_thresholds
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import (
    CATEGORY_NAMES, LedgerError, build_ledger, kb_text)
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import human_bytes
from ansible_collections.memleak.remediation.plugins.module_utils.schema import (
    DIAGNOSIS_SCHEMA, SEVERITIES, VERDICTS)
from ansible_collections.memleak.remediation.plugins.module_utils import series as _series
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import evidence as evidence_mod
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import kernel_attribution
from ansible_collections.memleak.remediation.plugins.plugin_utils.knowledge import base as knowledge

MIB = 1024 * 1024

# (name, default, kind, meaning). kind "share" is a fraction of MemTotal (0..1)
# unless the meaning says otherwise; kind "bytes" is a size in bytes.
OPTIONS = (
    ("unaccounted_share", 0.20, "share",
     "memory missing from every kernel counter, as a share of MemTotal, that is abnormal"),
    ("unaccounted_min_bytes", 512 * MIB, "bytes", "and at least this much of it"),
    ("balloon_share", 0.10, "share", "a balloon holding this share of the VM's memory is reported"),
    ("balloon_min_bytes", 256 * MIB, "bytes", "and at least this much"),
    ("slab_cache_share", 0.10, "share", "one slab cache holding this share of MemTotal is abnormal"),
    ("slab_unreclaimable_share", 0.20, "share", "SUnreclaim holding this share of MemTotal is abnormal"),
    ("slab_min_bytes", 256 * MIB, "bytes", "and at least this much"),
    ("process_share", 0.25, "share", "one process (PSS, else RSS) holding this share of MemTotal is abnormal"),
    ("process_min_bytes", 256 * MIB, "bytes", "and at least this much"),
    ("shmem_share", 0.20, "share", "Shmem (tmpfs, /dev/shm, SysV, memfd) holding this share of MemTotal"),
    ("shmem_min_bytes", 256 * MIB, "bytes", "and at least this much"),
    ("deleted_open_min_bytes", 128 * MIB, "bytes",
     "a deleted file on tmpfs still held open by a process, at least this large"),
    ("hugepages_free_share", 0.50, "share",
     "share of the default-size huge page pool that is neither used nor reserved (of the pool)"),
    ("hugepages_min_bytes", 256 * MIB, "bytes", "and at least this much unused"),
    ("page_cache_used_share", 0.80, "share", "MemTotal - MemFree above this share looks 'used'"),
    ("page_cache_reclaimable_share", 0.50, "share",
     "page_cache verdict when at least this share of that 'used' memory is reclaimable (of used)"),
    ("critical_available_share", 0.05, "share",
     "findings become critical when MemAvailable is below this share of MemTotal"),
    ("critical_eta_hours", 72, "hours",
     "a growing finding becomes critical when memory runs out sooner than this at its rate"),
    ("trend_min_samples", trend.DEFAULTS["min_samples"], "count",
     "samples of the current boot the trend needs before it calls a series growing or stable"),
    ("trend_min_span_hours", trend.DEFAULTS["min_span_hours"], "hours",
     "growth is proven (raises severity, gives an ETA) only over at least this span; shorter is 'rising, not proven yet'"),
    ("trend_noise_factor", trend.DEFAULTS["noise_factor"], "factor",
     "proven growth must rise this many times the scatter of its series around the fit"),
    ("trend_min_growth_share", trend.DEFAULTS["min_growth_share"], "share",
     "proven growth must add at least this share of what the series could still take (itself + MemAvailable)"),
    ("trend_eta_span_factor", trend.DEFAULTS["eta_span_factor"], "factor",
     "no exhaustion ETA further ahead than this many times the observed span"),
    ("dominance_share", 0.50, "share",
     "one slab cache or process holding this share of all slab / listed process memory dominates it (of that whole)"),
    ("dominance_ratio", 3.0, "factor", "and at least this many times the next one"),
)
DEFAULTS = dict((option[0], option[1]) for option in OPTIONS)

_ABNORMAL = ("warning", "critical")


class DiagnosisError(ValueError):
    """Input the diagnosis cannot work with (not a Linux snapshot, bad option, bad ledger)."""


def resolve_options(options=None):
    """DEFAULTS overridden by ``options``; numbers may come as strings (extra vars)."""
    return resolve_thresholds(options, OPTIONS, DiagnosisError)


def _pct(part, whole):
    return 100.0 * part / whole if whole else 0.0


def _size(value, total):
    """'5316880 kB (5.1 GiB, 66.5 % of MemTotal)'; without a known MemTotal, no share."""
    if not total:
        return "%s (%s; MemTotal not captured)" % (kb_text(value), human_bytes(value))
    return "%s (%s, %.1f %% of MemTotal)" % (kb_text(value), human_bytes(value), _pct(value, total))


def _share(value, total):
    return value / float(total) if total else None


def _over(value, share, minimum, total):
    """At least ``minimum`` and ``share`` of MemTotal; with MemTotal unknown only the size can be judged."""
    return value is not None and value >= minimum and (not total or value >= share * total)


def _dominant(items, size, opts):
    """(item, share of the whole, next item) when the largest of ``items`` dominates them, else None.

    Dominance needs no MemTotal: the largest holds ``dominance_share`` of everything listed and
    ``dominance_ratio`` times the next one (a lone item dominates its list)."""
    ranked = sorted([i for i in items if isinstance(size(i), int)], key=size, reverse=True)
    whole = sum(size(i) for i in ranked)
    if not ranked or not whole:
        return None
    top = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    if size(top) < opts["dominance_share"] * whole:
        return None
    if second is not None and size(top) < opts["dominance_ratio"] * max(size(second), 1):
        return None
    return top, size(top) / float(whole), second


class _Found(object):
    """One finding plus what it means if it becomes the verdict."""

    def __init__(self, fid, subject, nbytes, share, evidence, culprit, plan, summary, severity=None, series=None,
                 confidence="likely", missing=None):
        self.series = series
        self.finding = {
            "id": fid,
            "severity": severity or VERDICTS[fid],
            "subject": subject,
            "bytes": int(nbytes),
            "share": round(share, 4) if share is not None else None,
            "growth": None,
            "exhaustion_eta_hours": None,
            "evidence": evidence,
            "kb": None,
            "confidence": confidence,
            "missing": list(missing or []),
        }
        self.culprit = culprit
        self.plan = plan
        self.summary = summary

    @property
    def rank(self):
        return SEVERITIES.index(self.finding["severity"]), self.finding["bytes"]


def _culprit(kind, name, owner=None, version=None):
    return {"kind": kind, "name": name, "owner": owner, "version": version}


def _step(step, reason, target=None):
    return {"step": step, "reason": reason, "target": target}


class _Context(object):
    """What every check needs: the snapshot's parts, the ledger by category, the options."""

    def __init__(self, snapshot, entries, details, opts):
        self.snap = snapshot
        self.linux = snapshot.get("linux") or {}
        self.mi = self.linux.get("meminfo") or {}
        self.total = details["total"]
        self.ledger = dict((e["category"], e["bytes"]) for e in entries)
        self.details = details
        self.opts = opts
        self.virt = snapshot.get("virt") or {}
        self.kernel = (snapshot.get("os") or {}).get("kernel")
        self.warnings = [w for w in (snapshot.get("warnings") or []) if isinstance(w, str)]
        self.evidence = evidence_mod.Evidence(snapshot)

    def cat(self, name):
        if name in self.ledger or not self.details.get("partial"):
            return self.ledger.get(name, 0)
        mi = self.mi  # no ledger (partial meminfo or free alone): the categories read directly
        direct = {"shmem": mi.get("Shmem"), "slab_reclaimable": mi.get("SReclaimable"),
                  "slab_unreclaimable": mi.get("SUnreclaim"), "free": mi.get("MemFree")}
        if name == "page_cache" and ("Cached" in mi or "Buffers" in mi):
            return max(0, (mi.get("Cached") or 0) + (mi.get("Buffers") or 0) - (mi.get("Shmem") or 0))
        return direct.get(name) or 0

    def warned(self, *labels):
        """Snapshot warnings about one part ("slabinfo: ...", "processes: ..."), by their label."""
        return [w for w in self.warnings if w.lower().startswith(labels)]

    def available(self):
        if "MemAvailable" in self.mi:
            return self.mi["MemAvailable"], "MemAvailable"
        if self.details.get("partial") and isinstance((self.snap.get("memory") or {}).get("available"), int):
            return self.snap["memory"]["available"], "available"
        if self.details.get("partial") and "MemFree" not in self.mi:
            return None, "MemAvailable not captured"
        value = self.mi.get("MemFree", 0) + self.cat("page_cache") + self.cat("slab_reclaimable")
        return value, "MemFree + page cache + SReclaimable (no MemAvailable line)"


# -- balloon and unaccounted memory -------------------------------------------------------

# Where an administrator reads the balloon size inside the guest, per driver.
_BALLOON_CHECK = {
    "vmw_balloon": "`vmware-toolbox-cmd stat balloon` or /sys/kernel/debug/vmmemctl",
    "vmware_balloon": "`vmware-toolbox-cmd stat balloon` or /sys/kernel/debug/vmmemctl",
    "vmmemctl": "`vmware-toolbox-cmd stat balloon` or /proc/vmmemctl",
    "virtio_balloon": "/sys/kernel/debug/virtio-balloon or `virsh dommemstat` on the host",
    "hv_balloon": "/sys/kernel/debug/hv-balloon",
}


# The one command that reads the balloon size, per driver (the capture to ask for).
_BALLOON_COMMAND = {
    "vmw_balloon": "vmware-toolbox-cmd stat balloon",
    "vmware_balloon": "vmware-toolbox-cmd stat balloon",
    "vmmemctl": "vmware-toolbox-cmd stat balloon",
    "virtio_balloon": "cat /sys/kernel/debug/virtio-balloon",
    "hv_balloon": "cat /sys/kernel/debug/hv-balloon",
}


def _balloon_owner(ctx):
    platform = ctx.virt.get("platform")
    return {"vmware": "VMware", "kvm": "KVM", "hyperv": "Hyper-V", "xen": "Xen"}.get(platform)


def _balloon_plan(ctx, driver, nbytes):
    owner = _balloon_owner(ctx) or "hypervisor"
    return [_step("escalate", "The %s host took back %s through %s: the host is overcommitted or this VM has a "
                  "memory limit. Ask the virtualization owner to check the VM's limit/reservation and the host's "
                  "memory; nothing inside the guest is leaking." % (owner, human_bytes(nbytes), driver),
                  "virtualization owner (%s)" % owner)]


def _ledger_line(ctx):
    parts = ["%s %s" % (name, kb_text(ctx.cat(name))) for name in CATEGORY_NAMES
             if name not in ("free", "unaccounted") and ctx.cat(name)]
    return "counted by the kernel: " + (", ".join(parts) or "nothing")


def _process_line(ctx):
    procs = [p for p in ctx.linux.get("processes") or [] if isinstance(p, dict)]
    sizes = [(p.get("pss") if p.get("pss") is not None else p.get("rss")) for p in procs]
    sizes = [s for s in sizes if isinstance(s, int)]
    if not sizes:
        return None
    return ("the %d largest processes hold %s together (PSS, else RSS): the missing memory is not theirs"
            % (len(sizes), kb_text(sum(sizes))))


def _balloon_read(ctx):
    """balloon_inflation from a balloon size that was read (meminfo Balloon, the driver's statistics)."""
    o, total, facts = ctx.opts, ctx.total, ctx.details["balloon"]
    info = ctx.virt.get("balloon") if isinstance(ctx.virt.get("balloon"), dict) else None
    driver = facts["driver"] or (info or {}).get("driver")
    size, inside = facts["bytes"], ctx.cat("balloon")
    if not size:
        return []
    outside = max(0, size - inside)
    base = total + (outside if facts["lowers_memtotal"] or inside < size else 0)
    if not _over(size, o["balloon_share"], o["balloon_min_bytes"], base):
        return []
    unaccounted = ctx.cat("unaccounted")
    evidence = ["balloon driver %s holds %s (%s, %.1f %% of the VM's memory; source: %s)"
                % (driver or "?", kb_text(size), human_bytes(size), _pct(size, base), facts["source"])]
    if inside:
        missing = unaccounted + inside
        evidence.append("MemTotal %s; memory missing from every kernel counter %s; the balloon explains "
                        "%s of it (%.1f %%); still unaccounted %s"
                        % (kb_text(total), kb_text(missing), kb_text(inside), _pct(inside, missing),
                           kb_text(unaccounted)))
    if outside:
        evidence.append("%s of the balloon lies outside MemTotal (the driver lowered MemTotal)" % kb_text(outside))
    target = (info or {}).get("target_bytes")
    if isinstance(target, int):
        evidence.append("balloon target %s" % kb_text(target))
    evidence.append("the balloon size was read, not inferred")
    return [_Found(
        "balloon_inflation", {"kind": "balloon", "name": driver or "balloon", "owner": _balloon_owner(ctx)},
        size, size / base, evidence,
        _culprit("balloon", driver or "balloon", _balloon_owner(ctx), _tools_version(ctx)),
        _balloon_plan(ctx, driver or "the balloon driver", size),
        "The hypervisor took back %s (%.1f %% of the VM's memory) through the balloon driver %s: "
        "not a leak inside the guest." % (human_bytes(size), _pct(size, base), driver or "?"),
        series=_series.key("balloon", driver), confidence="likely")]


def _unaccounted_evidence(ctx):
    """The figures behind memory missing from every counter: ledger, processes, zram, slab listing."""
    total, unaccounted = ctx.total, ctx.cat("unaccounted")
    counted = total - unaccounted - ctx.cat("free")
    evidence = ["MemTotal %s; MemFree %s; counted %s; unaccounted %s (%.1f %% of MemTotal)"
                % (kb_text(total), kb_text(ctx.cat("free")), kb_text(counted), kb_text(unaccounted),
                   _pct(unaccounted, total)),
                _ledger_line(ctx)]
    evidence.extend("ledger: " + note for note in ctx.details["notes"])
    line = _process_line(ctx)
    if line:
        evidence.append(line)
    zspages = (ctx.linux.get("vmstat") or {}).get("nr_zspages")
    if isinstance(zspages, int) and zspages and not ctx.cat("zram"):
        evidence.append("vmstat nr_zspages %d: zram/zswap pages are part of the unaccounted memory" % zspages)
    if ctx.linux.get("slab") is None:
        evidence.append("slab caches not listed (%s): only the Slab totals are known"
                        % ("; ".join(ctx.warned("slab")) or "no slabinfo in the snapshot"))
    return evidence


def _balloon_commands(ctx):
    """What would settle the balloon's state on this platform: the module list, then the size."""
    wanted = [] if ctx.evidence.has("modules") else [evidence_mod.missing("modules")]
    platform = ctx.virt.get("platform") or "unknown"
    if platform in ("vmware", "unknown") and not ctx.evidence.has("balloon"):
        wanted.append(evidence_mod.missing("balloon"))
    if platform == "unknown" and not ctx.evidence.has("platform"):
        wanted.append(evidence_mod.missing("platform"))
    return wanted


def _balloon_state(ctx):
    """('loaded_unread' | 'counted' | 'empty' | 'outside' | 'absent' | 'unknown', one evidence line).

    'absent' only when a module list proves no balloon driver is loaded; without one the state
    is 'unknown' and nothing may say the balloon is not there.
    """
    facts = ctx.details["balloon"]
    driver = facts["driver"]
    loaded = facts["loaded"]
    if loaded and not facts["known"] and facts["lowers_memtotal"] is not True:
        notes = ctx.warned("balloon")
        return "loaded_unread", ("balloon driver %s is loaded but its size could not be read%s; memory taken by a "
                                 "balloon is invisible to every kernel counter and looks exactly like this"
                                 % (driver, (" (" + "; ".join(notes) + ")") if notes else ""))
    if loaded and facts["bytes"]:
        return "counted", ("balloon driver %s is loaded and already counted (%s); the rest is not the balloon"
                           % (driver, kb_text(ctx.cat("balloon"))))
    if loaded and facts["known"]:
        return "empty", "balloon driver %s is loaded but the balloon is empty (0 kB)" % driver
    if loaded:
        return "outside", ("balloon driver %s is loaded, but on this kernel it lowers MemTotal for ballooned "
                           "pages, so it cannot explain memory missing inside MemTotal" % driver)
    if facts["known"]:
        return "empty", "the balloon size was read: 0 kB"
    if loaded is False:
        return "absent", "no balloon driver is loaded (the module list was read; virt.platform %s)" % (
            ctx.virt.get("platform") or "unknown")
    return "unknown", ("balloon state unknown: the capture has neither the loaded modules nor a balloon size "
                       "(virt.platform %s), so a balloon can be neither confirmed nor ruled out"
                       % (ctx.virt.get("platform") or "unknown"))


def _balloon_inferred(ctx, evidence):
    """balloon_inflation inferred from a loaded driver whose size could not be read (suspected)."""
    driver, unaccounted, total = ctx.details["balloon"]["driver"], ctx.cat("unaccounted"), ctx.total
    evidence.append("confidence: suspected (inferred from a loaded driver; confirm with %s or the hypervisor's "
                    "view of this VM)" % _BALLOON_CHECK.get(driver, "the driver's statistics"))
    return _Found(
        "balloon_inflation", {"kind": "balloon", "name": driver, "owner": _balloon_owner(ctx)},
        unaccounted, unaccounted / total, evidence,
        _culprit("balloon", driver, _balloon_owner(ctx), _tools_version(ctx)),
        _balloon_plan(ctx, driver, unaccounted),
        "%s (%.1f %% of RAM) is missing from every kernel counter and the balloon driver %s is loaded: most "
        "likely the hypervisor took it back (balloon size not readable)." % (
            human_bytes(unaccounted), _pct(unaccounted, total), driver),
        confidence="suspected", missing=[evidence_mod.missing(
            "balloon", "the balloon size", _BALLOON_COMMAND.get(driver, "cat /proc/meminfo"))])


def _unaccounted_kernel(ctx, evidence, state):
    """unaccounted_kernel: a driver allocating pages directly is the likely holder, unless the balloon
    state is unknown (then suspected, with the captures that settle it)."""
    unaccounted, total = ctx.cat("unaccounted"), ctx.total
    kernel = ctx.kernel or "the running kernel"
    wanted = _balloon_commands(ctx) if state == "unknown" else []
    if ctx.linux.get("slab") is None:
        wanted.append(evidence_mod.missing("slabinfo"))
    # Kernel call-site attribution (allocinfo, vmallocinfo) adds its evidence to this finding.
    if state == "unknown":
        why = ("whether a balloon holds it is unknown (capture %s); otherwise a kernel driver is most likely "
               "holding it" % " and ".join("`%s`" % m["command"] for m in _balloon_commands(ctx)[:2]))
    else:
        why = "no balloon explains it: a kernel driver is most likely holding it"
    return _Found(
        "unaccounted_kernel", {"kind": "kernel", "name": "unaccounted", "owner": None},
        unaccounted, unaccounted / total, evidence,
        _culprit("kernel", "unaccounted", None, ctx.kernel),
        [_step("patch_os", "Memory missing from every kernel counter is usually a driver allocating pages "
                           "directly; update the kernel and its drivers (fixed leaks ship in updates).", kernel),
         _step("escalate", "If it keeps growing after the update, open a case with the OS vendor with this "
                           "evidence (meminfo, loaded modules, kernel version).", "OS vendor")],
        "%s (%.1f %% of RAM) is missing from every kernel counter; %s." % (
            human_bytes(unaccounted), _pct(unaccounted, total), why),
        series=_series.key("kernel", "unaccounted"),
        confidence="suspected" if state == "unknown" else "likely", missing=wanted)


def _balloon_and_unaccounted(ctx):
    """A balloon that was read, then memory missing from every counter: the balloon or a driver."""
    found = _balloon_read(ctx)
    o, unaccounted = ctx.opts, ctx.cat("unaccounted")
    if not _over(unaccounted, o["unaccounted_share"], o["unaccounted_min_bytes"], ctx.total):
        return found
    evidence = _unaccounted_evidence(ctx)
    state, line = _balloon_state(ctx)
    evidence.append(line)
    if state == "loaded_unread":
        found.append(_balloon_inferred(ctx, evidence))
    else:
        found.append(_unaccounted_kernel(ctx, evidence, state))
    return found


def _tools_version(ctx):
    tools = ctx.virt.get("tools")
    return tools.get("version") if isinstance(tools, dict) else None


# -- slab ----------------------------------------------------------------------------------

def _slab_reclaimable(name):
    """True / False / None: does the kernel reclaim this cache under pressure (knowledge base)."""
    try:
        entry = knowledge.load_knowledge().slab_cache(name)
    except (knowledge.KnowledgeError, IOError, OSError):
        return None
    return (entry or {}).get("reclaimable")


def _slab_finding(ctx, cache, evidence, confidence):
    """slab_growth for one cache; a cache the kernel reclaims under pressure is info, not a leak."""
    total, name = ctx.total, cache.get("name") or "?"
    reclaimable = _slab_reclaimable(name)
    severity = None
    summary = "Kernel slab cache %s holds %s%s." % (
        name, human_bytes(cache["bytes"]), " (%.1f %% of RAM)" % _pct(cache["bytes"], total) if total else "")
    if reclaimable:
        severity = "info"
        evidence.append("%s is a reclaimable cache (created with SLAB_RECLAIM_ACCOUNT, counted in SReclaimable): "
                        "the kernel shrinks it under memory pressure, so its size alone is not a leak" % name)
        summary = summary[:-1] + ": a reclaimable cache the kernel shrinks under pressure, not a leak."
    elif reclaimable is False:
        evidence.append("%s is not a reclaimable cache: its objects are freed only by their owner" % name)
    return _Found(
        "slab_growth", {"kind": "slab_cache", "name": name, "owner": None},
        cache["bytes"], _share(cache["bytes"], total), evidence, _culprit("slab_cache", name),
        _slab_plan(name, ctx.kernel), summary, severity=severity, series=_series.key("slab_cache", name),
        confidence=confidence)


def _slab(ctx):
    o = ctx.opts
    total = ctx.total
    found = []
    caches = [c for c in ctx.linux.get("slab") or [] if isinstance(c, dict) and isinstance(c.get("bytes"), int)]
    caches.sort(key=lambda c: c["bytes"], reverse=True)
    totals = "Slab totals: SReclaimable %s, SUnreclaim %s" % (
        kb_text(ctx.cat("slab_reclaimable")), kb_text(ctx.cat("slab_unreclaimable"))) if ctx.mi else \
        "Slab totals not captured (no meminfo)"
    dentry = ctx.linux.get("dentry_state") if isinstance(ctx.linux.get("dentry_state"), dict) else {}
    for cache in caches:
        if not total or not _over(cache["bytes"], o["slab_cache_share"], o["slab_min_bytes"], total):
            break
        name = cache.get("name") or "?"
        evidence = ["slab cache %s: %s objects x %s bytes = %s" % (
            name, cache.get("num_objs"), cache.get("objsize"), _size(cache["bytes"], total)), totals]
        if name == "dentry" and dentry.get("nr_negative") is not None:
            evidence.append("dentry-state: %s dentries, %s of them negative (names that do not exist)"
                            % (dentry.get("nr_dentry"), dentry.get("nr_negative")))
        found.append(_slab_finding(ctx, cache, evidence, "likely"))
    if not found and caches:
        top = _dominant(caches, lambda c: c["bytes"], o)
        if top and top[0]["bytes"] >= o["slab_min_bytes"]:
            cache, share, second = top
            evidence = ["slab cache %s holds %s, %.1f %% of all listed slab%s" % (
                cache.get("name"), _size(cache["bytes"], total), 100 * share,
                ", %.1f x the next (%s %s)" % (cache["bytes"] / float(max(second["bytes"], 1)), second.get("name"),
                                               kb_text(second["bytes"])) if second else ""), totals]
            found.append(_slab_finding(ctx, cache, evidence, "likely"))
    unreclaimable = ctx.cat("slab_unreclaimable")
    if any(f.finding["severity"] in _ABNORMAL for f in found) or not total \
            or not _over(unreclaimable, o["slab_unreclaimable_share"], o["slab_min_bytes"], total):
        return found
    evidence = ["SUnreclaim %s" % _size(unreclaimable, total), totals]
    wanted = []
    if caches:
        name = next((c.get("name") for c in caches if not _slab_reclaimable(c.get("name") or "")), None) \
            or caches[0].get("name") or "?"
        evidence.append("largest caches: " + ", ".join("%s %s" % (c.get("name"), kb_text(c["bytes"]))
                                                       for c in caches[:5]))
    else:
        name = "unreclaimable slab"
        evidence.append("slab caches not listed (%s): the cache cannot be named"
                        % ("; ".join(ctx.warned("slab")) or "no slabinfo in the snapshot"))
        wanted.append(evidence_mod.missing("slabinfo"))
    found.append(_Found(
        "slab_growth", {"kind": "slab_cache", "name": name, "owner": None},
        unreclaimable, unreclaimable / total, evidence, _culprit("slab_cache", name), _slab_plan(name, ctx.kernel),
        "Unreclaimable kernel slab holds %s (%.1f %% of RAM)%s." % (
            human_bytes(unreclaimable), _pct(unreclaimable, total),
            ", largest unreclaimable cache %s" % name if caches else ""),
        series=_series.key("kernel", "slab_unreclaimable"),
        confidence="likely" if caches else "suspected", missing=wanted))
    return found


def _slab_plan(name, kernel=None):
    return [_step("patch_os", "A slab cache growing without bound is a kernel or driver leak; update the kernel "
                              "and drivers first.", kernel or "the running kernel"),
            _step("escalate", "If %s keeps growing after the update, send this evidence and /proc/slabinfo to "
                              "the OS vendor." % name, "OS vendor")]


# -- processes -----------------------------------------------------------------------------

def _process_size(proc):
    """PSS; else RSS without the pages it shares (top's SHR: mapped files, counted with the page cache,
    and shared memory, counted under Shmem); else RSS."""
    pss = proc.get("pss")
    if isinstance(pss, int):
        return pss
    rss, shared = proc.get("rss"), proc.get("shared")
    if isinstance(rss, int) and isinstance(shared, int) and 0 <= shared <= rss:
        return rss - shared
    return rss


def _size_label(proc):
    if isinstance(proc.get("pss"), int):
        return "PSS"
    if isinstance(proc.get("rss"), int) and isinstance(proc.get("shared"), int):
        return "RSS %s - shared %s (mapped files and shared memory are not its own)" % (
            kb_text(proc["rss"]), kb_text(proc["shared"]))
    return "RSS (PSS not readable)"


def _process_finding(ctx, proc, evidence, severity=None, confidence="likely"):
    total = ctx.total
    size = _process_size(proc)
    name, pid = proc.get("name") or "?", proc.get("pid")
    return _Found(
        "process_leak", {"kind": "process", "name": "%s (pid %s)" % (name, pid), "owner": None},
        size, _share(size, total), evidence, _culprit("process", name),
        [_step("restart", "Restart %s (pid %s) as a stop-gap: its memory returns when it exits." % (name, pid), name),
         _step("escalate", "Give the application owner this evidence; a trend over several runs shows "
                           "whether it keeps growing.", name)],
        "Process %s (pid %s) holds %s%s." % (name, pid, human_bytes(size),
                                             " (%.1f %% of RAM)" % _pct(size, total) if total else ""),
        severity=severity, series=_series.key("process", name, pid), confidence=confidence)


def _processes(ctx):
    o = ctx.opts
    total = ctx.total
    found = []
    procs = [p for p in ctx.linux.get("processes") or [] if isinstance(p, dict)]
    for proc in procs:
        size = _process_size(proc)
        if not isinstance(size, int) or not total or not _over(size, o["process_share"], o["process_min_bytes"], total):
            continue
        evidence = ["%s (pid %s): %s %s" % (
            proc.get("name") or "?", proc.get("pid"), _size_label(proc), _size(size, total))]
        details = ["%s %s" % (label, kb_text(proc[key])) for key, label in
                   (("rss", "RSS"), ("anon", "anonymous"), ("swap", "swapped out"))
                   if isinstance(proc.get(key), int)]
        if details:
            evidence.append(", ".join(details))
        evidence.extend(ctx.warned("processes"))
        found.append(_process_finding(ctx, proc, evidence))
    if found or total:
        return found
    top = _dominant(procs, _process_size, o)  # no MemTotal: a listing alone, judged by dominance
    if top and _process_size(top[0]) >= o["process_min_bytes"]:
        proc, share, second = top
        evidence = ["%s (pid %s) holds %s, %.1f %% of the memory of the listed processes%s" % (
            proc.get("name"), proc.get("pid"), _size(_process_size(proc), None), 100 * share,
            ", %.1f x the next (%s)" % (_process_size(proc) / float(max(_process_size(second), 1)),
                                        second.get("name")) if second else "")]
        item = _process_finding(ctx, proc, evidence)
        item.finding["missing"].append(evidence_mod.missing("meminfo"))
        found.append(item)
    return found


def _oom(ctx):
    """The kernel OOM killer ran: memory was exhausted (a hard limit hit); the culprit is the task that
    dominated its task table (likely), else the killed task (suspected)."""
    kills = [k for k in ctx.linux.get("oom_kills") or [] if isinstance(k, dict)]
    if not kills:
        return []
    last = kills[-1]
    tasks = [t for t in last.get("tasks") or [] if isinstance(t, dict) and isinstance(t.get("rss"), int)]
    killed = last.get("killed") if isinstance(last.get("killed"), dict) else {}
    top = _dominant(tasks, lambda t: t.get("rss"), ctx.opts)
    proc = top[0] if top else (killed if isinstance(killed.get("rss"), int) else None)
    if proc is None:
        return []
    evidence = ["the OOM killer ran %d time(s)%s; it killed %s (pid %s, RSS %s)" % (
        len(kills), " (last %s)" % last["time"] if last.get("time") else "", killed.get("name"), killed.get("pid"),
        kb_text(killed["rss"]) if isinstance(killed.get("rss"), int) else "unknown")]
    if top:
        evidence.append("%s (pid %s) held %.1f %% of the RSS in the OOM task table" % (
            proc.get("name"), proc.get("pid"), 100 * top[1]))
    else:
        evidence.append("no task dominated the OOM task table: the killed task is named, not proved the cause")
    item = _process_finding(ctx, {"name": proc.get("name"), "pid": proc.get("pid"), "rss": proc.get("rss")}, evidence,
                            severity="critical", confidence="likely" if top else "suspected")
    item.summary = "The OOM killer ran (memory was exhausted); %s (pid %s) held the most memory (%s RSS)." % (
        proc.get("name"), proc.get("pid"), human_bytes(proc.get("rss")))
    if not ctx.evidence.has("processes"):
        item.finding["missing"].append(evidence_mod.missing("processes"))
    return [item]


# -- tmpfs and shared memory ---------------------------------------------------------------

def _shmem(ctx):
    if not ctx.total:
        return []  # shares of MemTotal cannot be judged without it
    o = ctx.opts
    total = ctx.total
    found = []
    mounts = [m for m in ctx.linux.get("tmpfs") or [] if isinstance(m, dict) and isinstance(m.get("used"), int)]
    mounts.sort(key=lambda m: m["used"], reverse=True)
    deleted = [d for d in ctx.linux.get("deleted_open") or [] if isinstance(d, dict)]
    deleted.sort(key=lambda d: d.get("bytes") or 0, reverse=True)

    for item in deleted:
        size = item.get("bytes")
        if not isinstance(size, int) or size < o["deleted_open_min_bytes"]:
            continue
        name = item.get("name") or "?"
        pid = item.get("pid")
        found.append(_Found(
            "shmem_tmpfs", {"kind": "process", "name": "%s (pid %s)" % (name, pid), "owner": None},
            size, size / total,
            ["%s (pid %s) keeps the deleted file %s open: %s stay in memory until it closes it"
             % (name, pid, item.get("path"), _size(size, total)),
             "Shmem %s" % _size(ctx.cat("shmem"), total)],
            _culprit("process", name),
            [_step("restart", "Restart %s (pid %s) or make it close %s: the space returns when the last "
                              "descriptor closes." % (name, pid, item.get("path")), name)],
            "%s (pid %s) keeps a deleted tmpfs file open holding %s (%.1f %% of RAM)." % (
                name, pid, human_bytes(size), _pct(size, total))))

    shmem = ctx.cat("shmem")
    if not _over(shmem, o["shmem_share"], o["shmem_min_bytes"], total):
        return found
    evidence = ["Shmem %s: tmpfs, /dev/shm, SysV shared memory and memfd" % _size(shmem, total)]
    for mount in mounts[:5]:
        limit = " of %s" % kb_text(mount["size"]) if isinstance(mount.get("size"), int) else ""
        evidence.append("tmpfs %s: %s used%s" % (mount.get("mount"), kb_text(mount["used"]), limit))
    evidence.extend("deleted but open: %s (pid %s) %s %s" % (d.get("name"), d.get("pid"), d.get("path"),
                                                             kb_text(d["bytes"]))
                    for d in deleted[:5] if isinstance(d.get("bytes"), int))
    if not mounts:
        evidence.append("tmpfs usage not known: the snapshot lists no tmpfs mount sizes%s" % "".join(
            " (%s)" % w for w in ctx.warned("tmpfs")))
    known = sum(m["used"] for m in mounts)
    if known < shmem:
        evidence.append("%s is not in any listed tmpfs mount: SysV segments (ipcs -m), memfd or deleted files"
                        % kb_text(shmem - known))
    if mounts and mounts[0]["used"] > 0:
        top = mounts[0]
        subject = {"kind": "tmpfs", "name": top.get("mount"), "owner": None}
        culprit = _culprit("tmpfs", top.get("mount"))
        target = top.get("mount")
        where = ", most in %s" % top.get("mount")
    else:
        subject = {"kind": "tmpfs", "name": "Shmem", "owner": None}
        culprit = _culprit("tmpfs", "Shmem")
        target = "Shmem"
        where = ""
    found.append(_Found(
        "shmem_tmpfs", subject, shmem, shmem / total, evidence, culprit,
        [_step("escalate", "Ask the owner of the files in %s to remove what is no longer needed, or cap the mount "
                           "with size=; tmpfs pages only leave RAM for swap." % target, target)],
        "tmpfs and shared memory hold %s (%.1f %% of RAM)%s." % (human_bytes(shmem), _pct(shmem, total), where),
        series=_series.key("kernel", "shmem")))
    return found


# -- huge pages ----------------------------------------------------------------------------

def _hugepages(ctx):
    o = ctx.opts
    total = ctx.total
    count = ctx.mi.get("HugePages_Total") or 0
    size = ctx.mi.get("Hugepagesize") or 0
    if not count or not size:
        return []
    free = ctx.mi.get("HugePages_Free") or 0
    reserved = ctx.mi.get("HugePages_Rsvd") or 0
    pool = count * size
    unused = max(0, free - reserved) * size
    if unused < o["hugepages_min_bytes"] or unused < o["hugepages_free_share"] * pool:
        return []
    name = "hugepages-%dkB" % (size // 1024)
    evidence = ["HugePages_Total %d, HugePages_Free %d, HugePages_Rsvd %d of Hugepagesize %s: pool %s, unused "
                "and unreserved %s (%.1f %% of the pool%s)"
                % (count, free, reserved, kb_text(size), kb_text(pool), kb_text(unused), _pct(unused, pool),
                   ", %.1f %% of MemTotal" % _pct(unused, total) if total else "")]
    hugetlb = ctx.mi.get("Hugetlb")
    if isinstance(hugetlb, int) and hugetlb > pool:
        evidence.append("Hugetlb %s: pools of other huge page sizes hold %s more (see /sys/kernel/mm/hugepages)"
                        % (kb_text(hugetlb), kb_text(hugetlb - pool)))
    return [_Found(
        "hugepages_reserved", {"kind": "hugepages", "name": name, "owner": None},
        unused, _share(unused, total), evidence, _culprit("hugepages", name),
        [_step("escalate", "Lower vm.nr_hugepages to what the application uses, or start the application the "
                           "pool was made for: reserved huge pages are lost to everything else.", "vm.nr_hugepages")],
        "%s of reserved huge pages%s are unused." % (
            human_bytes(unused), " (%.1f %% of RAM)" % _pct(unused, total) if total else ""))]


# -- page cache ----------------------------------------------------------------------------

def _page_cache(ctx):
    if not ctx.total:
        return []  # shares of MemTotal cannot be judged without it
    o = ctx.opts
    total = ctx.total
    used = total - ctx.mi.get("MemFree", 0)
    reclaimable = ctx.cat("page_cache") + ctx.cat("slab_reclaimable")
    if used < o["page_cache_used_share"] * total or reclaimable < o["page_cache_reclaimable_share"] * used:
        return []
    available, label = ctx.available()
    evidence = ["MemTotal %s - MemFree %s = %s looks used (%.1f %%)" % (
        kb_text(total), kb_text(ctx.mi.get("MemFree", 0)), kb_text(used), _pct(used, total)),
        "of it reclaimable: page cache %s + SReclaimable %s = %s (%.1f %% of the used memory)" % (
            kb_text(ctx.cat("page_cache")), kb_text(ctx.cat("slab_reclaimable")), kb_text(reclaimable),
            _pct(reclaimable, used)),
        "%s %s" % (label, _size(available, total))]
    return [_Found(
        "page_cache", {"kind": "kernel", "name": "page cache", "owner": None},
        reclaimable, reclaimable / total, evidence, _culprit("none", ""),
        [_step("none", "Page cache is given back on demand; nothing to do.")],
        "%s (%.1f %%) looks used, but %s of it is file cache the kernel gives back on demand: no action needed."
        % (human_bytes(used), _pct(used, total), human_bytes(reclaimable)), severity="info")]


_CHECKS = (_balloon_and_unaccounted, _slab, _processes, _oom, _shmem, _hugepages, _page_cache)


# -- growth over time ----------------------------------------------------------------------

# Series that may leak without being large yet, and the verdict they stand for.
_GROWING = (("proc:", "process_leak"), ("slab:", "slab_growth"),
            ("ledger.unaccounted", "unaccounted_kernel"), ("ledger.slab_unreclaimable", "slab_growth"))


def _rate_text(fit):
    return "%s/h over %d samples in %.1f h (confidence %.3f)" % (
        human_bytes(fit["bytes_per_hour"]), fit["samples"], fit["span_hours"], fit["confidence"])


def _why_not(fit):
    """': growth too small (...)' after 'not growing', or nothing when the fit's reason says just that."""
    reason = fit.get("reason") or ""
    return "" if reason in ("", "not growing") else ": " + reason


def _growth_finding(ctx, name, fid, current, fit):
    total = ctx.total
    if name.startswith("proc:"):
        proc, dummy, pid = name[len("proc:"):-1].rpartition("[")
        label = "%s (pid %s)" % (proc, pid)
        subject, culprit = {"kind": "process", "name": label, "owner": None}, _culprit("process", proc)
        plan = [_step("restart", "Restart %s as a stop-gap: its memory returns when it exits." % label, proc),
                _step("escalate", "Give the application owner this growth evidence.", proc)]
        what = "Process %s" % label
    elif fid == "slab_growth":
        cache = name[len("slab:"):] if name.startswith("slab:") else "unreclaimable slab"
        subject, culprit = {"kind": "slab_cache", "name": cache, "owner": None}, _culprit("slab_cache", cache)
        plan, what = _slab_plan(cache, ctx.kernel), "Kernel slab cache %s" % cache
    else:
        subject = {"kind": "kernel", "name": "unaccounted", "owner": None}
        culprit = _culprit("kernel", "unaccounted", None, ctx.kernel)
        plan = [_step("patch_os", "Memory missing from every kernel counter keeps growing: update the kernel and "
                                  "its drivers.", ctx.kernel or "the running kernel"),
                _step("escalate", "If it keeps growing after the update, open a case with the OS vendor.",
                      "OS vendor")]
        what = "Memory missing from every kernel counter"
    summary = "%s grows %s/h (now %s)." % (what, human_bytes(fit["bytes_per_hour"]), human_bytes(current))
    return _Found(fid, subject, current, current / total, ["%s: %s now" % (what, _size(current, total))],
                  culprit, plan, summary, series=name, confidence="proven")


def _trend_options(ctx):
    o = ctx.opts
    return {"min_samples": o["trend_min_samples"], "min_span_hours": o["trend_min_span_hours"],
            "noise_factor": o["trend_noise_factor"], "min_growth_share": o["trend_min_growth_share"],
            "eta_span_factor": o["trend_eta_span_factor"]}


def _apply_trend(ctx, found):
    """Fill growth and ETA from the samples; add findings for series whose growth is proven while still small."""
    # Only this boot counts: a process or cache last seen before a reboot is gone, not growing.
    table = _series.SeriesTable(ctx.snap.get("samples") or [], trend.to_hours, boot=ctx.snap.get("boot_id") or None)
    available = ctx.available()[0]
    options = _trend_options(ctx)
    covered = set(f.series for f in found if f.series)
    for name in table.names:
        fid = next((v for prefix, v in _GROWING if name.startswith(prefix)), None)
        if fid is None or name in covered:
            continue
        points = table.points(name)
        if not points:
            continue
        recent = trend.current_boot(points)[-int(trend.DEFAULTS["window"]):]
        if recent[-1][1] <= recent[0][1]:
            continue  # not above where the fitted window starts: cannot be a leak, spare the O(n^2) fit
        if not trend.may_leak(points, options):
            continue
        fit = trend.fit(points, limit=points[-1][1] + available, options=options)
        if fit["leaking"]:
            found.append(_growth_finding(ctx, name, fid, int(points[-1][1]), fit))
    for item in found:
        if item.series:
            _attach_growth(ctx, item, table.points(item.series), available, options)


def _attach_growth(ctx, item, points, available, options):
    """Growth may raise severity or give an ETA only when trend.fit proves it (long enough, above
    noise and floor); a rise that is not proven says so, with what would prove it."""
    finding = item.finding
    if len(points) < 2:
        finding["evidence"].append("growth unproven: %s (run again later, or gather with samples > 1)" % (
            "one sample" if points else "no history for this series"))
        return
    fit = trend.fit(points, limit=points[-1][1] + available, options=options)
    finding["growth"] = {"bytes_per_hour": int(round(fit["bytes_per_hour"])), "samples": fit["samples"],
                         "span_hours": round(fit["span_hours"], 3), "confidence": fit["confidence"],
                         "proven": bool(fit["leaking"])}
    if fit["leaking"]:
        finding["confidence"] = "proven"
        if finding["severity"] == "info" and finding["id"] == "slab_growth":
            finding["severity"] = VERDICTS["slab_growth"]  # a reclaimable cache that keeps growing
            finding["evidence"].append("reclaimable, yet it keeps growing: the kernel does not get it back")
        eta = fit["exhaustion_eta_hours"]
        if eta is None:
            finding["evidence"].append("growing %s (proven); %s" % (_rate_text(fit), _eta_withheld(fit, options)))
            return
        finding["exhaustion_eta_hours"] = round(eta, 1)
        finding["evidence"].append("growing %s (proven): memory runs out in about %s h at this rate" % (
            _rate_text(fit), "%.1f" % finding["exhaustion_eta_hours"]))
        if eta < ctx.opts["critical_eta_hours"] and finding["severity"] in _ABNORMAL:
            finding["severity"] = "critical"
    elif fit["rising"]:
        finding["evidence"].append("%s; %s" % (fit["reason"], _rate_text(fit)))
        finding["missing"] = evidence_mod.merge_missing(finding["missing"], [evidence_mod.missing("history")])
    elif _stable(fit, options, points[-1][1] + available):
        finding["evidence"].append("not growing%s; %s" % (_why_not(fit), _rate_text(fit)))
        if finding["id"] == "process_leak" and fit["span_hours"] >= options["min_span_hours"]:
            finding["severity"] = "info"
            finding["evidence"].append("stable over the window: a large working set, not a leak")
    else:
        finding["evidence"].append("growth unproven: %s; %s" % (fit["reason"], _rate_text(fit)))


def _eta_withheld(fit, options):
    raw = fit.get("eta_beyond_evidence")
    if raw is None:
        return "no exhaustion time (no limit known)"
    return ("no exhaustion time: at this rate it is %.0f h away, more than %g x the %s observed"
            % (raw, options["eta_span_factor"], trend.span_text(fit["span_hours"])))


def _stable(fit, options, limit):
    """Proven not to leak: enough samples, and no upward tendency or one too small to matter.

    A rising but short series is unproven, not stable; a series that moved by a
    few pages (PSS shifts when other processes map the same libraries) is stable.
    """
    if fit["samples"] < options["min_samples"] or fit["rising"]:
        return False
    floor = options["min_growth_share"] * limit
    return (fit["bytes_per_hour"] <= 0 or fit["tau"] < 0.5 or fit["bytes_per_hour"] * fit["span_hours"] < floor
            or fit["reason"].startswith(("growth too small", "growth has stopped", "one step")))


def _check_ledger(ledger, total):
    if not isinstance(ledger, list) or not all(
            isinstance(e, dict) and isinstance(e.get("category"), str) and isinstance(e.get("bytes"), int)
            and not isinstance(e.get("bytes"), bool) and e["bytes"] >= 0 for e in ledger):
        raise DiagnosisError("ledger must be a list of {category, bytes} with bytes >= 0, as memory_ledger returns")
    added = sum(e["bytes"] for e in ledger)
    if added != total:
        raise DiagnosisError("ledger adds up to %d bytes but MemTotal is %d: it belongs to another snapshot"
                             % (added, total))
    return ledger


def _snapshot_parts(snapshot):
    if not isinstance(snapshot, dict) or "schema" not in snapshot or "os" not in snapshot:
        raise DiagnosisError("input is not a memleak_snapshot (no 'schema'/'os' keys)")
    family = (snapshot.get("os") or {}).get("family")
    if family != "linux" or not isinstance(snapshot.get("linux"), dict):
        raise DiagnosisError("snapshot of %s is a %s snapshot: this diagnosis reads Linux snapshots only"
                             % (snapshot.get("host", "?"), family or "non-Linux"))


def _partial_details(snapshot, error):
    """What the diagnosis knows without a complete /proc/meminfo: MemTotal when some tool gave it
    (free, a partial meminfo), no ledger; the rules then judge what each artifact shows."""
    mi = (snapshot.get("linux") or {}).get("meminfo") or {}
    total = mi.get("MemTotal") or (snapshot.get("memory") or {}).get("total") or None
    linux = snapshot.get("linux") or {}
    if not total and not mi and not any(linux.get(k) for k in ("slab", "processes", "oom_kills")):
        raise DiagnosisError("%s; and the snapshot holds no meminfo line, slab listing, process listing or OOM "
                             "report either: nothing to diagnose" % error)
    balloon = {"driver": None, "loaded": None, "bytes": 0, "known": False, "in_ledger": 0, "source": None,
               "lowers_memtotal": None}
    return {"entries": [], "total": total, "kernel": None, "method": None, "overshoot": 0, "consistent": True,
            "notes": [], "balloon": balloon, "partial": True}


def _verdict(ctx, found, opts):
    """(verdict, culprit, plan, winner finding or None)."""
    available, label = ctx.available()
    abnormal = [f for f in found if f.finding["severity"] in _ABNORMAL]
    if abnormal:
        winner = max(abnormal, key=lambda f: f.rank)
        return ({"id": winner.finding["id"], "severity": winner.finding["severity"], "summary": winner.summary},
                winner.culprit, winner.plan, winner)
    cache = [f for f in found if f.finding["id"] == "page_cache"]
    if cache:
        return ({"id": "page_cache", "severity": VERDICTS["page_cache"], "summary": cache[0].summary},
                cache[0].culprit, cache[0].plan, cache[0])
    if ctx.total and available is not None:
        text = "No abnormal memory use: %s %s of %s (%.1f %%) available." % (
            label, human_bytes(available), human_bytes(ctx.total), _pct(available, ctx.total))
    else:
        text = "No abnormal memory use in what was captured (%s)." % (", ".join(sorted(ctx.evidence.captured))
                                                                      or "nothing listed")
    return ({"id": "healthy", "severity": VERDICTS["healthy"], "summary": text}, _culprit("none", ""),
            [_step("none", "Nothing abnormal was found.")], None)


def _verdict_evidence(ctx, winner, found):
    """(confidence, missing) of the verdict: the winner's, and for 'healthy' what was not captured."""
    if winner is not None:
        return winner.finding["confidence"], list(winner.finding["missing"])
    wanted = [evidence_mod.missing(a) for a in ("meminfo", "slabinfo", "processes") if not ctx.evidence.has(a)]
    if ctx.evidence.has("meminfo"):
        wanted = []  # a complete meminfo judges every total; the listings would only name a culprit
    return ("likely" if ctx.evidence.has("meminfo") else "suspected"), evidence_mod.merge_missing(
        wanted, *[f.finding["missing"] for f in found])


def diagnose(snapshot, ledger=None, options=None):
    """memleak_diagnosis (schema 1) for one Linux snapshot.

    ``ledger`` is the output of ``memory_ledger`` for this snapshot (computed
    when None); ``options`` overrides thresholds of ``OPTIONS``. A snapshot
    without a complete /proc/meminfo (a lone slabtop, ps listing, free or OOM
    report) is judged on what it holds, without a ledger. Raises
    DiagnosisError for input that is not a Linux snapshot, a bad option, or a
    snapshot that holds nothing to judge.
    """
    _snapshot_parts(snapshot)
    opts = resolve_options(options)
    try:
        details = build_ledger(snapshot)
    except LedgerError as exc:
        details = _partial_details(snapshot, exc)
    if details.get("partial"):
        entries = []
    else:
        entries = details["entries"] if ledger is None else _check_ledger(ledger, details["total"])
    ctx = _Context(snapshot, entries, details, opts)

    found = []
    for check in _CHECKS:
        found.extend(check(ctx))
    if ctx.total:
        _apply_trend(ctx, found)

    available, label = ctx.available()
    short = ctx.total and available is not None and available < opts["critical_available_share"] * ctx.total
    for item in found:
        if short and item.finding["severity"] in _ABNORMAL:
            item.finding["severity"] = "critical"
            item.finding["evidence"].append("%s %s: the host is short of memory"
                                            % (label, _size(available, ctx.total)))
        if details.get("partial") and not ctx.evidence.has("meminfo", "meminfo_partial", "free"):
            item.finding["missing"] = evidence_mod.merge_missing(item.finding["missing"],
                                                                 [evidence_mod.missing("meminfo")])

    verdict, culprit, plan, winner = _verdict(ctx, found, opts)
    verdict["confidence"], verdict["missing"] = _verdict_evidence(ctx, winner, found)
    found.sort(key=lambda f: f.rank, reverse=True)
    result = {
        "schema": DIAGNOSIS_SCHEMA,
        "host": snapshot.get("host"),
        "verdict": verdict,
        "culprit": culprit,
        "ledger": entries,
        "findings": [f.finding for f in found],
        "plan": plan,
    }
    # Kernel call sites and modules (docs/kernel-attribution.md) for unaccounted_kernel and slab_growth.
    return kernel_attribution.attribute(snapshot, result)

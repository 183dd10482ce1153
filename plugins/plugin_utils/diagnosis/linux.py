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
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import kernel_attribution

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
    """'5316880 kB (5.1 GiB, 66.5 % of MemTotal)'."""
    return "%s (%s, %.1f %% of MemTotal)" % (kb_text(value), human_bytes(value), _pct(value, total))


def _over(value, share, minimum, total):
    return value is not None and value >= minimum and value >= share * total


class _Found(object):
    """One finding plus what it means if it becomes the verdict."""

    def __init__(self, fid, subject, nbytes, share, evidence, culprit, plan, summary, severity=None, series=None):
        self.series = series
        self.finding = {
            "id": fid,
            "severity": severity or VERDICTS[fid],
            "subject": subject,
            "bytes": int(nbytes),
            "share": round(share, 4),
            "growth": None,
            "exhaustion_eta_hours": None,
            "evidence": evidence,
            "kb": None,
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

    def cat(self, name):
        return self.ledger.get(name, 0)

    def warned(self, *labels):
        """Snapshot warnings about one part ("slabinfo: ...", "processes: ..."), by their label."""
        return [w for w in self.warnings if w.lower().startswith(labels)]

    def available(self):
        if "MemAvailable" in self.mi:
            return self.mi["MemAvailable"], "MemAvailable"
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


def _balloon_and_unaccounted(ctx):
    o = ctx.opts
    total = ctx.total
    facts = ctx.details["balloon"]
    info = ctx.virt.get("balloon") if isinstance(ctx.virt.get("balloon"), dict) else None
    driver = facts["driver"] or (info or {}).get("driver")
    loaded = facts["loaded"]
    unaccounted = ctx.cat("unaccounted")
    inside = ctx.cat("balloon")
    found = []
    size_notes = ctx.warned("balloon")

    if facts["bytes"]:
        size = facts["bytes"]
        outside = max(0, size - inside)
        base = total + (outside if facts["lowers_memtotal"] or inside < size else 0)
        if _over(size, o["balloon_share"], o["balloon_min_bytes"], base):
            missing = unaccounted + inside
            evidence = ["balloon driver %s holds %s (%s, %.1f %% of the VM's memory; source: %s)"
                        % (driver or "?", kb_text(size), human_bytes(size), _pct(size, base), facts["source"])]
            if inside:
                evidence.append("MemTotal %s; memory missing from every kernel counter %s; the balloon explains "
                                "%s of it (%.1f %%); still unaccounted %s"
                                % (kb_text(total), kb_text(missing), kb_text(inside), _pct(inside, missing),
                                   kb_text(unaccounted)))
            if outside:
                evidence.append("%s of the balloon lies outside MemTotal (the driver lowered MemTotal)"
                                % kb_text(outside))
            target = (info or {}).get("target_bytes")
            if isinstance(target, int):
                evidence.append("balloon target %s" % kb_text(target))
            evidence.append("confidence: high (the balloon size was read, not inferred)")
            found.append(_Found(
                "balloon_inflation", {"kind": "balloon", "name": driver or "balloon", "owner": _balloon_owner(ctx)},
                size, size / base, evidence,
                _culprit("balloon", driver or "balloon", _balloon_owner(ctx), _tools_version(ctx)),
                _balloon_plan(ctx, driver or "the balloon driver", size),
                "The hypervisor took back %s (%.1f %% of the VM's memory) through the balloon driver %s: "
                "not a leak inside the guest." % (human_bytes(size), _pct(size, base), driver or "?"),
                series=_series.key("balloon", driver)))

    if not _over(unaccounted, o["unaccounted_share"], o["unaccounted_min_bytes"], total):
        return found

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

    if loaded and not facts["known"] and facts["lowers_memtotal"] is not True:
        evidence.append("balloon driver %s is loaded but its size could not be read%s; memory taken by a balloon "
                        "is invisible to every kernel counter and looks exactly like this"
                        % (driver, (" (" + "; ".join(size_notes) + ")") if size_notes else ""))
        evidence.append("confidence: low (inferred from a loaded driver; confirm with %s or the hypervisor's "
                        "view of this VM)" % _BALLOON_CHECK.get(driver, "the driver's statistics"))
        found.append(_Found(
            "balloon_inflation", {"kind": "balloon", "name": driver, "owner": _balloon_owner(ctx)},
            unaccounted, unaccounted / total, evidence,
            _culprit("balloon", driver, _balloon_owner(ctx), _tools_version(ctx)),
            _balloon_plan(ctx, driver, unaccounted),
            "%s (%.1f %% of RAM) is missing from every kernel counter and the balloon driver %s is loaded: most "
            "likely the hypervisor took it back (balloon size not readable)." % (
                human_bytes(unaccounted), _pct(unaccounted, total), driver)))
        return found

    if loaded and facts["bytes"]:
        evidence.append("balloon driver %s is loaded and already counted (%s); the rest is not the balloon"
                        % (driver, kb_text(inside)))
    elif loaded and facts["known"]:
        evidence.append("balloon driver %s is loaded but the balloon is empty (0 kB)" % driver)
    elif loaded:
        evidence.append("balloon driver %s is loaded, but on this kernel it lowers MemTotal for ballooned "
                        "pages, so it cannot explain memory missing inside MemTotal" % driver)
    elif info is not None:
        evidence.append("balloon driver %s is not loaded on this %s guest" % (
            info.get("driver") or "?", ctx.virt.get("platform") or "?"))
    else:
        evidence.append("no balloon driver found (virt.platform %s)" % (ctx.virt.get("platform") or "unknown"))
    kernel = ctx.kernel or "the running kernel"
    found.append(_Found(
        "unaccounted_kernel", {"kind": "kernel", "name": "unaccounted", "owner": None},
        unaccounted, unaccounted / total, evidence,
        _culprit("kernel", "unaccounted", None, ctx.kernel),
        [_step("patch_os", "Memory missing from every kernel counter is usually a driver allocating pages "
                           "directly; update the kernel and its drivers (fixed leaks ship in updates).", kernel),
         _step("escalate", "If it keeps growing after the update, open a case with the OS vendor with this "
                           "evidence (meminfo, loaded modules, kernel version).", "OS vendor")],
        "%s (%.1f %% of RAM) is missing from every kernel counter and no balloon explains it: a kernel driver is "
        "most likely holding it." % (human_bytes(unaccounted), _pct(unaccounted, total)),
        series=_series.key("kernel", "unaccounted")))
    return found


def _tools_version(ctx):
    tools = ctx.virt.get("tools")
    return tools.get("version") if isinstance(tools, dict) else None


# -- slab ----------------------------------------------------------------------------------

def _slab(ctx):
    o = ctx.opts
    total = ctx.total
    found = []
    caches = [c for c in ctx.linux.get("slab") or [] if isinstance(c, dict) and isinstance(c.get("bytes"), int)]
    caches.sort(key=lambda c: c["bytes"], reverse=True)
    totals = "Slab totals: SReclaimable %s, SUnreclaim %s" % (
        kb_text(ctx.cat("slab_reclaimable")), kb_text(ctx.cat("slab_unreclaimable")))
    dentry = ctx.linux.get("dentry_state") if isinstance(ctx.linux.get("dentry_state"), dict) else {}
    for cache in caches:
        if not _over(cache["bytes"], o["slab_cache_share"], o["slab_min_bytes"], total):
            break
        name = cache.get("name") or "?"
        evidence = ["slab cache %s: %s objects x %s bytes = %s" % (
            name, cache.get("num_objs"), cache.get("objsize"), _size(cache["bytes"], total)), totals]
        if name == "dentry" and dentry.get("nr_negative") is not None:
            evidence.append("dentry-state: %s dentries, %s of them negative (names that do not exist)"
                            % (dentry.get("nr_dentry"), dentry.get("nr_negative")))
        found.append(_Found(
            "slab_growth", {"kind": "slab_cache", "name": name, "owner": None},
            cache["bytes"], cache["bytes"] / total, evidence, _culprit("slab_cache", name),
            _slab_plan(name, ctx.kernel),
            "Kernel slab cache %s holds %s (%.1f %% of RAM)." % (
                name, human_bytes(cache["bytes"]), _pct(cache["bytes"], total)),
            series=_series.key("slab_cache", name)))
    unreclaimable = ctx.cat("slab_unreclaimable")
    if found or not _over(unreclaimable, o["slab_unreclaimable_share"], o["slab_min_bytes"], total):
        return found
    evidence = ["SUnreclaim %s" % _size(unreclaimable, total), totals]
    if caches:
        name = caches[0].get("name") or "?"
        evidence.append("largest caches: " + ", ".join("%s %s" % (c.get("name"), kb_text(c["bytes"]))
                                                       for c in caches[:5]))
    else:
        name = "unreclaimable slab"
        evidence.append("slab caches not listed (%s): the cache cannot be named"
                        % ("; ".join(ctx.warned("slab")) or "no slabinfo in the snapshot"))
    found.append(_Found(
        "slab_growth", {"kind": "slab_cache", "name": name, "owner": None},
        unreclaimable, unreclaimable / total, evidence, _culprit("slab_cache", name), _slab_plan(name, ctx.kernel),
        "Unreclaimable kernel slab holds %s (%.1f %% of RAM)%s." % (
            human_bytes(unreclaimable), _pct(unreclaimable, total),
            ", largest cache %s" % name if caches else ""),
        series=_series.key("kernel", "slab_unreclaimable")))
    return found


def _slab_plan(name, kernel=None):
    return [_step("patch_os", "A slab cache growing without bound is a kernel or driver leak; update the kernel "
                              "and drivers first.", kernel or "the running kernel"),
            _step("escalate", "If %s keeps growing after the update, send this evidence and /proc/slabinfo to "
                              "the OS vendor." % name, "OS vendor")]


# -- processes -----------------------------------------------------------------------------

def _processes(ctx):
    o = ctx.opts
    total = ctx.total
    found = []
    for proc in ctx.linux.get("processes") or []:
        if not isinstance(proc, dict):
            continue
        pss = proc.get("pss")
        size = pss if isinstance(pss, int) else proc.get("rss")
        if not isinstance(size, int) or not _over(size, o["process_share"], o["process_min_bytes"], total):
            continue
        name = proc.get("name") or "?"
        pid = proc.get("pid")
        what = "PSS" if isinstance(pss, int) else "RSS (PSS not readable)"
        evidence = ["%s (pid %s): %s %s" % (name, pid, what, _size(size, total))]
        details = ["%s %s" % (label, kb_text(proc[key])) for key, label in
                   (("rss", "RSS"), ("anon", "anonymous"), ("swap", "swapped out"))
                   if isinstance(proc.get(key), int)]
        if details:
            evidence.append(", ".join(details))
        evidence.extend(ctx.warned("processes"))
        found.append(_Found(
            "process_leak", {"kind": "process", "name": "%s (pid %s)" % (name, pid), "owner": None},
            size, size / total, evidence, _culprit("process", name),
            [_step("restart", "Restart %s (pid %s) as a stop-gap: its memory returns when it exits." % (name, pid),
                   name),
             _step("escalate", "Give the application owner this evidence; a trend over several runs shows "
                               "whether it keeps growing.", name)],
            "Process %s (pid %s) holds %s (%.1f %% of RAM)." % (name, pid, human_bytes(size), _pct(size, total)),
            series=_series.key("process", name, pid)))
    return found


# -- tmpfs and shared memory ---------------------------------------------------------------

def _shmem(ctx):
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
                "and unreserved %s (%.1f %% of the pool, %.1f %% of MemTotal)"
                % (count, free, reserved, kb_text(size), kb_text(pool), kb_text(unused), _pct(unused, pool),
                   _pct(unused, total))]
    hugetlb = ctx.mi.get("Hugetlb")
    if isinstance(hugetlb, int) and hugetlb > pool:
        evidence.append("Hugetlb %s: pools of other huge page sizes hold %s more (see /sys/kernel/mm/hugepages)"
                        % (kb_text(hugetlb), kb_text(hugetlb - pool)))
    return [_Found(
        "hugepages_reserved", {"kind": "hugepages", "name": name, "owner": None},
        unused, unused / total, evidence, _culprit("hugepages", name),
        [_step("escalate", "Lower vm.nr_hugepages to what the application uses, or start the application the "
                           "pool was made for: reserved huge pages are lost to everything else.", "vm.nr_hugepages")],
        "%s of reserved huge pages (%.1f %% of RAM) are unused." % (human_bytes(unused), _pct(unused, total)))]


# -- page cache ----------------------------------------------------------------------------

def _page_cache(ctx):
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


_CHECKS = (_balloon_and_unaccounted, _slab, _processes, _shmem, _hugepages, _page_cache)


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
                  culprit, plan, summary, series=name)


def _apply_trend(ctx, found):
    """Fill growth and ETA from the samples; add findings for series that grow while still small."""
    # Only this boot counts: a process or cache last seen before a reboot is gone, not growing.
    table = _series.SeriesTable(ctx.snap.get("samples") or [], trend.to_hours, boot=ctx.snap.get("boot_id") or None)
    available = ctx.available()[0]
    options = {"min_samples": ctx.opts["trend_min_samples"]}
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
    finding = item.finding
    if len(points) < 2:
        finding["evidence"].append("growth unproven: %s (run again later, or gather with samples > 1)" % (
            "one sample" if points else "no history for this series"))
        return
    fit = trend.fit(points, limit=points[-1][1] + available, options=options)
    finding["growth"] = {"bytes_per_hour": int(round(fit["bytes_per_hour"])), "samples": fit["samples"],
                         "span_hours": round(fit["span_hours"], 3), "confidence": fit["confidence"]}
    eta = fit["exhaustion_eta_hours"]
    if fit["leaking"] and eta is not None:
        finding["exhaustion_eta_hours"] = round(eta, 1)
        finding["evidence"].append("growing %s: memory runs out in about %s h at this rate" % (
            _rate_text(fit), "%.1f" % finding["exhaustion_eta_hours"]))
        if eta < ctx.opts["critical_eta_hours"] and finding["severity"] in _ABNORMAL:
            finding["severity"] = "critical"
    elif _stable(fit, options, points[-1][1] + available):
        finding["evidence"].append("not growing%s; %s" % (_why_not(fit), _rate_text(fit)))
        if finding["id"] == "process_leak":
            finding["severity"] = "info"
            finding["evidence"].append("stable over the window: a large working set, not a leak")
    else:
        finding["evidence"].append("growth unproven: %s; %s" % (fit["reason"], _rate_text(fit)))


def _stable(fit, options, limit):
    """Proven not to leak: enough samples, and no upward tendency or one too small to matter.

    A rising but short series is unproven, not stable; a series that moved by a
    few pages (PSS shifts when other processes map the same libraries) is stable.
    """
    if fit["samples"] < options["min_samples"]:
        return False
    floor = trend.DEFAULTS["min_growth_share"] * limit
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


def diagnose(snapshot, ledger=None, options=None):
    """memleak_diagnosis (schema 1) for one Linux snapshot.

    ``ledger`` is the output of ``memory_ledger`` for this snapshot (computed
    when None); ``options`` overrides thresholds of ``OPTIONS``. Raises
    DiagnosisError for input that is not a Linux snapshot or a bad option.
    """
    _snapshot_parts(snapshot)
    opts = resolve_options(options)
    try:
        details = build_ledger(snapshot)
    except LedgerError as exc:
        raise DiagnosisError(str(exc))
    entries = details["entries"] if ledger is None else _check_ledger(ledger, details["total"])
    ctx = _Context(snapshot, entries, details, opts)

    found = []
    for check in _CHECKS:
        found.extend(check(ctx))
    _apply_trend(ctx, found)

    available, label = ctx.available()
    short = available < opts["critical_available_share"] * ctx.total
    for item in found:
        if short and item.finding["severity"] in _ABNORMAL:
            item.finding["severity"] = "critical"
            item.finding["evidence"].append("%s %s: the host is short of memory"
                                            % (label, _size(available, ctx.total)))

    abnormal = [f for f in found if f.finding["severity"] in _ABNORMAL]
    if abnormal:
        winner = max(abnormal, key=lambda f: f.rank)
        verdict = {"id": winner.finding["id"], "severity": winner.finding["severity"], "summary": winner.summary}
        culprit, plan = winner.culprit, winner.plan
    else:
        cache = [f for f in found if f.finding["id"] == "page_cache"]
        if cache:
            verdict = {"id": "page_cache", "severity": VERDICTS["page_cache"], "summary": cache[0].summary}
            culprit, plan = cache[0].culprit, cache[0].plan
        else:
            verdict = {"id": "healthy", "severity": VERDICTS["healthy"],
                       "summary": "No abnormal memory use: %s %s of %s (%.1f %%) available." % (
                           label, human_bytes(available), human_bytes(ctx.total), _pct(available, ctx.total))}
            culprit = _culprit("none", "")
            plan = [_step("none", "Nothing abnormal was found.")]

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

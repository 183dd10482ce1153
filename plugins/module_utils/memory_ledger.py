# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux memory ledger: where every byte of MemTotal is (docs/linux-ledger.md).

``memory_ledger()`` splits MemTotal into categories that never overlap, so the
categories add up to MemTotal exactly and ``unaccounted`` is what no kernel
counter explains. The rules, and the kernel facts behind each of them, are
written for administrators in ``docs/linux-ledger.md``; keep the two in step.

The counters that overlap in /proc/meminfo, and how each overlap is resolved:

* ``Cached`` contains ``Shmem``, and the anonymous LRU lists contain Shmem too
  (tmpfs pages are swap-backed). User memory is therefore taken from the LRU
  lists (Active + Inactive + Unevictable, the formula that found the memory
  missing on a CentOS 7.4 VMware guest whose used memory was far above the
  sum of its processes) and Shmem is carved out of the anonymous and
  unevictable lists, never added twice.
  Buffers are file pages on the LRU lists as well. ``AnonPages`` contains
  ``AnonHugePages``; ``Mlocked`` is part of ``Unevictable``; ``SwapCached``
  pages sit on the LRU lists. None of those sub-counters is added.
* ``VmallocUsed`` measured vmalloc *address space* before Linux 4.4, was a
  constant 0 from 4.4 to 5.2 and counts vmalloc'ed *pages* from 5.3 (or from a
  distribution backport). Since 4.4 ``VmallocChunk`` is always 0, so a
  non-zero VmallocChunk also means the old meaning. Kernel stacks are
  vmalloc'ed when CONFIG_VMAP_STACK is set, so they are taken out of vmalloc
  rather than counted twice.
* ``Hugetlb`` (all huge page sizes) replaces HugePages_Total x Hugepagesize
  (default size only) when the kernel prints it.
* A balloon is counted only for the part that lies inside MemTotal: some
  drivers hand ballooned pages back by lowering MemTotal instead.

Everything here is pure: a snapshot or a parsed meminfo dict in, plain data out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import kernel_version

KIB = 1024
MIB = 1024 * KIB

# (category, what it is): the order of the ledger, stable for reports and dashboards.
CATEGORIES = (
    ("free", "memory nobody uses (MemFree, plus Unaccepted on confidential VMs)"),
    ("page_cache", "file pages and buffers on the LRU lists: reclaimable cache"),
    ("shmem", "tmpfs, /dev/shm, SysV and memfd shared memory (Shmem)"),
    ("anon", "anonymous memory of processes (heap, stacks), including transparent huge pages"),
    ("unevictable", "other unevictable pages: mlock()ed memory, ramfs"),
    ("slab_reclaimable", "kernel slab caches the kernel can shrink (dentries, inodes)"),
    ("slab_unreclaimable", "kernel slab caches in use (SUnreclaim)"),
    ("kernel_stack", "kernel stacks of all threads"),
    ("page_tables", "page tables (PageTables, plus SecPageTables of KVM/IOMMU)"),
    ("vmalloc", "pages allocated with vmalloc() (VmallocUsed, Linux 5.3+), without kernel stacks"),
    ("percpu", "per-CPU allocator chunks (Percpu)"),
    ("kernel_other", "HardwareCorrupted, Bounce, WritebackTmp, other reclaimable kernel memory"),
    ("hugepages", "reserved huge page pool (hugetlbfs), used or not"),
    ("zswap", "compressed swap cache pool (Zswap)"),
    ("zram", "zram compressed block devices (zsmalloc pages outside zswap)"),
    ("balloon", "memory the hypervisor took back through the balloon driver"),
    ("unaccounted", "MemTotal minus everything above: no kernel counter explains it"),
)
CATEGORY_NAMES = tuple(category[0] for category in CATEGORIES)

# When the counters add up to more than MemTotal, the excess is taken from these
# categories first: the ones whose meaning is least certain or that are known to
# contain memory outside MemTotal (the first Percpu chunk is set up at boot).
_TRIM_ORDER = ("percpu", "vmalloc", "kernel_other", "zram", "page_cache", "anon", "unevictable",
               "shmem", "slab_reclaimable", "slab_unreclaimable", "zswap", "kernel_stack",
               "page_tables", "hugepages", "balloon", "free")

# Counters are read one after the other and per-CPU counter deltas are folded in
# lazily, so a few MiB of disagreement is normal; beyond this it is an inconsistency.
DRIFT_SHARE = 0.01
DRIFT_MIN_BYTES = 64 * MIB

_LRU_FIELDS = ("Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)")

# Balloon drivers that keep ballooned pages inside MemTotal (the pages look
# "used") or take them out of it (MemTotal shrinks). (driver, kernel) -> bool|None.
_VMWARE_DRIVERS = ("vmw_balloon", "vmware_balloon", "vmmemctl")
_XEN_DRIVERS = ("xen_balloon", "xen-balloon", "xen")


class LedgerError(ValueError):
    """Input that is neither a snapshot with linux.meminfo nor a parsed meminfo dict."""


def kb_text(value):
    """Bytes as the kB figure /proc/meminfo shows: 5444485120 -> '5316880 kB'."""
    if value % KIB == 0:
        return "%d kB" % (value // KIB)
    return "%.1f kB" % (value / KIB)


def balloon_lowers_memtotal(driver, kernel=None):
    """True when ``driver`` takes ballooned pages out of MemTotal, False when it
    keeps them inside (they look used), None when it depends on what we cannot see.

    vmw_balloon keeps them inside; Xen lowers MemTotal; hv_balloon lowered it
    only from Linux 5.11 (before, its pages looked used); virtio_balloon lowers
    it unless the host offered VIRTIO_BALLOON_F_DEFLATE_ON_OOM.
    """
    name = (driver or "").lower()
    if name in _VMWARE_DRIVERS:
        return False
    if name in _XEN_DRIVERS:
        return True
    if name == "hv_balloon":
        if kernel is None:
            return None
        return kernel >= (5, 11)
    return None


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _split_input(source):
    """(meminfo, snapshot or None) from a snapshot or a meminfo dict."""
    if not isinstance(source, dict):
        raise LedgerError("expected a memleak_snapshot or a parsed /proc/meminfo dict, got %s"
                          % type(source).__name__)
    if "MemTotal" in source:
        meminfo, snap = source, None
    elif isinstance(source.get("linux"), dict):
        meminfo, snap = source["linux"].get("meminfo"), source
        if not isinstance(meminfo, dict) or "MemTotal" not in meminfo:
            raise LedgerError("snapshot of %s has no linux.meminfo.MemTotal: /proc/meminfo was not read"
                              % source.get("host", "?"))
    elif "windows" in source:
        raise LedgerError("snapshot of %s is a Windows snapshot: the Linux memory ledger needs linux.meminfo"
                          % source.get("host", "?"))
    else:
        raise LedgerError("expected a memleak_snapshot (with linux.meminfo) or a parsed /proc/meminfo dict "
                          "(with MemTotal); got a dict with keys %s" % ", ".join(sorted(str(k) for k in source)[:8]))
    for name, value in meminfo.items():
        if not _is_count(value) or value < 0:
            raise LedgerError("meminfo field %s is %r: expected a whole number of bytes >= 0" % (name, value))
    if meminfo["MemTotal"] <= 0:
        raise LedgerError("meminfo MemTotal is 0: not a usable /proc/meminfo")
    # Every kernel prints these; without them "unaccounted" would silently be everything.
    if "MemFree" not in meminfo:
        raise LedgerError("meminfo has no MemFree line: not a complete /proc/meminfo")
    if not all(name in meminfo for name in _LRU_FIELDS) and not ("Cached" in meminfo and "AnonPages" in meminfo):
        raise LedgerError("meminfo has neither the Active/Inactive(anon/file) lines nor Cached and AnonPages: "
                          "user memory cannot be counted")
    return meminfo, snap


def _get(meminfo, name):
    return meminfo.get(name) or 0


def _page_size(meminfo, vmstat):
    """Base page size, from MemFree / vmstat nr_free_pages (read moments apart), or None."""
    pages = (vmstat or {}).get("nr_free_pages")
    free = meminfo.get("MemFree")
    if not _is_count(pages) or pages <= 0 or not free:
        return None
    ratio = free / pages
    for size in (4096, 8192, 16384, 65536):
        if abs(ratio - size) <= 0.1 * size:
            return size
    return None


class _Builder(object):
    """Collects the categories, their descriptions and the notes for one ledger."""

    def __init__(self, total):
        self.total = total
        self.values = dict((name, 0) for name in CATEGORY_NAMES)
        self.texts = dict((name, text) for name, text in CATEGORIES)
        self.notes = []

    def put(self, name, value, text=None):
        self.values[name] = max(0, int(value))
        if text:
            self.texts[name] = text

    def counted(self, without=()):
        return sum(v for k, v in self.values.items() if k != "unaccounted" and k not in without)


def _user_pages(b, mi):
    """page_cache, shmem, anon, unevictable without overlap; returns the method used."""
    shmem = _get(mi, "Shmem")
    if all(name in mi for name in _LRU_FIELDS):
        anon_lru = mi["Active(anon)"] + mi["Inactive(anon)"]
        file_lru = mi["Active(file)"] + mi["Inactive(file)"]
        unevictable = _get(mi, "Unevictable")
        shmem_in = min(shmem, anon_lru + unevictable)
        from_anon = min(shmem_in, anon_lru)
        from_unevictable = shmem_in - from_anon
        b.put("page_cache", file_lru, "Active(file) %s + Inactive(file) %s (Buffers %s are among them)"
              % (kb_text(mi["Active(file)"]), kb_text(mi["Inactive(file)"]), kb_text(_get(mi, "Buffers"))))
        b.put("shmem", shmem_in, "Shmem %s (on the anonymous and unevictable LRU lists, part of Cached)"
              % kb_text(shmem))
        b.put("anon", anon_lru - from_anon, "Active(anon) %s + Inactive(anon) %s - Shmem %s"
              % (kb_text(mi["Active(anon)"]), kb_text(mi["Inactive(anon)"]), kb_text(from_anon)))
        text = "Unevictable %s" % kb_text(unevictable)
        if from_unevictable:
            text += " - Shmem %s (locked shared memory)" % kb_text(from_unevictable)
        b.put("unevictable", unevictable - from_unevictable, text + " (Mlocked %s is part of it)"
              % kb_text(_get(mi, "Mlocked")))
        if shmem > shmem_in:
            b.notes.append("Shmem %s is larger than the anonymous and unevictable LRU lists (%s): only %s counted"
                           % (kb_text(shmem), kb_text(anon_lru + unevictable), kb_text(shmem_in)))
        return "lru"
    # Without the split LRU counters: Buffers + Cached + AnonPages, Cached contains Shmem.
    cache = max(0, _get(mi, "Buffers") + _get(mi, "Cached") - shmem)
    b.put("page_cache", cache, "Buffers %s + Cached %s - Shmem %s (no Active(file)/Inactive(file) lines)"
          % (kb_text(_get(mi, "Buffers")), kb_text(_get(mi, "Cached")), kb_text(shmem)))
    b.put("shmem", shmem, "Shmem %s" % kb_text(shmem))
    b.put("anon", _get(mi, "AnonPages"), "AnonPages %s (contains AnonHugePages)" % kb_text(_get(mi, "AnonPages")))
    b.put("unevictable", 0, "not counted separately: Unevictable overlaps Cached and AnonPages")
    return "cache"


def _kernel_pages(b, mi, kernel):
    """Slab, stacks, page tables, vmalloc, percpu and the small kernel counters."""
    if "SReclaimable" in mi or "SUnreclaim" in mi:
        reclaimable = _get(mi, "SReclaimable")
        unreclaimable = mi["SUnreclaim"] if "SUnreclaim" in mi else max(0, _get(mi, "Slab") - reclaimable)
    else:
        reclaimable, unreclaimable = 0, _get(mi, "Slab")
    b.put("slab_reclaimable", reclaimable, "SReclaimable %s" % kb_text(reclaimable))
    b.put("slab_unreclaimable", unreclaimable, "SUnreclaim %s" % kb_text(unreclaimable))

    stacks = _get(mi, "KernelStack")
    b.put("kernel_stack", stacks, "KernelStack %s" % kb_text(stacks))
    tables = _get(mi, "PageTables") + _get(mi, "SecPageTables")
    text = "PageTables %s" % kb_text(_get(mi, "PageTables"))
    if "SecPageTables" in mi:
        text += " + SecPageTables %s" % kb_text(mi["SecPageTables"])
    b.put("page_tables", tables, text)

    _vmalloc(b, mi, kernel, stacks)

    b.put("percpu", _get(mi, "Percpu"), "Percpu %s" % kb_text(_get(mi, "Percpu")) if "Percpu" in mi
          else "no Percpu line (Linux < 4.19): part of unaccounted")

    other = []
    for name in ("HardwareCorrupted", "Bounce", "WritebackTmp"):
        if _get(mi, name):
            other.append((name, mi[name]))
    misc = max(0, _get(mi, "KReclaimable") - _get(mi, "SReclaimable"))
    if misc:
        other.append(("KReclaimable - SReclaimable", misc))
    b.put("kernel_other", sum(value for name, value in other),
          " + ".join("%s %s" % (n, kb_text(v)) for n, v in other) or "HardwareCorrupted, Bounce, WritebackTmp: 0")


def _vmalloc(b, mi, kernel, stacks):
    used = mi.get("VmallocUsed")
    chunk = mi.get("VmallocChunk")
    where = "Linux %d.%d" % kernel if kernel else "kernel version unknown"
    if not used:
        b.put("vmalloc", 0, "VmallocUsed %s" % ("0 kB" if used == 0 else "not reported"))
        return
    if kernel is not None and kernel < (4, 4):
        reason = "before Linux 4.4 it is vmalloc address space (ioremap included), not RAM (%s)" % where
    elif chunk:
        reason = "VmallocChunk %s is not 0, so this kernel still reports address space, not RAM (%s)" % (
            kb_text(chunk), where)
    elif kernel is None and chunk is None:
        reason = "no kernel version and no VmallocChunk line: its meaning cannot be told"
    else:
        reason = None
    if reason:
        b.put("vmalloc", 0, "VmallocUsed %s not counted: %s" % (kb_text(used), reason))
        b.notes.append("VmallocUsed %s not counted: %s" % (kb_text(used), reason))
        return
    if stacks and used >= stacks:
        b.put("vmalloc", used - stacks, "VmallocUsed %s - KernelStack %s (stacks are vmalloc'ed with "
              "CONFIG_VMAP_STACK and shown under kernel_stack)" % (kb_text(used), kb_text(stacks)))
    else:
        b.put("vmalloc", used, "VmallocUsed %s (smaller than KernelStack: stacks are not vmalloc'ed here)"
              % kb_text(used))


def _hugepages(b, mi):
    if "Hugetlb" in mi:
        b.put("hugepages", mi["Hugetlb"], "Hugetlb %s (every huge page size)" % kb_text(mi["Hugetlb"]))
        return
    count = _get(mi, "HugePages_Total")
    size = _get(mi, "Hugepagesize")
    b.put("hugepages", count * size, "HugePages_Total %d x Hugepagesize %s" % (count, kb_text(size)))


def _compressed(b, mi, vmstat):
    zswap = _get(mi, "Zswap")
    b.put("zswap", zswap, "Zswap %s (compressed pool; Zswapped is what it stands for, not RAM)" % kb_text(zswap)
          if "Zswap" in mi else "no Zswap line (Linux < 5.19 or zswap not built)")
    zspages = (vmstat or {}).get("nr_zspages")
    if not _is_count(zspages) or zspages <= 0:
        b.put("zram", 0, "vmstat nr_zspages %s" % ("0" if zspages == 0 else "not known"))
        return
    size = _page_size(mi, vmstat)
    if size is None:
        b.put("zram", 0, "vmstat nr_zspages %d, but the page size is not known: left in unaccounted" % zspages)
        return
    b.put("zram", zspages * size - zswap, "vmstat nr_zspages %d x %d bytes - Zswap %s" % (
        zspages, size, kb_text(zswap)))


def _loaded_state(info, snap):
    """True / False (proved by a module list) / None (unknown) for the balloon driver.

    A snapshot that lists what it read (``captured``) proves "not loaded" only when the
    module list (``modules``) is among it; older snapshots set virt.balloon only after
    reading the module list, so their ``loaded`` stands.
    """
    loaded = info.get("loaded")
    if loaded is True:
        return True
    captured = (snap or {}).get("captured")
    if loaded is False and (not isinstance(captured, dict) or "modules" in captured):
        return False
    return None


def _balloon(b, mi, snap, kernel):
    """Put the part of the balloon that lies inside MemTotal; returns the balloon facts."""
    info = ((snap or {}).get("virt") or {}).get("balloon")
    if not isinstance(info, dict):
        info = {}
    driver = info.get("driver")
    loaded = _loaded_state(info, snap)
    size, source, known = 0, None, "Balloon" in mi
    if _get(mi, "Balloon"):
        size, source = mi["Balloon"], "meminfo Balloon"
    elif loaded and _is_count(info.get("bytes")):
        known = True
        if info["bytes"] > 0:
            size, source = info["bytes"], "%s statistics (virt.balloon)" % (driver or "balloon driver")
    facts = {"driver": driver, "loaded": loaded, "bytes": size, "known": known, "in_ledger": 0, "source": source,
             "lowers_memtotal": balloon_lowers_memtotal(driver, kernel) if driver else None}
    if not size:
        if known:
            text = "Balloon 0 kB" if "Balloon" in mi else "%s loaded, balloon empty (0 kB)" % (driver or "driver")
        elif loaded is None:
            text = "balloon state unknown: neither the loaded modules nor a balloon size were captured"
        elif not loaded:
            text = "no balloon driver loaded (the module list was read)"
        else:
            text = "%s loaded, %s" % (driver or "driver", "balloon empty (0 kB)" if known else "size not known")
        b.put("balloon", 0, text)
        return facts
    if facts["lowers_memtotal"]:
        b.put("balloon", 0, "%s %s lies outside MemTotal: %s lowers MemTotal for ballooned pages"
              % (source, kb_text(size), driver))
        b.notes.append("balloon of %s is outside MemTotal (%s lowers MemTotal)" % (kb_text(size), driver))
        return facts
    room = max(0, b.total - b.counted(without=("balloon",)))
    inside = min(size, room)
    facts["in_ledger"] = inside
    text = "%s %s" % (source, kb_text(size))
    if inside < size:
        text += "; only %s fits in MemTotal, the rest lies outside it" % kb_text(inside)
        b.notes.append("balloon %s is larger than the memory missing from the counters (%s): the driver "
                       "lowered MemTotal for part of it, or the figures were read at different moments"
                       % (kb_text(size), kb_text(room)))
    b.put("balloon", inside, text)
    return facts


def _close(b):
    """unaccounted = MemTotal - counted; trims an overshoot so nothing goes negative."""
    counted = b.counted()
    rest = b.total - counted
    if rest >= 0:
        b.put("unaccounted", rest, "MemTotal %s - the %s above" % (kb_text(b.total), kb_text(counted)))
        return 0, True
    over = -rest
    left = over
    trimmed = []
    for name in _TRIM_ORDER:
        if not left:
            break
        take = min(b.values[name], left)
        if take:
            b.values[name] -= take
            left -= take
            trimmed.append("%s %s" % (name, kb_text(take)))
    drift = over <= max(DRIFT_SHARE * b.total, DRIFT_MIN_BYTES)
    why = ("within the drift of counters read one after the other" if drift
           else "too much for counter drift: this meminfo is not self-consistent (a container view such "
                "as lxcfs, or a hand-edited file?)")
    b.put("unaccounted", 0, "0: the counters add up to %s more than MemTotal %s, %s; trimmed from %s"
          % (kb_text(over), kb_text(b.total), why, ", ".join(trimmed)))
    if not drift:
        b.notes.append("counters exceed MemTotal by %s (%.1f %%): %s" % (kb_text(over), 100.0 * over / b.total, why))
    return over, drift


def build_ledger(source, kernel=None):
    """The ledger and how it was derived.

    ``source`` is a memleak_snapshot or a parsed meminfo dict (bytes);
    ``kernel`` a release string such as ``3.10.0-693.el7.x86_64`` that overrides
    the snapshot's ``os.kernel``. Returns a dict: ``entries`` (the ledger),
    ``total``, ``kernel`` ((major, minor) or None), ``method`` (``lru`` or
    ``cache``), ``overshoot`` (bytes the counters exceeded MemTotal by),
    ``consistent``, ``notes`` (plain sentences) and ``balloon`` (driver, loaded: True, False
    (proved) or None (unknown), bytes, known (whether the size was read at all), in_ledger, source, lowers_memtotal).
    """
    meminfo, snap = _split_input(source)
    release = kernel if kernel is not None else ((snap or {}).get("os") or {}).get("kernel")
    version = kernel_version(release) if release else None
    vmstat = ((snap or {}).get("linux") or {}).get("vmstat") or {}
    b = _Builder(meminfo["MemTotal"])

    free = _get(meminfo, "MemFree") + _get(meminfo, "Unaccepted")
    text = "MemFree %s" % kb_text(_get(meminfo, "MemFree"))
    if _get(meminfo, "Unaccepted"):
        text += " + Unaccepted %s (not yet accepted from the hypervisor)" % kb_text(meminfo["Unaccepted"])
    b.put("free", free, text)
    method = _user_pages(b, meminfo)
    _kernel_pages(b, meminfo, version)
    _hugepages(b, meminfo)
    _compressed(b, meminfo, vmstat)
    balloon = _balloon(b, meminfo, snap, version)
    overshoot, drift = _close(b)

    entries = [{"category": name, "bytes": b.values[name], "description": b.texts[name]}
               for name in CATEGORY_NAMES]
    return {"entries": entries, "total": b.total, "kernel": version, "method": method,
            "overshoot": overshoot, "consistent": drift, "notes": b.notes, "balloon": balloon}


def memory_ledger(snapshot_or_meminfo, kernel=None):
    """[{category, bytes, description}] summing exactly to MemTotal (see module doc)."""
    return build_ledger(snapshot_or_meminfo, kernel)["entries"]

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots to compact history samples, and samples back to named series.

A sample is ``{"v": 1, "t": collected_at, "boot": boot_id, "s": {series: bytes}}``:
a few hundred bytes, the same for Linux and Windows, so the history file stays
small and the trend code never needs to know where a number came from.
Series names (the only place they are spelled):

  mem.<key>              memory totals (available, free, used, commit_used)
  ledger.<category>      memory ledger categories, e.g. ledger.unaccounted
  balloon                balloon size
  slab:<cache>           slab cache bytes
  proc:<name>[<pid>]     process PSS (or RSS); a restarted process is a new series
  tmpfs:<mount>          tmpfs mount usage
  ksite:<file:line>      bytes of a kernel allocation call site (/proc/allocinfo)
  pool.<paged|nonpaged>  Windows pool totals
  tag.<p|np>:<TAG>       pool tag bytes;  tag.<p|np>_out:<TAG> outstanding allocations
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from datetime import datetime

SAMPLE_FORMAT = 1
_NUMBERS = frozenset((int, float))
_MEMORY_KEYS = ("available", "free", "used", "commit_used")
_HOURS = {}  # ISO text -> hours, see to_hours


def to_hours(stamp):
    """ISO-8601 UTC ('2026-11-23T12:00:00Z') -> hours since the epoch; numbers pass through."""
    if stamp.__class__ is float:
        return stamp
    if isinstance(stamp, (int, float)):
        return float(stamp)
    hours = _HOURS.get(stamp) if isinstance(stamp, str) else None
    if hours is None:
        text = stamp.strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
        hours = (moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)).total_seconds() / 3600.0
        if len(_HOURS) >= 4096:  # the series of one host share their sample times: a small cache does
            _HOURS.clear()
        _HOURS[stamp] = hours
    return hours


def key(kind, name, pid=None):
    """Series name for a finding subject (kind as in the diagnosis culprit kinds)."""
    if kind == "process":
        return "proc:%s[%s]" % (name, pid)
    if kind == "slab_cache":
        return "slab:%s" % name
    if kind == "tmpfs":
        return "tmpfs:%s" % name
    if kind == "balloon":
        return "balloon"
    if kind == "kernel_site":
        return "ksite:%s" % name
    if kind == "pool_tag":
        return "tag.np:%s" % name
    return "ledger.%s" % name


def compact_sample(snapshot, ledger=None, top=10):
    """The history line for one snapshot: totals, ledger, and the top-N of each table."""
    values = {}
    memory = snapshot.get("memory") or {}
    for name in _MEMORY_KEYS:
        _put(values, "mem." + name, memory.get(name))
    for entry in ledger or []:
        _put(values, "ledger." + entry["category"], entry.get("bytes"))
    balloon = (snapshot.get("virt") or {}).get("balloon") or {}
    _put(values, "balloon", balloon.get("bytes"))
    linux = snapshot.get("linux") or {}
    for cache in (linux.get("slab") or [])[:top]:
        _put(values, key("slab_cache", cache.get("name")), cache.get("bytes"))
    for proc in (linux.get("processes") or [])[:top]:
        size = proc.get("pss") if proc.get("pss") is not None else proc.get("rss")
        _put(values, key("process", proc.get("name"), proc.get("pid")), size)
    for mount in (linux.get("tmpfs") or [])[:top]:
        _put(values, key("tmpfs", mount.get("mount")), mount.get("used"))
    allocinfo = (linux.get("kernel_sources") or {}).get("allocinfo") or {}
    for site in (allocinfo.get("sites") or [])[:top]:
        _put(values, key("kernel_site", site.get("site")), site.get("bytes"))
    windows = snapshot.get("windows") or {}
    pools = windows.get("pools") or {}
    for pool in ("paged", "nonpaged"):
        _put(values, "pool." + pool, (pools.get(pool) or {}).get("bytes"))
    for tag in (windows.get("tags") or [])[:top]:
        for short, pool in (("p", "paged"), ("np", "nonpaged")):
            _put(values, "tag.%s:%s" % (short, tag.get("tag")), tag.get(pool + "_bytes"))
            allocs, frees = tag.get(pool + "_allocs"), tag.get(pool + "_frees")
            if allocs is not None and frees is not None:
                values["tag.%s_out:%s" % (short, tag.get("tag"))] = (allocs - frees) % (1 << 32)
    return {"v": SAMPLE_FORMAT, "t": snapshot.get("collected_at"), "boot": snapshot.get("boot_id"), "s": values}


class SeriesTable(object):
    """The samples of one host, read one series at a time.

    A host keeps a few dozen series over the same sample times: the times are
    parsed and ordered once here, and a series is only built when asked for,
    instead of one tuple per value for every series up front.
    """

    def __init__(self, samples, to_hours, boot=None):
        rows = []
        for sample in samples:
            if not isinstance(sample, dict) or not isinstance(sample.get("s"), dict):
                continue
            if boot is not None and sample.get("boot") != boot:
                continue
            try:
                hours = to_hours(sample.get("t"))
            except (ValueError, TypeError, AttributeError):
                continue  # a time that cannot be read cannot be placed in a trend
            rows.append((hours, sample.get("boot"), sample["s"]))
        rows.sort(key=lambda row: row[0])
        self._hours = [row[0] for row in rows]
        self._boots = [row[1] for row in rows]
        self._values = [row[2] for row in rows]
        self._cache = {}
        names = set()
        for values in self._values:
            names.update(values)
        self.names = sorted(names)

    def points(self, name):
        """[(hours, value, boot)] of the samples holding a number for ``name``, oldest first."""
        found = self._cache.get(name)
        if found is None:
            values = [row.get(name) for row in self._values]
            if set(map(type, values)) <= _NUMBERS:
                found = list(zip(self._hours, values, self._boots))
            else:
                found = [(hours, value, boot) for hours, value, boot in zip(self._hours, values, self._boots)
                         if isinstance(value, (int, float)) and not isinstance(value, bool)]
            self._cache[name] = found
        return found


def _put(values, name, value):
    if isinstance(value, int) and not isinstance(value, bool):
        values[name] = value

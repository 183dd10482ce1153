# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data contracts (docs/architecture.md, Data contracts; docs/data-contracts.md), in one place.

Everything downstream of a gather module or an offline parser reads only the
snapshot described here, and every report keys on the verdict ids below, so
they change only with the schema number.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SNAPSHOT_SCHEMA = 1
DIAGNOSIS_SCHEMA = 1

# Artifacts a snapshot may list in ``captured`` ({artifact: where}: a relative path offline, "live"
# on the host). An artifact not listed was not read: its facts are unknown, never absent.
ARTIFACTS = ("meminfo", "meminfo_partial", "vmstat", "slabinfo", "slabtop", "free", "modules", "balloon",
             "processes", "oom", "tmpfs", "hugepages", "sysctl", "allocinfo", "vmallocinfo", "kmemleak",
             "page_owner", "poolmon", "poolused", "vm", "memusage", "perfmon", "event_2004", "systeminfo",
             "tcp", "platform", "kernel_trace")

# How sure a finding or verdict is: a trend proven over enough time or a hard limit hit; one
# snapshot with strong, direct evidence; inferred, partial or rising but not proven.
CONFIDENCES = ("suspected", "likely", "proven")

SEVERITIES = ("ok", "info", "warning", "critical")


def severity_rank(severity, unknown=-1):
    """Position of ``severity`` in SEVERITIES (0 ok .. 3 critical); ``unknown`` for anything else."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else unknown


# Verdict id -> default severity (docs/architecture.md, Verdict ids).
VERDICTS = {
    "healthy": "ok",
    "page_cache": "ok",
    "pool_leak": "critical",
    "pool_pressure": "warning",
    "socket_exhaustion": "critical",
    "balloon_inflation": "warning",
    "slab_growth": "warning",
    "unaccounted_kernel": "warning",
    "process_leak": "warning",
    "shmem_tmpfs": "warning",
    "hugepages_reserved": "warning",
    "commit_exhaustion": "critical",
}

CULPRIT_KINDS = ("pool_tag", "slab_cache", "process", "balloon", "tmpfs", "hugepages", "kernel", "kernel_module",
                 "none")

PLAN_STEPS = ("none", "patch_os", "vmware_tools", "restart", "escalate")


def platform_text(virt):
    """'kvm', 'kvm, in a docker container', 'docker container' (platform unknown): both when both are true."""
    virt = virt if isinstance(virt, dict) else {}
    platform = virt.get("platform") or "unknown"
    container = virt.get("container")
    if not container:
        return platform
    if platform in ("unknown", "none"):
        return "%s container%s" % (container, " on bare metal" if platform == "none" else "")
    return "%s, in a %s container" % (platform, container)


def new_snapshot(host, collected_at, source="live", family="linux"):
    """An empty v1 snapshot: every key present, unknown values None; ``captured`` empty (nothing read yet)."""
    snap = {
        "schema": SNAPSHOT_SCHEMA,
        "host": host,
        "collected_at": collected_at,
        "boot_id": None,
        "source": source,
        "os": {"family": family, "name": None, "version": None, "build": None,
               "arch": None, "kernel": None, "ram_bytes": None},
        "virt": {"platform": "unknown", "container": None, "tools": None, "balloon": None},
        "memory": {"total": None, "free": None, "available": None, "used": None,
                   "commit_used": None, "commit_limit": None},
        "samples": [],
        "captured": {},
        "warnings": [],
    }
    if family == "linux":
        snap["linux"] = {"meminfo": {}, "vmstat": {}, "slab": None, "processes": [],
                         "tmpfs": [], "deleted_open": [], "dentry_state": None, "oom_kills": None}
    else:
        snap["windows"] = {"pools": None, "tags": [], "drivers": {}, "processes": [],
                           "tcp": None, "bugchecks": [], "low_memory_events": None}
    return snap

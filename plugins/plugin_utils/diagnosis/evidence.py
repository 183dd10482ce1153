# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a snapshot proves, what it leaves unknown, and the commands that would settle it.

Every fact a rule uses is in one of three states: *known* (read), *absent*
(proved: the artifact that would show it was read and does not), or *unknown*
(the artifact was not captured). ``snapshot["captured"]`` names the artifacts
read (docs/data-contracts.md); a snapshot without that key comes from an older
collector, and what it holds is taken as captured. A rule may state an absence
only through ``Evidence.absent``; for an unknown fact it adds ``missing``
entries: ``{what, command}``, the exact capture to take next.

Confidence (contract in docs/data-contracts.md): ``proven`` (a trend over
enough time and above its noise, or a hard limit hit), ``likely`` (one
snapshot, strong and direct evidence), ``suspected`` (inferred, partial, or
rising but not proven).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CONFIDENCES = ("suspected", "likely", "proven")

# artifact -> (what it would settle, the command that captures it).
COMMANDS = {
    "meminfo": ("the full memory counters (MemTotal, MemAvailable, Slab, Shmem...)", "cat /proc/meminfo"),
    "vmstat": ("page counters (zram, balloon pages)", "cat /proc/vmstat"),
    "slabinfo": ("the kernel slab caches by name", "slabtop -o"),
    "modules": ("whether a balloon driver is loaded", "lsmod"),
    "balloon": ("how much memory the VMware balloon holds", "vmware-toolbox-cmd stat balloon"),
    "processes": ("the largest processes", "ps aux --sort=-rss"),
    "platform": ("the hypervisor this guest runs on", "systemd-detect-virt"),
    "tmpfs": ("which tmpfs mounts hold Shmem", "df -t tmpfs"),
    "history": ("samples over hours, to prove growth or stability",
                "run the diagnose playbook every hour (it keeps the host's sample history)"),
    "poolused": ("the pool tags by size", "!poolused 2"),
    "poolmon": ("the pool tags over time", "poolmon -b -n FILE"),
    "systeminfo": ("the Windows release and RAM (pool limits, commit)", "systeminfo"),
    "vm": ("pool limits and commit as the kernel reports them", "!vm"),
    "driver_tags": ("which driver file holds the pool tag", "findstr /m /l TAG C:\\Windows\\System32\\drivers\\*.sys"),
    "windows_processes": ("the processes by private bytes",
                          "Get-Process | Sort-Object PrivateMemorySize64 -Descending | Select-Object -First 15"),
}


def missing(artifact, what=None, command=None):
    """One ``{what, command}`` entry for an artifact of COMMANDS (``what``/``command`` override)."""
    default_what, default_command = COMMANDS[artifact]
    return {"what": what or default_what, "command": command or default_command}


def merge_missing(*lists):
    """The entries of ``lists`` in order, each command once."""
    seen, out = set(), []
    for entries in lists:
        for entry in entries or []:
            if entry["command"] not in seen:
                seen.add(entry["command"])
                out.append(entry)
    return out


def weakest(*levels):
    """The lowest of the given confidences (a conclusion is as strong as its weakest step)."""
    ranked = [CONFIDENCES.index(level) for level in levels if level in CONFIDENCES]
    return CONFIDENCES[min(ranked)] if ranked else "suspected"


def captured(snapshot):
    """{artifact: where} the snapshot says it read; inferred from its content when it does not say."""
    given = snapshot.get("captured")
    if isinstance(given, dict):
        return given
    where = snapshot.get("source") or "live"
    inferred = {}
    linux = snapshot.get("linux")
    if isinstance(linux, dict):
        if "MemTotal" in (linux.get("meminfo") or {}):
            inferred["meminfo"] = where
        if linux.get("vmstat"):
            inferred["vmstat"] = where
        if linux.get("slab") is not None:
            inferred["slabinfo"] = where
        if linux.get("processes"):
            inferred["processes"] = where
        if linux.get("tmpfs"):
            inferred["tmpfs"] = where
    balloon = (snapshot.get("virt") or {}).get("balloon")
    if isinstance(balloon, dict):
        inferred["modules"] = where  # older collectors set virt.balloon only after reading the module list
        if isinstance(balloon.get("bytes"), int):
            inferred["balloon"] = where
    windows = snapshot.get("windows")
    if isinstance(windows, dict):
        if windows.get("tags"):
            inferred["poolmon"] = where
        if windows.get("processes"):
            inferred["processes"] = where
    return inferred


class Evidence(object):
    """The three states of the facts of one snapshot."""

    def __init__(self, snapshot):
        self.captured = captured(snapshot)

    def has(self, *artifacts):
        """True when any of ``artifacts`` was read."""
        return any(a in self.captured for a in artifacts)

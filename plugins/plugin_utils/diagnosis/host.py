# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host from snapshot to report: the logic of the diagnose_host action and of two filters.

``leak_diagnosis()`` and ``kb_annotate()`` are what the filters of the same names run (they only
turn ``HostDiagnosisError`` into a filter error), so a play that composes the filters and the
diagnose_host action give the same diagnosis. ``gather_module()`` and ``gather_args()`` choose the
module that reads a host and its arguments, ``host_report()`` is the ``<host>.json`` file the
report_files writer puts on the controller.

Why an action: every task costs Ansible a worker process and a round of templating on the
controller, more than the diagnosis itself (benchmarks/NOTES.md, "Per-host cost over SSH").

Controller side only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import windows
from ansible_collections.memleak.remediation.plugins.plugin_utils.knowledge.base import (
    KnowledgeError, annotate, load_knowledge)

LINUX_MODULE = "memleak.remediation.meminfo_facts"
WINDOWS_MODULE = "memleak.remediation.win_pool_facts"

_LINUX_OPTIONS = frozenset(option[0] for option in linux.OPTIONS)
_WINDOWS_OPTIONS = frozenset(option[0] for option in windows.OPTIONS if option[0] not in _LINUX_OPTIONS)

# Connections and shells that mean Windows; the diagnose role's rule (no fact gathering needed).
WINDOWS_CONNECTIONS = frozenset(["winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp",
                                 "ansible.windows.winrm", "ansible.windows.psrp"])
WINDOWS_SHELLS = frozenset(["powershell", "cmd", "ansible.builtin.powershell", "ansible.builtin.cmd"])

# Options of the gather modules that the action passes on; the rest of its options are its own.
_SHARED_GATHER = ("host", "top", "samples", "interval", "history", "history_path")
_LINUX_GATHER = _SHARED_GATHER + ("proc_root",)
_WINDOWS_GATHER = _SHARED_GATHER + ("scan_drivers", "pooltag_file")
# win_pool_facts takes at least two in-run samples: poolmon's difference view needs a pair.
WINDOWS_MIN_SAMPLES = 2


class HostDiagnosisError(ValueError):
    """Bad input to the diagnosis or the knowledge base; the message names the option or the file."""


def is_windows(connection=None, shell_type=None):
    """Whether a host is Windows, told by its connection or shell (WinRM, PSRP, PowerShell over SSH)."""
    return (connection or "") in WINDOWS_CONNECTIONS or (shell_type or "") in WINDOWS_SHELLS


def gather_module(os_family, connection=None, shell_type=None):
    """The module that reads the host: ``os_family`` 'linux' or 'windows', or 'auto' (by connection)."""
    if os_family == "auto":
        os_family = "windows" if is_windows(connection, shell_type) else "linux"
    if os_family == "windows":
        return WINDOWS_MODULE
    if os_family == "linux":
        return LINUX_MODULE
    raise HostDiagnosisError("os_family must be auto, linux or windows, got %r" % (os_family,))


def gather_args(module, options):
    """Arguments for ``module`` from the action's options: only the ones it takes, None left out (omit)."""
    names = _WINDOWS_GATHER if module == WINDOWS_MODULE else _LINUX_GATHER
    args = dict((name, options[name]) for name in names if options.get(name) is not None)
    if module == WINDOWS_MODULE and "samples" in args:
        args["samples"] = max(int(args["samples"]), WINDOWS_MIN_SAMPLES)
    return args


def leak_diagnosis(snapshot, thresholds=None, ledger=None, **overrides):
    """The diagnosis of a snapshot (Linux or Windows by its os.family), thresholds merged with overrides."""
    if thresholds is not None and not isinstance(thresholds, dict):
        raise HostDiagnosisError("thresholds must be a dict, got %s" % type(thresholds).__name__)
    merged = dict(thresholds or {})
    merged.update(overrides)
    unknown = sorted(name for name in merged if name not in _LINUX_OPTIONS and name not in _WINDOWS_OPTIONS)
    if unknown:
        raise HostDiagnosisError("unknown threshold %r; known: %s"
                                 % (unknown[0], ", ".join(sorted(_LINUX_OPTIONS | _WINDOWS_OPTIONS))))
    if isinstance(snapshot, dict) and not isinstance(snapshot.get("os") or {}, dict):
        raise HostDiagnosisError("input is not a memleak_snapshot (os is %s, not a dict)" % type(snapshot["os"]).__name__)
    family = ((snapshot.get("os") or {}) if isinstance(snapshot, dict) else {}).get("family")
    try:
        if family == "windows":
            return windows.diagnose_windows(
                snapshot, options=dict((k, v) for k, v in merged.items() if k in _WINDOWS_OPTIONS), ledger=ledger)
        return linux.diagnose(snapshot, ledger=ledger,
                              options=dict((k, v) for k, v in merged.items() if k in _LINUX_OPTIONS))
    except (linux.DiagnosisError, windows.WindowsDiagnosisError) as exc:
        raise HostDiagnosisError(str(exc))


def kb_annotate(diagnosis, snapshot=None, kb_files=None, pooltag_file=None, builtin=True):
    """The diagnosis annotated from the knowledge base (the collection's, the user's files, pooltag.txt)."""
    if not isinstance(diagnosis, dict):
        raise HostDiagnosisError("input must be a memleak_diagnosis dict, got %s" % type(diagnosis).__name__)
    if snapshot is not None and not isinstance(snapshot, dict):
        raise HostDiagnosisError("snapshot must be a memleak_snapshot dict, got %s" % type(snapshot).__name__)
    if kb_files is None:
        kb_files = []
    if isinstance(kb_files, str):
        kb_files = [kb_files]
    if not isinstance(kb_files, (list, tuple)) or not all(isinstance(p, str) for p in kb_files):
        raise HostDiagnosisError("kb_files must be a list of paths")
    if pooltag_file is not None and not isinstance(pooltag_file, str):
        raise HostDiagnosisError("pooltag_file must be a path")
    try:
        kb = load_knowledge(list(kb_files), pooltag_file or None, builtin=bool(builtin))
        return annotate(diagnosis, snapshot, kb)
    except KnowledgeError as exc:
        raise HostDiagnosisError(str(exc))


def diagnose_snapshot(snapshot, thresholds=None, kb_files=None, pooltag_file=None):
    """leak_diagnosis then kb_annotate, as the diagnose role chained the two filters."""
    return kb_annotate(leak_diagnosis(snapshot, thresholds), snapshot=snapshot, kb_files=kb_files,
                       pooltag_file=pooltag_file or None)


def host_report(host, snapshot, diagnosis):
    """The ``<host>.json`` entry for the report_files writer: what ``to_nice_json(indent=2)`` writes, and a newline."""
    content = json.dumps({"memleak_snapshot": snapshot, "memleak_diagnosis": diagnosis}, indent=2, sort_keys=True,
                         separators=(",", ": "))
    return {"name": "%s.json" % host, "content": content + "\n", "mode": "0644"}

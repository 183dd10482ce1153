# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: memleak_captures
version_added: 0.1.0
short_description: Read captured memory data of unreachable hosts into memory snapshots
description:
  - Reads, on the controller, what support engineers keep of a host that cannot be reached or has crashed,
    and returns one C(memleak_snapshot) per capture, the same shape the gather modules return, so the
    P(memleak.remediation.leak_diagnosis#filter) filter diagnoses it like a live host.
  - A path is one capture or a folder of captures (one per sub-folder or archive). A capture is a sosreport
    (folder, C(.tar.xz), C(.tar.gz), C(.zip)), a folder of Windows tool output (C(poolmon -n) logs and screen
    copies, WinDbg C(!vm), C(!poolused), C(!memusage) text, C(typeperf)/C(relog)/C(Get-Counter) CSV of the
    Memory counters) or a folder of loose C(/proc) files.
  - Formats are recognised by content, never by file name. Several files of one Windows host combine into one
    snapshot; timed poolmon logs and counter rows become its C(samples). A file's time comes from a timestamp
    in its name (C(poolmon-2024-03-11_0900.log)), else from its modification time.
  - Binary and oversized files are refused without being read; links, FIFOs and devices in a capture are never
    followed or opened. Archives are unpacked into a private temporary folder without creating or following any
    link, with path and size checks, and removed afterwards. Nothing is written anywhere else (docs/security.md).
  - A capture that cannot be analysed is returned with C(error) set to one sentence naming the file and line;
    the lookup itself fails only when a path does not exist.
  - The lookup is chosen over an action plugin because reading files on the controller is what lookups do;
    it runs nothing on any host and needs no inventory.
options:
  _terms:
    description: Capture paths on the controller (a capture, a folder of captures, or an archive).
    type: list
    elements: path
    required: true
  max_file_mb:
    description: Larger files are skipped with this reason, before any byte is read.
    type: int
    default: 64
  max_extract_mb:
    description:
      - An archive whose members hold more than this many MiB is refused. The members the analysis does not read
        count too, since reaching the next member costs decompressing them (a tar bomb stops here).
    type: int
    default: 1024
  max_files:
    description: Files examined in one capture folder; the rest are listed as skipped.
    type: int
    default: 2000
  top:
    description: How many slab caches, processes and deleted-but-open files a Linux snapshot keeps, largest first.
    type: int
    default: 15
  top_tags:
    description: How many pool tags (by bytes) a Windows snapshot and each of its samples keep.
    type: int
    default: 50
notes:
  - Use it with C(query()) (or C(wantlist=true)) to get a list.
  - C(playbooks/analyze.yml) is the ready-made use; see C(docs/offline-analysis.md).
seealso:
  - plugin: memleak.remediation.leak_diagnosis
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Read every capture under /srv/cases/4711
  ansible.builtin.set_fact:
    captures: "{{ query('memleak.remediation.memleak_captures', '/srv/cases/4711') }}"

- name: Diagnose the captures that could be read
  ansible.builtin.set_fact:
    diagnoses: "{{ captures | selectattr('snapshot') | map(attribute='snapshot')
                   | map('memleak.remediation.leak_diagnosis') | list }}"

- name: A single sosreport archive, larger files allowed
  ansible.builtin.debug:
    msg: "{{ query('memleak.remediation.memleak_captures', 'sosreport-db01-2024-03-11.tar.xz', max_file_mb=256) }}"
"""

RETURN = r"""
_raw:
  description: One entry per capture found, then one per entry of a folder of captures that is not a capture.
  type: list
  elements: dict
  contains:
    name:
      description: Capture name (folder or archive name, made safe as a file name; unique).
      type: str
    path:
      description: Where the capture is on the controller.
      type: str
    snapshot:
      description: The C(memleak_snapshot), or null when the capture could not be analysed.
      type: dict
    error:
      description: Why there is no snapshot (file and line for a malformed file), else null.
      type: str
    files:
      description: Every file looked at, with C(file), C(kind), C(status) (used, skipped or error) and C(reason).
      type: list
      elements: dict
    hostname:
      description: The host name the capture itself records (Linux), or null.
      type: str
    skipped:
      description: True for an entry of a folder of captures that is neither a folder nor an archive.
      type: bool
    messages:
      description: "One line per file not used (skipped or malformed): C(capture: status file: reason)."
      type: list
      elements: str
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import windows as windows_diagnosis

MIB = 1024 * 1024


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        limits = {
            "max_file_bytes": self._positive("max_file_mb") * MIB,
            "max_extract_bytes": self._positive("max_extract_mb") * MIB,
            "max_files": self._positive("max_files"),
            "top": self._positive("top"),
            "top_tags": self._positive("top_tags"),
        }
        results = []
        for term in terms:
            path = os.path.abspath(os.path.expanduser(to_native(term)))
            try:
                captures, skipped = offline.find_captures(path, limits)
            except offline.CaptureError as exc:
                raise AnsibleLookupError("memleak_captures: %s" % exc)
            names = set(r["name"] for r in results)
            for name, capture in captures:
                unique = name
                count = 1
                while unique in names:
                    count += 1
                    unique = "%s-%d" % (name, count)
                names.add(unique)
                results.append(self._analyze(capture, unique, limits))
            for entry_path, reason in skipped:
                results.append({"name": os.path.basename(entry_path), "path": entry_path, "snapshot": None,
                                "error": reason, "files": [], "hostname": None, "skipped": True,
                                "messages": ["%s: skipped: %s" % (entry_path, reason)]})
        return results

    @staticmethod
    def _analyze(capture, name, limits):
        """One capture; a snapshot the diagnosis cannot take is returned with the reason as its error."""
        try:
            entry = offline.analyze_capture(capture, name, limits)
        except Exception as exc:  # pylint: disable=broad-except
            # One unreadable capture must not hide the others: report it like a malformed one.
            entry = {"name": name, "path": capture, "snapshot": None, "files": [], "hostname": None,
                     "error": "could not be read (%s: %s)" % (type(exc).__name__, to_native(exc))}
        entry["skipped"] = False
        # Files present but not needed ("present, not read: ...") are in the report's file list, not on the console.
        entry["messages"] = ["%s: %s %s: %s" % (name, f["status"], f["file"], f["reason"])
                             for f in entry["files"] if f["status"] != "used" and not f["reason"].startswith("present")]
        snapshot = entry.get("snapshot")
        if snapshot is not None:
            try:
                if (snapshot.get("os") or {}).get("family") == "windows":
                    windows_diagnosis.diagnose_windows(snapshot)
                else:
                    diagnosis.diagnose(snapshot)
            except (diagnosis.DiagnosisError, windows_diagnosis.WindowsDiagnosisError) as exc:
                entry["error"] = "read, but cannot be diagnosed: %s" % to_native(exc)
            except Exception as exc:  # pylint: disable=broad-except
                # Whatever one hostile capture holds, the others are still reported.
                entry["error"] = "read, but cannot be diagnosed (%s: %s)" % (type(exc).__name__, to_native(exc))
        return entry

    def _positive(self, name):
        value = self.get_option(name)
        if not isinstance(value, int) or value < 1:
            raise AnsibleLookupError("memleak_captures: %s must be a whole number of at least 1, got %r"
                                     % (name, value))
        return value

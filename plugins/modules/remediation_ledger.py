#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: remediation_ledger
short_description: Read or append the remediation ledger a host keeps about itself
version_added: "0.1.0"
description:
  - The remediation ledger records every remediation step taken on the host (which case, which step,
    when, with what result), one JSON object per line, beside the sample history of
    M(memleak.remediation.meminfo_facts). The C(remediate) role reads it to decide the one next step and
    appends what it did, so scheduled runs continue where the last one stopped with no external store.
  - Without O(entry) the module only reads. With O(entry) it appends that entry under an exclusive lock
    (concurrent runs do not interleave) in one write; when the ledger must be trimmed it is rewritten
    through a temporary file and an atomic rename.
  - A line that is not a ledger entry (torn by a crash, edited by hand) is skipped and named in
    RV(skipped) and shown as a warning; it never fails the run.
  - Runs on the managed host with Python 3.8 or later and the standard library only.
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  path:
    description:
      - The ledger file.
      - Default is C(remediation.jsonl) in the directory of O(history_path) when that is given, else
        C(/var/lib/memleak/remediation.jsonl) as root and C($XDG_STATE_HOME/memleak/remediation.jsonl)
        (C(~/.local/state/memleak/remediation.jsonl)) otherwise, the directory of the default history.
    type: path
  history_path:
    description:
      - The history file of M(memleak.remediation.meminfo_facts); the ledger is kept beside it.
    type: path
  entry:
    description:
      - The entry to append. Needs C(case), C(step) (C(patch_os), C(vmware_tools), C(restart), C(escalate) or
        C(close)) and C(result) (C(done), C(unchanged), C(failed), C(sent) or C(closed)); C(t) (ISO-8601 UTC) is
        set to the current time when missing and C(v) to the ledger format. Other keys (C(reason), C(boot),
        C(detail), C(key), C(ticket), C(series), C(sequence), C(opened)) are kept as given.
      - Omit it to read only.
    type: dict
  max_entries:
    description: Entries the ledger keeps; the oldest go first.
    type: int
    default: 1000
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the ledger is read and nothing is written; C(changed) says whether O(entry) would be appended.
  diff_mode:
    support: none
    details: The appended entry is returned in RV(appended).
  platform:
    platforms: posix
    details: Linux and other POSIX hosts.
notes:
  - The ledger holds no secrets. The escalation token is never written to it, only the idempotency key and
    the ticket reference.
seealso:
  - module: memleak.remediation.meminfo_facts
  - name: Remediation
    description: The elimination sequence and the ledger format (docs/remediation.md in this collection).
    link: https://example.invalid/memleak/remediation/docs
"""

EXAMPLES = r"""
- name: Read the remediation ledger of the host
  memleak.remediation.remediation_ledger:
  register: ledger

- name: Record that the OS was patched for a case
  memleak.remediation.remediation_ledger:
    entry:
      case: "unaccounted_kernel:kernel:unaccounted"
      step: patch_os
      result: done
      reason: First step of the elimination.
      detail: {upgraded: 12}

- name: Keep the ledger beside a history in a custom place
  memleak.remediation.remediation_ledger:
    history_path: /srv/memleak/history.jsonl
"""

RETURN = r"""
entries:
  description: The ledger after the append (or as read), oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{v: 1, t: "2026-03-02T06:00:00Z", case: "unaccounted_kernel:kernel:unaccounted", step: patch_os,
            result: done, reason: "First step of the elimination.", boot: "2fbde2b6-f0bb-4ed8-82f3-84adff2f1f68"}]
path:
  description: The ledger file used.
  returned: always
  type: str
  sample: /var/lib/memleak/remediation.jsonl
appended:
  description: The entry as written (or as it would be written in check mode).
  returned: when O(entry) was given
  type: dict
skipped:
  description: Lines skipped because they are not ledger entries, with their line numbers.
  returned: always
  type: list
  elements: str
  sample: ["/var/lib/memleak/remediation.jsonl line 4: not JSON (torn or corrupt), skipped"]
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memleak.remediation.plugins.module_utils import jsonl_file
from ansible_collections.memleak.remediation.plugins.module_utils.remediation_entry import (
    LEDGER_FORMAT, EliminationError, check_entry, ledger_default_path as default_path,
    read_ledger as read)


def append(path, entry, max_entries):
    """Append under an exclusive lock, keeping the newest ``max_entries``; returns (entries after, warnings)."""
    return jsonl_file.append(path, entry, check_entry, lambda entries: entries[-max_entries:])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            history_path=dict(type="path"),
            entry=dict(type="dict"),
            max_entries=dict(type="int", default=1000),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["max_entries"] < 1:
        module.fail_json(msg="max_entries must be 1 or more, got %d" % params["max_entries"])
    path = params["path"] or default_path(params["history_path"])
    result = {"changed": False, "path": path}

    entry = params["entry"]
    if entry is not None:
        entry = dict(entry)
        entry.setdefault("v", LEDGER_FORMAT)
        if not entry.get("t"):
            entry["t"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            check_entry(entry, "entry")
        except EliminationError as err:
            module.fail_json(msg=str(err), path=path)
        result["appended"] = entry

    try:
        if entry is None or module.check_mode:
            entries, warnings = read(path)
            if entry is not None:
                entries = (entries + [entry])[-params["max_entries"]:]
        else:
            entries, warnings = append(path, entry, params["max_entries"])
    except (IOError, OSError) as err:
        module.fail_json(msg="remediation ledger %s: %s" % (path, err.strerror or err), path=path)
    result.update(entries=entries, skipped=warnings, changed=entry is not None)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

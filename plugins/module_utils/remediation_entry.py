# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one remediation ledger entry is: the format the ``remediation_ledger`` module writes on the
host and the elimination sequence (``plugin_utils/remediation/elimination.py``) reads back.

Kept apart from the elimination logic so that the module ships only this to the host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.memleak.remediation.plugins.module_utils import history as hist
from ansible_collections.memleak.remediation.plugins.module_utils import jsonl_file
from ansible_collections.memleak.remediation.plugins.module_utils.series import to_hours

LEDGER_FORMAT = 1
LEDGER_FILE_NAME = "remediation.jsonl"
# What a remediation ledger entry may record: the plan steps that act, plus closing a case.
LEDGER_STEPS = ("patch_os", "vmware_tools", "restart", "escalate", "close")
RESULTS = ("done", "unchanged", "failed", "sent", "closed")


class EliminationError(ValueError):
    """Input the elimination cannot work with (bad option, remediation ledger entry or window)."""


def check_entry(entry, where="ledger entry"):
    """Raise EliminationError unless ``entry`` is a remediation ledger entry (format 1)."""
    if not isinstance(entry, dict):
        raise EliminationError("%s is not a dict" % where)
    missing = [k for k in ("t", "case", "step", "result") if not isinstance(entry.get(k), str) or not entry[k]]
    if missing:
        raise EliminationError("%s lacks %s" % (where, ", ".join(missing)))
    if entry["step"] not in LEDGER_STEPS:
        raise EliminationError("%s: step %r is not one of %s" % (where, entry["step"], ", ".join(LEDGER_STEPS)))
    if entry["result"] not in RESULTS:
        raise EliminationError("%s: result %r is not one of %s" % (where, entry["result"], ", ".join(RESULTS)))
    try:
        to_hours(entry["t"])
    except ValueError:
        raise EliminationError("%s: t %r is not an ISO-8601 time" % (where, entry["t"]))
    return entry


def ledger_default_path(history_path=None):
    """Beside the history: the given one's directory, else the default history's."""
    return os.path.join(os.path.dirname(history_path or hist.default_path()), LEDGER_FILE_NAME)


def read_ledger(path):
    """(entries, warnings); a missing ledger is empty, an unreadable one raises OSError.

    Read by remediation_ledger and, for the remediate role, by meminfo_facts in the same run as the
    snapshot (one module on the host instead of two).
    """
    return jsonl_file.read(path, check_entry)

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The host history options of the facts modules (meminfo_facts, win_pool_facts)."""

    DOCUMENTATION = r"""
options:
  history:
    description:
      - Keep a compact sample of every run in a history file on the host and return the recent window in
        C(memleak_snapshot.samples), followed by this run's samples, so that scheduled runs prove growth with no
        external store.
      - Appending to the history still returns C(changed=false). The history is the module's own measurement
        log, like a cache, not a setting of the host; reporting a change on every scheduled run would hide real
        changes in the play recap and in AWX. Set O(history=false) for a run that does not write it.
      - In check mode the history is read but not written.
    type: bool
    default: true
  history_path:
    description:
      - The history file. Default on Linux C(/var/lib/memleak/history.jsonl) as root, else
        C($XDG_STATE_HOME/memleak/history.jsonl) (C(~/.local/state/memleak/history.jsonl)); on Windows
        C(%ProgramData%\memleak\history.jsonl), usually C(C:\ProgramData\memleak\history.jsonl).
      - Its folder is created when missing; a lock file C(<history_path>.lock) sits beside it.
      - On Linux the file and its lock are never opened through a link, and a folder that others can write is
        refused unless root or the running user owns it (docs/security.md).
      - One sample per line, the same format on Linux and Windows (docs/trend.md).
    type: path
  history_max_samples:
    description: Samples the history keeps (a year of 6-hourly runs is 1460); 1 or more.
    type: int
    default: 1500
  history_max_age_days:
    description: Samples older than this are dropped from the history; 1 or more.
    type: int
    default: 400
"""

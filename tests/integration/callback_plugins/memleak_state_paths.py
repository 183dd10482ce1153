# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: records where every module kept the host's history and ledger.

meminfo_facts and win_pool_facts return ``history_path``, remediation_ledger returns ``path``:
each is appended as one line to the file named by MEMLEAK_STATE_PATHS_LOG, so that the
integration tests can prove that no run wrote to the host's default history (another run on
the same machine writing there at the same time cannot be told apart by watching the file).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: memleak_state_paths
type: aggregate
short_description: Records the history and ledger paths the modules used (integration tests)
description:
  - Appends the C(history_path) / C(path) of every memleak.remediation module result to the file in
    C(MEMLEAK_STATE_PATHS_LOG).
requirements: [enable in ansible.cfg or ANSIBLE_CALLBACKS_ENABLED]
"""

import json
import os

from ansible.plugins.callback import CallbackBase

# diagnose_host runs meminfo_facts or win_pool_facts and returns their history_path.
_KEYS = {"meminfo_facts": "history_path", "win_pool_facts": "history_path", "diagnose_host": "history_path",
         "remediation_ledger": "path"}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "memleak_state_paths"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result):
        log = os.environ.get("MEMLEAK_STATE_PATHS_LOG")
        action = (result._task.action or "").split(".")[-1]
        key = _KEYS.get(action)
        if not log or not key:
            return
        path = result._result.get(key)
        if path:
            with open(log, "a") as handle:
                handle.write(json.dumps({"host": result._host.get_name(), "module": action, "path": path}) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result)

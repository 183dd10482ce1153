# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnose_host action: gather, diagnose and report one host in one task.

Runs meminfo_facts (Linux) or win_pool_facts (Windows, told by the connection) on the host, then,
in the worker on the controller, the same diagnosis and knowledge base annotation as the
leak_diagnosis and kb_annotate filters, and writes ``<report_dir>/<host>.json`` through the
report_files writer. One worker process per host instead of one per step: on a fleet, Ansible's
per-task cost is larger than the diagnosis (benchmarks/NOTES.md). The logic lives in
plugin_utils/diagnosis/host.py and plugin_utils/report/writer.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.host import (
    HostDiagnosisError, diagnose_snapshot, gather_args, gather_module, host_report)
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import verdict_line
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.writer import ReportFilesError, write_files

try:  # ansible-core 2.19 and later
    from ansible.executor.module_common import _apply_action_arg_defaults
    get_action_args_with_defaults = None
except ImportError:  # ansible-core 2.17, 2.18
    _apply_action_arg_defaults = None
    from ansible.executor.module_common import get_action_args_with_defaults

ARGUMENT_SPEC = {
    "os_family": {"type": "str", "default": "auto", "choices": ["auto", "linux", "windows"]},
    "host": {"type": "str"},
    "top": {"type": "int"},
    "samples": {"type": "int"},
    "interval": {"type": "float"},
    "history": {"type": "bool"},
    "history_path": {"type": "str"},
    "proc_root": {"type": "str"},
    "scan_drivers": {"type": "int"},
    "thresholds": {"type": "dict", "default": {}},
    "kb_files": {"type": "list", "elements": "path", "default": []},
    "pooltag_file": {"type": "path"},
    "report_dir": {"type": "path"},
}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def _module_args(self, module, args):
        """The gather module's arguments, with the play's module_defaults for it (as gather_facts applies them)."""
        module_args = gather_args(module, args)
        if _apply_action_arg_defaults is not None:
            return _apply_action_arg_defaults(module, self._task, module_args, self._templar)
        return get_action_args_with_defaults(module, module_args, self._task.module_defaults, self._templar,
                                             action_groups=self._task._parent._play._action_groups)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}

        dummy_validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        inventory_hostname = task_vars.get("inventory_hostname") or self._play_context.remote_addr
        if args["host"] is None:
            args["host"] = inventory_hostname

        try:
            module = gather_module(args["os_family"], connection=task_vars.get("ansible_connection"),
                                   shell_type=task_vars.get("ansible_shell_type") or self._connection._shell.SHELL_FAMILY)
        except HostDiagnosisError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        # 1. Gather: the module runs on the host.
        result["module"] = module
        try:
            gathered = self._execute_module(module_name=module, module_args=self._module_args(module, args),
                                            task_vars=task_vars, wrap_async=False)
        except AnsibleConnectionFailure as exc:
            # Failed, not unreachable, so that the role's rescue keeps the reason for the fleet summary.
            message = "unreachable: %s" % to_text(exc)
            result.update(failed=True, msg=message, memleak_error=message)
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        for key in ("warnings", "deprecations", "history_path"):
            if gathered.get(key):
                result[key] = gathered[key]
        if gathered.get("failed") or gathered.get("unreachable"):
            message = gathered.get("msg") or "%s failed: see the task output" % module
            reason = "unreachable" if gathered.get("unreachable") else "failed"
            result.update(failed=True, msg=message, memleak_error="%s: %s" % (reason, message), gather=gathered)
            return result
        snapshot = (gathered.get("ansible_facts") or {}).get("memleak_snapshot")
        if not isinstance(snapshot, dict):
            message = "%s returned no memleak_snapshot" % module
            result.update(failed=True, msg=message, memleak_error="failed: %s" % message)
            return result

        # 2. Diagnose and annotate, here in the worker.
        try:
            diagnosis = diagnose_snapshot(snapshot, args["thresholds"], kb_files=args["kb_files"],
                                          pooltag_file=args["pooltag_file"])
        except HostDiagnosisError as exc:
            result.update(failed=True, msg="diagnose_host: %s" % exc)
            return result
        # Every fact of the module (meminfo_facts also returns the remediation ledger when asked), and the diagnosis.
        result["ansible_facts"] = dict(gathered["ansible_facts"], memleak_diagnosis=diagnosis)
        result["changed"] = bool(gathered.get("changed"))
        result["verdict_line"] = verdict_line(diagnosis, inventory_hostname)

        # 3. Report: written on the controller, also in check mode (the host is only read).
        if args["report_dir"]:
            try:
                report = host_report(inventory_hostname, snapshot, diagnosis)
                written = write_files(args["report_dir"], [report],
                                      diff=False, max_diff_size=C.MAX_FILE_SIZE_FOR_DIFF)
            except ReportFilesError as exc:
                result.update(failed=True, msg="diagnose_host: %s" % exc)
                return result
            result["report"] = os.path.join(written["dir"], report["name"])
            # As report_files: changed when the report on the controller was (re)written.
            result["changed"] = result["changed"] or bool(written["written"])
        return result

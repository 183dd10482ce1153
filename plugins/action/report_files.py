# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report_files action: writes report files on the controller, inside the worker process.

No module runs and the host's connection is never used, whatever the task's host or delegate_to:
the files are written by report_writer.write_files(), which holds the logic and its checks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible import constants as C
from ansible.plugins.action import ActionBase

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.writer import (
    DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, ReportFilesError, write_files)

ARGUMENT_SPEC = {
    "dir": {"type": "path", "required": True},
    "dir_mode": {"type": "raw", "default": "%04o" % DEFAULT_DIR_MODE},
    "files": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True},
            # raw: a dict or list must fail with a clear message, not become its Python repr.
            "content": {"type": "raw", "required": True},
            "mode": {"type": "raw", "default": "%04o" % DEFAULT_FILE_MODE},
        },
    },
}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        dummy_validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            outcome = write_files(args["dir"], args["files"], dir_mode=args["dir_mode"],
                                  check_mode=bool(self._task.check_mode), diff=bool(self._task.diff),
                                  max_diff_size=C.MAX_FILE_SIZE_FOR_DIFF)
        except ReportFilesError as exc:
            result.update(failed=True, changed=bool(exc.written), written=exc.written, msg=str(exc))
            return result
        result.update(outcome)
        return result

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reboot_slot action: claims one of the run's reboot slots on the controller, in the worker process.

The fleet's reboot cap must hold whatever the strategy (linear, free), the forks and serial: hosts of a
free play decide at different times and never see each other's decisions in hostvars. The slots are
therefore counted in one file of the run's own controller temporary directory (created by ansible-playbook
at start, shared by its workers, removed at exit), under an exclusive lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os

from ansible import constants as C
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "cap": {"type": "int", "required": True},
    "host": {"type": "str", "required": True},
    "reason": {"type": "str", "required": True, "choices": ["restart", "patch_reboot"]},
    "release": {"type": "bool", "default": False},
}
SLOTS_FILE = "memleak-reboot-slots.json"


def claim(directory, cap, host, reason, release=False):
    """(granted, holders): ``host`` holds a slot when it had one or fewer than ``cap`` are taken.

    ``release`` gives the host's slot back (a reboot that was not needed after all). The file is
    opened without following a link and read and written under an exclusive lock.
    """
    path = os.path.join(directory, SLOTS_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            raw += chunk
        try:
            holders = json.loads(raw.decode("utf-8")) if raw.strip() else []
        except ValueError:
            holders = []
        names = [h["host"] for h in holders]
        if release:
            holders = [h for h in holders if h["host"] != host]
            granted = False
        elif host in names:
            granted = True
        elif len(holders) < cap:
            holders.append({"host": host, "reason": reason})
            granted = True
        else:
            granted = False
        data = json.dumps(holders, sort_keys=True).encode("utf-8")
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        written = 0
        while written < len(data):
            count = os.write(fd, data[written:])
            if count <= 0:
                raise OSError(errno.ENOSPC, "the reboot slots could not be written")
            written += count
        return granted, holders
    finally:
        os.close(fd)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy_validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["cap"] < 0:
            result.update(failed=True, msg="reboot_slot: cap must be 0 or more, got %d" % args["cap"])
            return result
        directory = C.DEFAULT_LOCAL_TMP
        try:
            granted, holders = claim(directory, args["cap"], args["host"], args["reason"], args["release"])
        except (IOError, OSError) as exc:
            result.update(failed=True, msg="reboot_slot: cannot count the run's reboots in %s: %s"
                          % (directory, exc.strerror or exc))
            return result
        result.update(changed=False, granted=granted, cap=args["cap"], used=len(holders),
                      holders=[h["host"] for h in holders])
        return result

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file of one JSON object per line that a host keeps about itself.

The sample history and the remediation ledger are such files. Appends hold an
exclusive lock (concurrent runs do not interleave) and write a whole line in
one call; the file is compacted through a temporary file and an atomic rename,
so a killed run never leaves it half written. A line that is not an item is
skipped with a warning naming it, never fatal. A file that exists but cannot be
read raises OSError: it is never overwritten with what could not be read.
Runs on the target: stdlib only, Python >= 3.8, POSIX.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import tempfile

FILE_MODE = 0o640
DIR_MODE = 0o750


def parse_lines(text, source, check):
    """(items, warnings) in file order.

    ``check(obj, where)`` returns the item, or raises ValueError saying why the
    object on that line is not one; the line is then skipped with that reason.
    """
    items, warnings = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = "%s line %d" % (source, lineno)
        try:
            obj = json.loads(line)
        except ValueError:
            warnings.append("%s: not JSON (torn or corrupt), skipped" % where)
            continue
        try:
            items.append(check(obj, where))
        except ValueError as err:
            warnings.append("%s, skipped" % err)
    return items, warnings


def read(path, check):
    """(items, warnings) from the file; a missing file holds nothing."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as err:
        if err.errno == errno.ENOENT:
            return [], []
        raise
    return parse_lines(text, path, check)


def append(path, item, check, keep):
    """Append ``item`` under an exclusive lock; returns (items kept, warnings).

    ``keep(items)`` bounds the items after the append (by count, by age); the file
    is rewritten when it drops some or a line was skipped, appended to otherwise.
    """
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, DIR_MODE)
    lock_fd = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        items, warnings = read(path, check)
        items.append(item)
        kept = keep(items)
        if len(kept) < len(items) or warnings:
            _replace(path, kept)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.write(fd, _line(item))
                os.fsync(fd)
            finally:
                os.close(fd)
        return kept, warnings
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def _line(item):
    return (json.dumps(item, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def _replace(path, items):
    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            for item in items:
                handle.write(_line(item))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

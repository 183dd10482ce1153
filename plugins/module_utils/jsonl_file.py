# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file of one JSON object per line that a host keeps about itself.

The sample history and the remediation ledger are such files. Appends hold an
exclusive lock (concurrent runs do not interleave) and write a whole line in
one call, checked to be written whole; the file is compacted through a temporary file and an atomic rename,
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
import stat
import tempfile

FILE_MODE = 0o640
DIR_MODE = 0o750
# No file of the store is opened through a link: a link planted in a shared directory would send the
# write (as root) wherever it points.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class UnsafeDirectory(OSError):
    """The store's directory is writable by someone who does not own it."""


def check_directory(directory, euid=None):
    """Refuse a directory that a user other than its owner can write, unless root or the running user owns
    it: anyone who can write there can plant a link or a file in the store's name."""
    euid = os.geteuid() if euid is None else euid
    info = os.stat(directory)
    shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if shared and info.st_uid not in (0, euid):
        raise UnsafeDirectory(errno.EPERM, "%s is writable by %s and owned by uid %d, neither root nor this user "
                                           "(uid %d): choose a directory only its owner can write"
                              % (directory, "everyone" if info.st_mode & stat.S_IWOTH else "its group",
                                 info.st_uid, euid))


def _open(path, flags, mode=FILE_MODE):
    """os.open without following a link; a link or a non-regular file in the store's name is an error."""
    try:
        fd = os.open(path, flags | _NOFOLLOW, mode)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "%s is a symbolic link: not followed (remove it)" % path)
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "%s is not a regular file" % path)
    return fd


def write_all(fd, data):
    """Write all of ``data``; OSError naming how much was written when the disk takes less."""
    done = 0
    while done < len(data):
        try:
            count = os.write(fd, data[done:])
        except OSError as err:
            raise OSError(err.errno, "only %d of %d bytes written (%s)" % (done, len(data), err.strerror))
        if count <= 0:
            raise OSError(errno.ENOSPC, "only %d of %d bytes written" % (done, len(data)))
        done += count


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
        fd = _open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (IOError, OSError) as err:
        if err.errno == errno.ENOENT:
            return [], []
        raise
    with os.fdopen(fd, "rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    return parse_lines(text, path, check)


def append(path, item, check, keep):
    """Append ``item`` under an exclusive lock; returns (items kept, warnings).

    ``keep(items)`` bounds the items after the append (by count, by age); the file
    is rewritten when it drops some or a line was skipped, appended to otherwise.
    """
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, DIR_MODE)
    check_directory(directory)
    lock_fd = _open(path + ".lock", os.O_WRONLY | os.O_CREAT)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        items, warnings = read(path, check)
        items.append(item)
        kept = keep(items)
        if len(kept) < len(items) or warnings:
            _replace(path, kept)
        else:
            fd = _open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                size = os.fstat(fd).st_size
                try:
                    write_all(fd, _line(item))
                    os.fsync(fd)
                except OSError as err:
                    # No torn line is left behind (the lock is held: nobody else appended meanwhile).
                    os.ftruncate(fd, size)
                    warnings.append("%s: the new line was not kept: %s (disk full?)" % (path, err.strerror))
                    kept = kept[:-1]
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
        try:
            for item in items:
                write_all(fd, _line(item))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, FILE_MODE)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

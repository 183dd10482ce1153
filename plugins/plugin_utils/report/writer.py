# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes report files into one directory on the controller: the logic of the report_files action.

``write_files()`` checks the entries, creates the directory when it is missing and writes each file
whose content or mode differs from what is on disk, through a temporary file in the same directory
and ``os.replace``: a reader sees the old file or the new one, never a part. A file that already holds
the content gets at most a chmod, so its inode and modification time stay. In check mode nothing is
created or written; the result says what would change. Every problem raises ``ReportFilesError``
with a message that names the entry or the path.

Controller side only: the standard library and ansible-core's text converters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import errno
import os
import re
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes

DEFAULT_FILE_MODE = 0o644
DEFAULT_DIR_MODE = 0o755
# ansible-core's default for MAX_FILE_SIZE_FOR_DIFF; the action passes the configured value.
DEFAULT_MAX_DIFF_SIZE = 104448

_OCTAL = re.compile(r"^(?:0o?)?([0-7]{1,4})$")

ReportFile = collections.namedtuple("ReportFile", "name data mode")


class ReportFilesError(Exception):
    """A report file that cannot be written; ``written`` lists the paths changed before the problem."""

    def __init__(self, message, written=None):
        super(ReportFilesError, self).__init__(message)
        self.written = list(written or [])


def parse_mode(value, where):
    """``'0644'``, ``'644'``, ``'0o644'`` or the integer 0o644 (YAML's ``0644``) -> 0o644."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 0o7777:
            return value
    elif isinstance(value, str):
        match = _OCTAL.match(value.strip())
        if match:
            return int(match.group(1), 8)
    raise ReportFilesError("%s: mode must be an octal string such as '0644', got %r" % (where, value))


def check_name(name, where):
    """Raise unless ``name`` is a plain file name: not empty, no '/', not '.' or '..', no NUL byte."""
    if not isinstance(name, str) or not name:
        raise ReportFilesError("%s: the file name is empty" % where)
    if "\x00" in name:
        raise ReportFilesError("%s (%r): the file name contains a NUL byte" % (where, name))
    if "/" in name:
        raise ReportFilesError("%s (%r): a plain file name is needed, without '/'" % (where, name))
    if name in (".", ".."):
        raise ReportFilesError("%s (%r): not a file name" % (where, name))


def prepare(files):
    """The ``files`` option as a list of ReportFile (content as bytes); raises on the first bad entry."""
    if not isinstance(files, (list, tuple)):
        raise ReportFilesError("files must be a list of {name, content, mode}, got %s" % _kind(files))
    prepared = []
    seen = {}
    for index, entry in enumerate(files):
        where = "files[%d]" % index
        if not isinstance(entry, dict):
            raise ReportFilesError("%s: must be a dict with name and content, got %s" % (where, _kind(entry)))
        name = entry.get("name")
        check_name(name, where)
        where = "%s (%r)" % (where, name)
        if name in seen:
            raise ReportFilesError("%s: the same name as files[%d]" % (where, seen[name]))
        seen[name] = index
        content = entry.get("content")
        if isinstance(content, bytes):
            data = content
        elif isinstance(content, str):
            data = to_bytes(content, errors="surrogate_or_strict")
        else:
            raise ReportFilesError("%s: content must be a string, got %s (render data with to_nice_json first)"
                                   % (where, _kind(content)))
        mode = entry.get("mode")
        prepared.append(ReportFile(name, data, DEFAULT_FILE_MODE if mode is None else parse_mode(mode, where)))
    return prepared


def _kind(value):
    """A type name for messages: templated values are subclasses with internal names."""
    if value is None:
        return "nothing"
    for kind in (bool, dict, list, tuple, int, float, str, bytes):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def _reason(exc):
    return exc.strerror or str(exc)


def _directory_exists(directory):
    try:
        info = os.stat(directory)
    except (FileNotFoundError, NotADirectoryError):
        # NotADirectoryError: a parent is a file; the walk up in _missing_parents names it.
        return False
    except OSError as exc:
        raise ReportFilesError("cannot use directory %s: %s" % (directory, _reason(exc)))
    if not stat.S_ISDIR(info.st_mode):
        raise ReportFilesError("%s exists and is not a directory" % directory)
    return True


def _missing_parents(directory):
    """The directories to create, outermost first; raises when an existing component is not a directory."""
    missing = []
    path = directory
    while not _directory_exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return list(reversed(missing))


def _make_directories(directories, mode):
    for path in directories:
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            # Created meanwhile by another worker (one task per host writes into the same directory).
            if _directory_exists(path):
                continue
            raise ReportFilesError("%s exists and is not a directory" % path)
        except OSError as exc:
            raise ReportFilesError("cannot create directory %s: %s" % (path, _reason(exc)))
        try:
            os.chmod(path, mode)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            raise ReportFilesError("cannot set mode %04o on %s: %s" % (mode, path, _reason(exc)))


def _current(path, data):
    """(stat or None, content differs, bytes on disk or None); the file is read only when sizes match."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, True, None
    except OSError as exc:
        raise ReportFilesError("cannot read %s: %s" % (path, _reason(exc)))
    if stat.S_ISDIR(info.st_mode):
        raise ReportFilesError("%s is a directory, not a file" % path)
    if not stat.S_ISREG(info.st_mode):
        # A symlink, FIFO or socket is replaced by the file, never written through.
        return info, True, None
    if info.st_size != len(data):
        return info, True, None
    try:
        with open(path, "rb") as handle:
            old = handle.read()
    except OSError as exc:
        raise ReportFilesError("cannot read %s: %s" % (path, _reason(exc)))
    return info, old != data, old


def _replace(path, report, old_info):
    """Write report.data to path through a temporary file in the same directory and os.replace."""
    directory, name = os.path.split(path)
    try:
        handle, temp = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ReportFilesError("cannot write %s: %s" % (path, _reason(exc)))
    try:
        try:
            view = memoryview(report.data)
            while view:
                view = view[os.write(handle, view):]
            os.fchmod(handle, report.mode)
            if old_info is not None and stat.S_ISREG(old_info.st_mode):
                _keep_owner(handle, old_info)
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temp, path)
    except OSError as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise ReportFilesError("cannot write %s: %s" % (path, _reason(exc)))


def _keep_owner(handle, old_info):
    """A file that belonged to someone else keeps its owner and group when we may give them away."""
    if (old_info.st_uid, old_info.st_gid) == (os.geteuid(), os.getegid()):
        return
    try:
        os.fchown(handle, old_info.st_uid, old_info.st_gid)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EINVAL):
            raise


def _text(data, max_size):
    """(text, None) for a diff, or (None, reason key suffix) when the data is too large or binary."""
    if len(data) > max_size:
        return None, "larger"
    if b"\x00" in data:
        return None, "binary"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "binary"


def _diff(path, report, info, old, max_size):
    """Ansible's diff entries (as the copy and file modules return them) for one changed file."""
    entries = []
    content_changed = info is None or old is None or old != report.data
    if content_changed:
        entry = {"before_header": path if info is not None else "%s (absent)" % path, "after_header": path}
        if info is None:
            before, skipped = "", None
        elif old is not None:
            before, skipped = _text(old, max_size)
        elif not stat.S_ISREG(info.st_mode):
            before, skipped = "", None
        elif info.st_size > max_size:
            before, skipped = None, "larger"
        else:
            try:
                with open(path, "rb") as handle:
                    before, skipped = _text(handle.read(), max_size)
            except OSError:
                before, skipped = None, "binary"
        after, after_skipped = _text(report.data, max_size)
        if skipped:
            entry["dst_" + skipped] = max_size if skipped == "larger" else True
        if after_skipped:
            entry["src_" + after_skipped] = max_size if after_skipped == "larger" else True
        if not skipped and not after_skipped:
            entry.update(before=before, after=after)
        entries.append(entry)
    if info is not None and stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) != report.mode:
        entries.append({"before": {"path": path, "mode": "%04o" % stat.S_IMODE(info.st_mode)},
                        "after": {"path": path, "mode": "%04o" % report.mode}})
    return entries


def write_files(directory, files, dir_mode=DEFAULT_DIR_MODE, check_mode=False, diff=False,
                max_diff_size=DEFAULT_MAX_DIFF_SIZE):
    """Write ``files`` (the action's list of {name, content, mode}) into ``directory``.

    Returns {changed, dir, written: [paths whose content or mode changed, or would in check mode]}
    and, with ``diff``, a list of Ansible diff entries under ``diff``.
    """
    if not isinstance(directory, str) or not directory or "\x00" in directory:
        raise ReportFilesError("dir must be a directory path, got %r" % (directory,))
    directory = os.path.abspath(directory)
    reports = prepare(files)
    dir_mode = parse_mode(dir_mode, "dir_mode")

    missing = _missing_parents(directory)
    if missing and not check_mode:
        _make_directories(missing, dir_mode)

    written = []
    diffs = []
    for report in reports:
        path = os.path.join(directory, report.name)
        if missing and check_mode:
            info, differs, old = None, True, None
        else:
            try:
                info, differs, old = _current(path, report.data)
            except ReportFilesError as exc:
                raise ReportFilesError(str(exc), written)
        mode_differs = info is not None and stat.S_IMODE(info.st_mode) != report.mode
        if not differs and not mode_differs:
            continue
        if diff:
            diffs.extend(_diff(path, report, info, old, max_diff_size))
        if not check_mode:
            try:
                if differs:
                    _replace(path, report, info)
                else:
                    _chmod(path, report.mode)
            except ReportFilesError as exc:
                raise ReportFilesError(str(exc), written)
        written.append(path)

    result = {"changed": bool(missing or written), "dir": directory, "written": written}
    if diff:
        if missing:
            diffs.insert(0, {"before": {"path": directory, "state": "absent"},
                             "after": {"path": directory, "state": "directory", "mode": "%04o" % dir_mode}})
        result["diff"] = diffs
    return result


def _chmod(path, mode):
    try:
        os.chmod(path, mode)
    except OSError as exc:
        raise ReportFilesError("cannot set mode %04o on %s: %s" % (mode, path, _reason(exc)))

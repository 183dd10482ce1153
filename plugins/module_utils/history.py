# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sample history a host keeps about itself (design.md section 6).

One JSON object per line, appended by every gather, so scheduled runs need no
external store. Appends hold an exclusive lock (concurrent runs do not
interleave) and write a whole line in one call; the file is compacted through
a temporary file and an atomic rename, so a killed run never leaves it half
written. A line that is not a sample is skipped with a warning, never fatal.
Runs on the target: stdlib only, Python >= 3.8, POSIX (Windows keeps its own).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import tempfile

FORMAT = 1
MAX_SAMPLES = 1500       # a year of 6-hourly runs is 1460
MAX_AGE_HOURS = 400 * 24
ROOT_PATH = "/var/lib/memleak/history.jsonl"


def default_path(euid=None, environ=None):
    """/var/lib/memleak for root, the XDG state directory of the user otherwise."""
    euid = os.geteuid() if euid is None else euid
    environ = os.environ if environ is None else environ
    if euid == 0:
        return ROOT_PATH
    base = environ.get("XDG_STATE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"),
                                                         ".local", "state")
    return os.path.join(base, "memleak", "history.jsonl")


def parse_lines(text, source="history.jsonl"):
    """(samples, warnings): valid sample objects in file order; bad lines named and skipped."""
    samples, warnings = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            warnings.append("%s line %d: not JSON (torn or corrupt), skipped" % (source, lineno))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("t"), str) or not isinstance(obj.get("s"), dict):
            warnings.append("%s line %d: not a sample (needs 't' and 's'), skipped" % (source, lineno))
            continue
        samples.append(obj)
    return samples, warnings


def read(path):
    """(samples, warnings) from the file; a missing file is an empty history."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as err:
        if err.errno == errno.ENOENT:
            return [], []
        return [], ["history: cannot read %s: %s" % (path, err.strerror)]
    return parse_lines(text, path)


def _keep(samples, now_hours, max_samples, max_age_hours, to_hours):
    kept = []
    for sample in samples:
        try:
            if now_hours - to_hours(sample["t"]) <= max_age_hours:
                kept.append(sample)
        except ValueError:
            continue
    return kept[-max_samples:]


def append(path, sample, to_hours, max_samples=MAX_SAMPLES, max_age_hours=MAX_AGE_HOURS):
    """Append ``sample`` under an exclusive lock; returns (window, warnings).

    ``window`` is the history after the append, bounded by count and age: what
    the module hands to the trend fit. ``to_hours`` converts the 't' stamps.
    """
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o750)
    line = (json.dumps(sample, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    lock_fd = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT, 0o640)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        samples, warnings = read(path)
        samples.append(sample)
        now = to_hours(sample["t"])
        window = _keep(samples, now, max_samples, max_age_hours, to_hours)
        # Rewrite when something must go (too many, too old, corrupt lines); append otherwise.
        if len(window) < len(samples) or warnings:
            _replace(path, window)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return window, warnings
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def _replace(path, samples):
    fd, tmp = tempfile.mkstemp(prefix=".history.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            for sample in samples:
                handle.write((json.dumps(sample, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o640)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

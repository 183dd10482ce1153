# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sample history a host keeps about itself (docs/trend.md).

One JSON object per line, appended by every gather, so scheduled runs need no
external store; locking, atomic compaction and skipped lines are jsonl_file's.
Runs on the target: stdlib only, Python >= 3.8, POSIX (Windows keeps its own).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.memleak.remediation.plugins.module_utils import jsonl_file

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


def _check_sample(obj, where):
    if not isinstance(obj, dict) or not isinstance(obj.get("t"), str) or not isinstance(obj.get("s"), dict):
        raise ValueError("%s: not a sample (needs 't' and 's')" % where)
    return obj


def parse_lines(text, source="history.jsonl"):
    """(samples, warnings): valid sample objects in file order; bad lines named and skipped."""
    return jsonl_file.parse_lines(text, source, _check_sample)


def read(path):
    """(samples, warnings) from the file; a missing file is an empty history."""
    try:
        return jsonl_file.read(path, _check_sample)
    except (IOError, OSError) as err:
        return [], ["history: cannot read %s: %s" % (path, err.strerror)]


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
    now = to_hours(sample["t"])
    return jsonl_file.append(path, sample, _check_sample,
                             lambda samples: _keep(samples, now, max_samples, max_age_hours, to_hours))

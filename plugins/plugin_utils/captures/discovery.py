# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a directory one capture or a folder of captures? Names each capture safely for report files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.archive import archive_stem, is_archive
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import CaptureError, merge_limits, read_text, sections

# Top-level folders of a sosreport or a copied root file system. A folder holding only these (a lone
# ``proc/`` without meminfo, a lone ``var/log``) is one capture, not a folder of captures with a host "proc".
_TREE_TOPS = frozenset(("proc", "sys", "var", "etc", "sos_commands", "usr", "run", "boot", "lib", "lib64", "dev",
                        "opt", "root", "home", "tmp", "srv", "sos_logs", "sos_reports", "sos_strings"))


def _only_tree_folders(path):
    """True when ``path`` holds only top-level folders of a root file system, proc/, sys/ or var/ among them."""
    try:
        names = [n for n in os.listdir(path) if not n.startswith(".")]
    except (IOError, OSError):
        return False
    return bool(names) and all(n in _TREE_TOPS and os.path.isdir(os.path.join(path, n)) and
                               not os.path.islink(os.path.join(path, n)) for n in names) and \
        bool(set(names) & set(("proc", "sys", "var")))


def sos_root(path):
    """The root of a sosreport or /proc tree at or directly below ``path``, else None."""
    def is_root(candidate):
        return os.path.isfile(os.path.join(candidate, "proc", "meminfo")) or \
            os.path.isdir(os.path.join(candidate, "sos_commands"))
    if is_root(path):
        return path
    try:
        children = [os.path.join(path, c) for c in os.listdir(path) if not c.startswith(".")]
    except (IOError, OSError):
        return None
    dirs = [c for c in children if os.path.isdir(c) and not os.path.islink(c)]
    if len(dirs) == 1 and len(children) == 1 and is_root(dirs[0]):
        return dirs[0]
    return None


def _top_files(path):
    try:
        names = sorted(os.listdir(path))
    except (IOError, OSError):
        return []
    return [os.path.join(path, n) for n in names if not n.startswith(".") and os.path.isfile(os.path.join(path, n))
            and not os.path.islink(os.path.join(path, n))]


def _is_capture_dir(path, limits):
    if sos_root(path) or _only_tree_folders(path):
        return True
    for name in _top_files(path)[:limits["max_files"]]:
        if is_archive(name):
            continue
        text, _reason = read_text(name, limits)
        if text is not None and sections(text):
            return True
    return False


def _only_files(path):
    """A folder with files but no sub-folder or archive is one capture, even when none of its files can
    be read: the analysis then says why for each file, not that no capture was found."""
    try:
        entries = [e for e in os.scandir(path) if not e.name.startswith(".")]
    except (IOError, OSError):
        return False
    return bool(entries) and not any(e.is_dir(follow_symlinks=False) or is_archive(e.path) for e in entries)


def capture_name(path):
    base = archive_stem(path) if os.path.isfile(path) else os.path.basename(os.path.normpath(path))
    if base in ("proc", "var", "sys") and os.path.isdir(path):
        # a copied /proc (or /var) of one host is named after the folder holding it, not "proc"
        base = os.path.basename(os.path.dirname(os.path.normpath(path))) or base
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "capture"
    return name


def find_captures(capture_dir, limits=None):
    """([(name, path)], [(path, reason)]): the captures in ``capture_dir`` and the entries skipped.

    ``capture_dir`` is one capture (an archive, a file, a sosreport or /proc
    tree, or a folder holding recognised files) or a folder of captures, one
    per sub-folder or archive. Names are unique and safe as file names.
    """
    limits = merge_limits(limits)
    path = os.path.abspath(capture_dir)
    if not os.path.exists(path):
        raise CaptureError("%s does not exist" % capture_dir)
    if os.path.isfile(path) or _is_capture_dir(path, limits) or _only_files(path):
        return [(capture_name(path), path)], []
    found = []
    skipped = []
    try:
        entries = sorted(os.listdir(path))
    except (IOError, OSError) as exc:
        raise CaptureError("cannot list %s: %s" % (capture_dir, exc.strerror or exc))
    for entry in entries:
        full = os.path.join(path, entry)
        if entry.startswith("."):
            continue
        if os.path.islink(full):
            skipped.append((full, "symbolic link: not followed"))
        elif os.path.isdir(full) or is_archive(full):
            found.append(full)
        else:
            skipped.append((full, "not a capture folder or archive (a folder of captures holds one sub-folder "
                                  "or archive per host)"))
    names = {}
    out = []
    for full in found:
        name = capture_name(full)
        count = names.get(name, 0) + 1
        names[name] = count
        out.append((name if count == 1 else "%s-%d" % (name, count), full))
    return out, skipped

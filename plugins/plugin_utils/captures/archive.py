# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unpacking a capture archive into a private folder: only the members the analysis reads, with
path, link, count and size checks, so that nothing outside the folder is ever written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import stat
import tarfile
import zipfile

from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import CaptureError, size_text

ARCHIVE_SUFFIXES = (".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar", ".zip")

# Files of a sosreport that the analysis reads (paths relative to the report's root).
_SOS_WANTED = re.compile(
    r"^(proc/(meminfo|vmstat|slabinfo|mounts|cpuinfo|modules|swaps|vmmemctl|xen|allocinfo|vmallocinfo)"
    r"|sys/kernel/debug/(kmemleak|page_owner)|sys/module/[^/]+/(version|taint)"
    r"|proc/sys/kernel/(osrelease|hostname|version|arch|random/boot_id)"
    r"|proc/sys/fs/dentry-state"
    r"|proc/\d+/(status|smaps_rollup)"
    r"|sys/kernel/debug/(vmmemctl|hv-balloon)"
    r"|sys/module/(vmw_balloon|vmware_balloon|vmmemctl|virtio_balloon|hv_balloon)(/.*)?"
    r"|sys/class/dmi/id/(sys_vendor|product_name)"
    r"|sys/devices/system/clocksource/clocksource0/available_clocksource"
    r"|sys/devices/system/memory/(block_size_bytes|memory\d+/state)"
    r"|sys/devices/system/xen_memory/.*"
    r"|sys/hypervisor/type"
    r"|etc/(os-release|hostname)|usr/lib/os-release"
    r"|sos_commands/(kernel/lsmod|vmware/[^/]+|process/(ps_[^/]+|lsof_[^/]+)|memory/[^/]+|date/[^/]+"
    r"|filesys/df_[^/]+|hardware/dmidecode))$")
# Top-level folders of a sosreport that never hold anything the analysis reads.
_SOS_SKIP_TOP = ("var", "usr", "lib", "lib64", "run", "boot", "dev", "opt", "sos_logs", "sos_reports",
                 "sos_strings", "root", "home", "srv", "tmp", "bin", "sbin")


def is_archive(path):
    lowered = path.lower()
    return os.path.isfile(path) and lowered.endswith(ARCHIVE_SUFFIXES)


def archive_stem(path):
    base = os.path.basename(path)
    for suffix in ARCHIVE_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[:-len(suffix)]
    return base


def _member_parts(name):
    """The path components of an archive member, or None when it would leave the extraction root."""
    if not name or "\x00" in name:
        return None
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return parts


def _wanted(parts):
    """True for the archive members the analysis may read."""
    for skip in (0, 1):
        rel = "/".join(parts[skip:])
        if rel and _SOS_WANTED.match(rel):
            return True
    # Not a sosreport file: a Windows capture or loose /proc files, near the top only.
    inner = parts[1:] if len(parts) > 1 else parts
    if inner and inner[0] in _SOS_SKIP_TOP and len(parts) > 2:
        return False
    return len(parts) <= 3


def extract_archive(archive, dest, limits, notes):
    """Unpack the members of ``archive`` that the analysis reads into ``dest``.

    Members with absolute paths, ``..``, device nodes or links leaving
    ``dest`` are skipped; the member count, each file's size and the total
    unpacked size are bounded (CaptureError beyond the bounds).
    """
    try:
        size = os.path.getsize(archive)
    except (IOError, OSError) as exc:
        raise CaptureError("cannot read %s: %s" % (archive, exc.strerror or exc))
    if size > limits["max_archive_bytes"]:
        raise CaptureError("%s is %s, above the %s archive limit" % (
            os.path.basename(archive), size_text(size), size_text(limits["max_archive_bytes"])))
    if archive.lower().endswith(".zip"):
        return _extract_zip(archive, dest, limits, notes)
    state = {"members": 0, "bytes": 0, "skipped": 0}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                state["members"] += 1
                if state["members"] > limits["max_members"]:
                    raise CaptureError("%s has more than %d members" % (os.path.basename(archive),
                                                                        limits["max_members"]))
                parts = _member_parts(member.name)
                if parts is None:
                    state["skipped"] += 1
                    continue
                if not _wanted(parts):
                    continue
                target = os.path.join(dest, *parts)
                if member.isdir():
                    _makedirs(target)
                elif member.isreg():
                    _copy_member(tar.extractfile(member), member.size, target, archive, parts, limits, state, notes)
                elif member.issym():
                    _link_member(member.linkname, target, dest, parts, state)
                else:
                    state["skipped"] += 1
    except (tarfile.TarError, EOFError, OSError, IOError, ValueError) as exc:
        raise CaptureError("%s is not a readable archive: %s" % (os.path.basename(archive), exc))
    if state["skipped"]:
        notes.append("archive: %d member(s) skipped (absolute paths, '..', device files or links leaving the "
                     "archive)" % state["skipped"])


def _extract_zip(archive, dest, limits, notes):
    state = {"members": 0, "bytes": 0, "skipped": 0}
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                state["members"] += 1
                if state["members"] > limits["max_members"]:
                    raise CaptureError("%s has more than %d members" % (os.path.basename(archive),
                                                                        limits["max_members"]))
                parts = _member_parts(info.filename)
                if parts is None:
                    state["skipped"] += 1
                    continue
                if info.is_dir() or not _wanted(parts):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    state["skipped"] += 1
                    continue
                with bundle.open(info) as handle:
                    _copy_member(handle, info.file_size, os.path.join(dest, *parts), archive, parts, limits,
                                 state, notes)
    except (zipfile.BadZipfile, zipfile.LargeZipFile, OSError, IOError, ValueError, EOFError) as exc:
        raise CaptureError("%s is not a readable zip archive: %s" % (os.path.basename(archive), exc))
    if state["skipped"]:
        notes.append("archive: %d member(s) skipped (absolute paths, '..' or links)" % state["skipped"])


def _makedirs(path):
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)


def _copy_member(handle, size, target, archive, parts, limits, state, notes):
    if handle is None:
        return
    if size > limits["max_file_bytes"]:
        notes.append("archive: %s skipped: %s is above the %s limit for one file" % (
            "/".join(parts), size_text(size), size_text(limits["max_file_bytes"])))
        return
    _makedirs(os.path.dirname(target))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except (IOError, OSError) as exc:
        if exc.errno == errno.EEXIST:
            return
        raise
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = handle.read(1 << 16)
            if not chunk:
                break
            state["bytes"] += len(chunk)
            if state["bytes"] > limits["max_extract_bytes"]:
                raise CaptureError("%s unpacks to more than %s (max_extract_mb)" % (
                    os.path.basename(archive), size_text(limits["max_extract_bytes"])))
            out.write(chunk)


def _link_member(linkname, target, dest, parts, state):
    """Recreate a relative symlink whose target stays inside dest; skip any other."""
    if not linkname or os.path.isabs(linkname) or "\x00" in linkname:
        state["skipped"] += 1
        return
    resolved = os.path.normpath(os.path.join(os.path.dirname(target), linkname))
    root = os.path.normpath(dest)
    if resolved != root and not resolved.startswith(root + os.sep):
        state["skipped"] += 1
        return
    _makedirs(os.path.dirname(target))
    if not os.path.lexists(target):
        os.symlink(linkname, target)

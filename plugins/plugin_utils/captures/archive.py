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
# Memory-relevant files a sosreport may hold besides those: read when they add evidence (sysctl -a, OOM-killer
# reports in the kernel log), else listed in the report as present but not read (see sos._SOS_INVENTORY).
_SOS_LISTED = re.compile(
    r"^(proc/(buddyinfo|zoneinfo|pagetypeinfo)"
    r"|sys/kernel/mm/(transparent_hugepage|hugepages|ksm)/.*"
    r"|sos_commands/(kernel/(sysctl_-a|dmesg[^/]*)|logs/journalctl_[^/]*|process/pidstat[^/]*)"
    r"|var/log/(messages|kern\.log|syslog|dmesg))$")
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


# Deeper members are skipped: nothing the analysis reads is that deep, and removing such a tree recurses.
MAX_MEMBER_DEPTH = 64


def _member_parts(name):
    """The path components of an archive member, or None when it would leave the extraction root
    or is nested deeper than MAX_MEMBER_DEPTH."""
    if not name or "\x00" in name:
        return None
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or len(parts) > MAX_MEMBER_DEPTH:
        return None
    return parts


def _wanted(parts):
    """True for the archive members the analysis may read."""
    for skip in (0, 1):
        rel = "/".join(parts[skip:])
        if rel and (_SOS_WANTED.match(rel) or _SOS_LISTED.match(rel)):
            return True
    # Not a sosreport file: a Windows capture or loose /proc files, near the top only.
    inner = parts[1:] if len(parts) > 1 else parts
    if inner and inner[0] in _SOS_SKIP_TOP and len(parts) > 2:
        return False
    return len(parts) <= 3


def extract_archive(archive, dest, limits, notes):
    """Unpack the members of ``archive`` that the analysis reads into ``dest``.

    Members with absolute paths, ``..`` or device nodes are skipped. No link is
    ever created or followed: every component is opened under a directory file
    descriptor with ``O_NOFOLLOW``, and a link member whose target (resolved
    inside the archive's own names) is a file the archive holds becomes a copy
    of that file. The member count, each file's size and the total size of the
    members (those unpacked and those passed over, which cost the same to
    decompress) are bounded (CaptureError beyond the bounds).
    """
    try:
        size = os.path.getsize(archive)
    except (IOError, OSError) as exc:
        raise CaptureError("cannot read %s: %s" % (archive, exc.strerror or exc))
    if size > limits["max_archive_bytes"]:
        raise CaptureError("%s is %s, above the %s archive limit" % (
            os.path.basename(archive), size_text(size), size_text(limits["max_archive_bytes"])))
    root_fd = os.open(dest, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    try:
        if archive.lower().endswith(".zip"):
            return _extract_zip(archive, root_fd, limits, notes)
        return _extract_tar(archive, root_fd, limits, notes)
    finally:
        os.close(root_fd)


def _extract_tar(archive, root_fd, limits, notes):
    state = {"members": 0, "bytes": 0, "skipped": 0, "passed": 0}
    files = set()
    links = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                state["members"] += 1
                if state["members"] > limits["max_members"]:
                    raise CaptureError("%s has more than %d members" % (os.path.basename(archive),
                                                                        limits["max_members"]))
                parts = _member_parts(member.name)
                written = False
                if parts is None:
                    state["skipped"] += 1
                elif not _wanted(parts):
                    pass
                elif member.isdir():
                    _close(_open_dir(root_fd, parts, create=True))
                elif member.isreg():
                    written = _copy_member(tar.extractfile(member), member.size, root_fd, archive, parts, limits,
                                           state, notes)
                    if written:
                        files.add(tuple(parts))
                elif member.issym() or member.islnk():
                    links[tuple(parts)] = (member.issym(), member.linkname)
                else:
                    state["skipped"] += 1
                if not written and member.isreg():
                    _pass_over(member.size, archive, limits, state)
            for parts, (symbolic, linkname) in sorted(links.items()):
                _link_member(parts, symbolic, linkname, links, files, root_fd, archive, limits, state, notes)
    except (tarfile.TarError, EOFError, OSError, IOError, ValueError) as exc:
        raise CaptureError("%s is not a readable archive: %s" % (os.path.basename(archive), exc))
    if state["skipped"]:
        notes.append("archive: %d member(s) skipped (absolute paths, '..', device files, or links that leave "
                     "the archive or name no file in it)" % state["skipped"])


def _pass_over(size, archive, limits, state):
    """A member not unpacked is still decompressed to reach the next one: it counts against the limit."""
    state["passed"] += max(0, size)
    if state["bytes"] + state["passed"] > limits["max_extract_bytes"]:
        raise CaptureError("%s holds more than %s (max_extract_mb), counting the members the analysis does not "
                           "read: unpack the files it needs (docs/offline-analysis.md) or raise the limit"
                           % (os.path.basename(archive), size_text(limits["max_extract_bytes"])))


def _extract_zip(archive, root_fd, limits, notes):
    state = {"members": 0, "bytes": 0, "skipped": 0, "passed": 0}
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
                    _copy_member(handle, info.file_size, root_fd, archive, parts, limits, state, notes)
    except (zipfile.BadZipfile, zipfile.LargeZipFile, OSError, IOError, ValueError, EOFError) as exc:
        raise CaptureError("%s is not a readable zip archive: %s" % (os.path.basename(archive), exc))
    if state["skipped"]:
        notes.append("archive: %d member(s) skipped (absolute paths, '..' or links)" % state["skipped"])


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class _Refused(OSError):
    """A path component that is not a plain directory of the extraction folder."""


def _close(fd):
    if fd is not None:
        os.close(fd)


def _open_dir(root_fd, parts, create):
    """A descriptor of the directory ``parts`` under ``root_fd``, one component at a time, never
    through a link; None when it does not exist and ``create`` is false."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            try:
                child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT and create:
                    os.mkdir(part, 0o700, dir_fd=fd)
                    child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
                elif exc.errno == errno.ENOENT:
                    os.close(fd)
                    return None
                elif exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _Refused(exc.errno, "%s is not a directory of the archive" % part)
                else:
                    raise
            os.close(fd)
            fd = child
    except Exception:
        os.close(fd)
        raise
    return fd


def _copy_member(handle, size, root_fd, archive, parts, limits, state, notes):
    """Write one member under root_fd; True when written."""
    if handle is None:
        return False
    if size > limits["max_file_bytes"]:
        notes.append("archive: %s skipped: %s is above the %s limit for one file" % (
            "/".join(parts), size_text(size), size_text(limits["max_file_bytes"])))
        return False
    try:
        parent = _open_dir(root_fd, parts[:-1], create=True)
    except _Refused:
        state["skipped"] += 1
        return False
    try:
        fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=parent)
    except (IOError, OSError) as exc:
        if exc.errno == errno.EEXIST:
            return False
        raise
    finally:
        os.close(parent)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = handle.read(1 << 16)
            if not chunk:
                break
            state["bytes"] += len(chunk)
            if state["bytes"] + state["passed"] > limits["max_extract_bytes"]:
                raise CaptureError("%s unpacks to more than %s (max_extract_mb)" % (
                    os.path.basename(archive), size_text(limits["max_extract_bytes"])))
            out.write(chunk)
    return True


def _normal(parts):
    """Components with '.' and '..' applied; None when '..' would leave the archive."""
    out = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    return out


def _resolve(parts, links):
    """The archive name a link member finally names, following the archive's own links by name only
    (never the disk); None when a target is absolute, leaves the archive or links loop."""
    path = list(parts)
    hops = 0
    index = 0
    while index < len(path):
        key = tuple(path[:index + 1])
        if key in links:
            hops += 1
            symbolic, linkname = links[key]
            if hops > 40 or not linkname or "\x00" in linkname or linkname.startswith("/"):
                return None
            base = path[:index] if symbolic else []
            path = _normal(base + linkname.split("/") + path[index + 1:])
            if path is None:
                return None
            index = 0
            continue
        index += 1
    return tuple(path)


def _link_member(parts, symbolic, linkname, links, files, root_fd, archive, limits, state, notes):
    """A link to a file the archive holds becomes a copy of it; any other link is skipped."""
    target = _resolve(list(parts), links)
    if target is None or target not in files:
        state["skipped"] += 1
        return
    source = _open_dir(root_fd, list(target[:-1]), create=False)
    if source is None:
        state["skipped"] += 1
        return
    try:
        fd = os.open(target[-1], os.O_RDONLY | _NOFOLLOW, dir_fd=source)
    finally:
        os.close(source)
    with os.fdopen(fd, "rb") as handle:
        if _copy_member(handle, os.fstat(handle.fileno()).st_size, root_fd, archive, list(parts), limits, state,
                        notes):
            files.add(tuple(parts))

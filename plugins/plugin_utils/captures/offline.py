# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline analysis: captured files in, snapshots (design section 3) out.

A *capture* is what a support engineer holds for one host: a sosreport (a
folder or a ``.tar.xz``), a folder of Windows tool output (poolmon logs,
WinDbg ``!vm`` / ``!poolused`` / ``!memusage`` text, a counter CSV), or a
folder of loose ``/proc`` files. ``find_captures`` tells whether a directory is
one capture or a folder of captures; ``analyze_capture`` turns one capture into
a snapshot and a file list saying what was used, what was skipped and why.

Formats are recognised by content, never by file name. Binary and oversized
files are refused after reading at most a few kilobytes; archives are unpacked
member by member into a private temporary directory with path, link, count and
size checks (nothing outside it is ever written) and only the files the
analysis reads are unpacked. Nothing here raises to the caller for bad input:
a capture that cannot be analysed comes back with ``error`` set to one
sentence naming the file and line.

Runs on the controller (called by the ``memleak_captures`` lookup). Standard
library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import sos_parsers as sp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import windows_parsers as wp
from ansible_collections.memleak.remediation.plugins.module_utils.schema import new_snapshot

MIB = 1024 * 1024

DEFAULT_LIMITS = {
    "max_file_bytes": 64 * MIB,        # one text file
    "max_files": 2000,                 # files examined in one capture folder
    "max_archive_bytes": 4096 * MIB,   # size of an archive on disk
    "max_extract_bytes": 1024 * MIB,   # bytes unpacked from one archive
    "max_members": 500000,             # members listed in one archive
    "top": 15,                         # slab caches, processes, deleted files kept
    "top_tags": 50,                    # pool tags kept per sample
}

SNIFF_BYTES = 8192
ARCHIVE_SUFFIXES = (".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar", ".zip")

KIND_TEXT = {
    "poolmon": "poolmon output",
    "vm": "WinDbg !vm",
    "poolused": "WinDbg !poolused",
    "memusage": "WinDbg !memusage",
    "perfmon": "performance counter CSV",
    "meminfo": "/proc/meminfo",
    "slabinfo": "/proc/slabinfo",
    "vmstat": "/proc/vmstat",
}
WINDOWS_KINDS = ("poolmon", "vm", "poolused", "memusage", "perfmon")
LINUX_KINDS = ("meminfo", "slabinfo", "vmstat")

# Files of a sosreport that the analysis reads (paths relative to the report's root).
_SOS_WANTED = re.compile(
    r"^(proc/(meminfo|vmstat|slabinfo|mounts|cpuinfo|modules|swaps|vmmemctl|xen)"
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


class CaptureError(Exception):
    """A capture that cannot be analysed; str() is the sentence for the report."""


# --------------------------------------------------------------------------- reading files

def read_text(path, limits):
    """(text, None) for a readable text file, (None, reason) otherwise.

    Size and content are checked before the whole file is read: a file above
    ``max_file_bytes`` or with binary content costs one ``stat`` and at most
    ``SNIFF_BYTES`` read. UTF-16 (with BOM) and UTF-8 (with or without BOM) are
    decoded; other bytes are read as Windows-1252 / Latin-1, as old tools wrote.
    """
    try:
        info = os.stat(path)
    except (IOError, OSError) as exc:
        return None, "cannot read: %s" % (exc.strerror or exc)
    if not stat.S_ISREG(info.st_mode):
        return None, "not a regular file"
    if info.st_size > limits["max_file_bytes"]:
        return None, "%s is above the %s limit for one file (max_file_mb)" % (
            _size_text(info.st_size), _size_text(limits["max_file_bytes"]))
    if info.st_size == 0:
        return None, "empty file"
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
            reason = _binary_reason(head)
            if reason:
                return None, reason
            data = head + handle.read(limits["max_file_bytes"] + 1 - len(head))
    except (IOError, OSError) as exc:
        return None, "cannot read: %s" % (exc.strerror or exc)
    return _decode(data), None


def _size_text(value):
    if value >= MIB:
        return "%.0f MiB" % (float(value) / MIB)
    if value >= 1024:
        return "%.0f KiB" % (value / 1024.0)
    return "%d bytes" % value


def _binary_reason(head):
    if head.startswith((b"PAGEDU64", b"PAGEDUMP", b"MDMP")):
        return ("binary Windows crash dump: open it in WinDbg and save the output of !vm, !poolused 2 "
                "and !memusage 8 as text")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    if head.startswith((b"\xfd7zXZ", b"\x1f\x8b", b"BZh", b"PK\x03\x04")):
        return "compressed file inside the capture: unpack it first"
    if b"\x00" in head:
        return "binary file (a .blg counter log? convert it with: relog FILE.blg -f csv -o FILE.csv)"
    control = sum(1 for b in bytearray(head) if b < 32 and b not in (9, 10, 12, 13, 27))
    if head and control * 10 > len(head):
        return "binary file (not text)"
    return None


def _decode(data):
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


# --------------------------------------------------------------------------- recognising content

_KD_COMMAND = re.compile(r"^[ \t]*(?:\d+:[ \t]*)?kd>[ \t]*(!?[A-Za-z.]\S*)", re.M)
_SIGNATURES = (
    ("perfmon", lambda t, first: "PDH-CSV" in first or ("path" in first.lower() and "cookedvalue" in first.lower())),
    ("meminfo", lambda t, first: re.match(r"^MemTotal:\s+\d+\s+kB", first) is not None),
    ("slabinfo", lambda t, first: first.startswith("slabinfo - version:")),
    ("vmstat", lambda t, first: re.match(r"^nr_[a-z_]+ \d+$", first.strip()) is not None),
    ("poolused", lambda t, first: re.search(r"Tag\s+Allocs\s+Used\s+Allocs\s+Used", t, re.I) is not None),
    ("vm", lambda t, first: re.search(r"Virtual Memory Usage|NonPagedPool\s*(Nx\s*)?Usage\s*:|"
                                      r"Physical Memory\s*:\s*\d+\s*\(", t, re.I) is not None),
    ("memusage", lambda t, first: "Compiling memory usage data" in t or (
        re.search(r"Zeroed\s*:\s*\d+", t) is not None and re.search(r"Standby\s*:\s*\d+", t) is not None)),
    ("poolmon", lambda t, first: re.search(r"^\s*Tag\s+Type\s+Allocs|Memory:\s*\d+\s*K\s+Avail:|"
                                           r"^\s*\S{1,4}(?: \S{1,3})?\s+(?:Nonp|Paged)\s+\d+\s", t, re.M) is not None),
)
_KD_KINDS = {"!vm": "vm", "!poolused": "poolused", "!memusage": "memusage"}


def sections(text):
    """[(kind, text, first line number)] found in one file's text; [] when nothing is known.

    A debugger log is cut at each ``kd>`` prompt and every section is typed by
    its command (``!vm``, ``!poolused``, ``!memusage``; other commands are
    ignored); other text is typed by its content as a whole.
    """
    prompts = list(_KD_COMMAND.finditer(text))
    if prompts:
        out = []
        for index, match in enumerate(prompts):
            end = prompts[index + 1].start() if index + 1 < len(prompts) else len(text)
            command = match.group(1).lower()
            command = re.match(r"!?[a-z.]+", command).group(0) if re.match(r"!?[a-z.]+", command) else command
            kind = _KD_KINDS.get(command)
            if kind:
                out.append((kind, text[match.start():end], text.count("\n", 0, match.start()) + 1))
        if out:
            return out
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#TYPE")), "")
    for kind, test in _SIGNATURES:
        if test(text, first):
            return [(kind, text, 1)]
    return []


def _offset(err, first_line):
    """A ParseError from a section parser, with the line number made relative to the file."""
    if err.line is not None and first_line > 1:
        return ParseError(err.message, err.source, err.line + first_line - 1)
    return err


# --------------------------------------------------------------------------- times

_NAME_TIME = re.compile(r"(20\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)(?:[T _.-]?([0-2]\d)[-_.:]?([0-5]\d)"
                        r"(?:[-_.:]?([0-5]\d))?)?")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_from_name(name):
    """ISO time from a timestamp in a file name (``poolmon-2024-03-11_0900.log``), else None."""
    for match in _NAME_TIME.finditer(name):
        parts = [int(p) if p else 0 for p in match.groups()]
        try:
            return _iso(datetime.datetime(*parts))
        except ValueError:
            continue
    return None


def _file_time(path, rel):
    """(iso, how) for a file: its name's timestamp, else its modification time (UTC)."""
    named = time_from_name(os.path.basename(rel))
    if named:
        return named, "its name"
    try:
        moment = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc)
    except (IOError, OSError, OverflowError, ValueError):
        return None, None
    return _iso(moment), "its modification time"


def _now():
    return _iso(datetime.datetime.now(datetime.timezone.utc))


# --------------------------------------------------------------------------- archives

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
            os.path.basename(archive), _size_text(size), _size_text(limits["max_archive_bytes"])))
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
            "/".join(parts), _size_text(size), _size_text(limits["max_file_bytes"])))
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
                    os.path.basename(archive), _size_text(limits["max_extract_bytes"])))
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


# --------------------------------------------------------------------------- finding captures

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
    if sos_root(path):
        return True
    for name in _top_files(path)[:limits["max_files"]]:
        if is_archive(name):
            continue
        text, _reason = read_text(name, limits)
        if text is not None and sections(text):
            return True
    return False


def capture_name(path):
    base = archive_stem(path) if os.path.isfile(path) else os.path.basename(os.path.normpath(path))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "capture"
    return name


def find_captures(capture_dir, limits=None):
    """([(name, path)], [(path, reason)]): the captures in ``capture_dir`` and the entries skipped.

    ``capture_dir`` is one capture (an archive, a file, a sosreport or /proc
    tree, or a folder holding recognised files) or a folder of captures, one
    per sub-folder or archive. Names are unique and safe as file names.
    """
    limits = _limits(limits)
    path = os.path.abspath(capture_dir)
    if not os.path.exists(path):
        raise CaptureError("%s does not exist" % capture_dir)
    if os.path.isfile(path) or _is_capture_dir(path, limits):
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


def _limits(limits):
    merged = dict(DEFAULT_LIMITS)
    merged.update(dict((k, v) for k, v in (limits or {}).items() if v is not None))
    return merged


# --------------------------------------------------------------------------- one capture

def analyze_capture(path, name=None, limits=None):
    """Analyse one capture -> ``{name, path, snapshot, error, files, hostname}``.

    ``files`` lists every file looked at: ``{file, kind, status:
    used|skipped|error, reason}``. ``snapshot`` is None and ``error`` one
    sentence when nothing usable was found or a required file is malformed.
    """
    limits = _limits(limits)
    name = name or capture_name(path)
    result = {"name": name, "path": path, "snapshot": None, "error": None, "files": [], "hostname": None}
    work = None
    try:
        root = path
        notes = []
        if os.path.isfile(path) and is_archive(path):
            work = tempfile.mkdtemp(prefix="memleak-capture-")
            extract_archive(path, work, limits, notes)
            root = work
        if os.path.isfile(root):
            snapshot = _analyze_files(name, [(root, os.path.basename(root))], result, limits)
        else:
            tree = sos_root(root)
            if tree is not None:
                snapshot = _analyze_tree(name, tree, result, limits)
            else:
                snapshot = _analyze_files(name, _list_files(root, limits, result), result, limits)
        snapshot["warnings"][:0] = notes
        result["snapshot"] = snapshot
    except (CaptureError, ParseError) as exc:
        result["error"] = _relative(str(exc), path)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
            _relabel(result, work, path)
    return result


def _relative(text, path):
    """Paths inside a capture folder are shown relative to it."""
    if os.path.isdir(path):
        return text.replace(os.path.join(path, ""), "")
    return text


def _relabel(result, work, archive):
    """Files unpacked from an archive are named relative to the archive, not the temporary folder."""
    label = os.path.basename(archive)

    def fix(text):
        return text.replace(work + os.sep, label + ":").replace(work, label) if isinstance(text, str) else text
    result["error"] = fix(result["error"])
    for item in result["files"]:
        item["file"] = fix(item["file"])
        item["reason"] = fix(item["reason"])
    if result["snapshot"]:
        result["snapshot"]["warnings"] = [fix(w) for w in result["snapshot"]["warnings"]]


def _list_files(root, limits, result):
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and
                             not os.path.islink(os.path.join(dirpath, d)))
        for filename in sorted(filenames):
            full = os.path.join(dirpath, filename)
            rel = os.path.relpath(full, root)
            if filename.startswith("."):
                continue
            if os.path.islink(full):
                result["files"].append({"file": rel, "kind": None, "status": "skipped",
                                        "reason": "symbolic link: not followed"})
                continue
            if len(files) >= limits["max_files"]:
                result["files"].append({"file": rel, "kind": None, "status": "skipped",
                                        "reason": "more than %d files in the capture" % limits["max_files"]})
                continue
            files.append((full, rel))
    return files


def _analyze_files(name, files, result, limits):
    """Windows tool output or loose /proc files -> one snapshot."""
    parts = []
    for full, rel in files:
        if is_archive(full):
            result["files"].append({"file": rel, "kind": None, "status": "skipped",
                                    "reason": "archive inside a capture: give it as a capture of its own"})
            continue
        text, reason = read_text(full, limits)
        if text is None:
            result["files"].append({"file": rel, "kind": None, "status": "skipped", "reason": reason})
            continue
        found = sections(text)
        if not found:
            result["files"].append({"file": rel, "kind": None, "status": "skipped",
                                    "reason": "not a recognised format (poolmon, WinDbg !vm / !poolused / "
                                              "!memusage, counter CSV, /proc/meminfo)"})
            continue
        when, how = _file_time(full, rel)
        for kind, section, first_line in found:
            parser = _PARSERS[kind]
            try:
                data = parser(section, source=rel)
            except ParseError as exc:
                result["files"].append({"file": rel, "kind": kind, "status": "error",
                                        "reason": str(_offset(exc, first_line))})
                continue
            parts.append({"kind": kind, "file": rel, "full": full, "data": data, "time": when, "how": how,
                          "text": section if kind in LINUX_KINDS else None})
            result["files"].append({"file": rel, "kind": kind, "status": "used", "reason": KIND_TEXT[kind]})
    kinds = set(p["kind"] for p in parts)
    if not parts:
        errors = [f for f in result["files"] if f["status"] == "error"]
        if errors:
            raise CaptureError(errors[0]["reason"])
        raise CaptureError("no file of the capture is in a recognised format (%d file(s) skipped)"
                           % len(result["files"]))
    if kinds & set(WINDOWS_KINDS) and kinds & set(LINUX_KINDS):
        raise CaptureError("the capture mixes Windows and Linux files: put each host in a folder of its own")
    if kinds & set(LINUX_KINDS):
        return _loose_linux(name, parts, result, limits)
    return windows_snapshot(name, parts, limits)


_PARSERS = {
    "poolmon": wp.parse_poolmon,
    "vm": wp.parse_vm,
    "poolused": wp.parse_poolused,
    "memusage": wp.parse_memusage,
    "perfmon": wp.parse_perf_csv,
    "meminfo": lp.parse_meminfo,
    "slabinfo": lp.parse_slabinfo,
    "vmstat": lp.parse_vmstat,
}


# --------------------------------------------------------------------------- Linux

def _loose_linux(name, parts, result, limits):
    """Loose /proc files (meminfo, slabinfo, vmstat) -> a temporary /proc tree -> linux_collect."""
    by_kind = {}
    for part in parts:
        if part["kind"] in by_kind:
            raise CaptureError("two %s files (%s, %s): one capture holds one host at one time"
                               % (KIND_TEXT[part["kind"]], by_kind[part["kind"]]["file"], part["file"]))
        by_kind[part["kind"]] = part
    if "meminfo" not in by_kind:
        raise CaptureError("no /proc/meminfo among the Linux files (%s)" % ", ".join(sorted(by_kind)))
    work = tempfile.mkdtemp(prefix="memleak-proc-")
    try:
        os.makedirs(os.path.join(work, "proc"))
        for kind, part in by_kind.items():
            with open(os.path.join(work, "proc", kind), "w") as handle:
                handle.write(part["text"])
        snapshot = linux_collect.collect(proc_root=work, live=False, host=name, top=limits["top"],
                                         collected_at=by_kind["meminfo"]["time"] or _now())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    snapshot["source"] = "capture"
    snapshot["warnings"] = [w.replace(work + os.sep, "").replace(work, "") for w in snapshot["warnings"]]
    if by_kind["meminfo"]["how"]:
        snapshot["warnings"].append("time of %s taken from %s" % (by_kind["meminfo"]["file"],
                                                                  by_kind["meminfo"]["how"]))
    return snapshot


def _sos_text(root, rel, limits):
    full = os.path.join(root, rel)
    if not os.path.isfile(full):
        return None
    text, _reason = read_text(full, limits)
    return text


def _sos_files(root, folder):
    full = os.path.join(root, folder)
    try:
        return sorted(os.path.join(folder, n) for n in os.listdir(full) if os.path.isfile(os.path.join(full, n)))
    except (IOError, OSError):
        return []


def _analyze_tree(name, root, result, limits):
    """A sosreport or /proc tree -> linux_collect, completed from the report's command output."""
    notes = []
    collected_at = None
    for rel in ("sos_commands/date/date_--utc", "sos_commands/date/date"):
        text = _sos_text(root, rel, limits)
        if text is None:
            continue
        try:
            collected_at = sp.parse_date_utc(text, source=rel)
            result["files"].append({"file": rel, "kind": "date", "status": "used", "reason": "time of the report"})
            break
        except ParseError:
            continue
    if collected_at is None:
        collected_at, how = _file_time(os.path.join(root, "proc", "meminfo"), "proc/meminfo")
        if collected_at is None:
            collected_at = _now()
            notes.append("time of the capture unknown: the time of the analysis is used")
        else:
            notes.append("time of the capture taken from %s of proc/meminfo (no 'date --utc' output)" % how)
    if not os.path.isfile(os.path.join(root, "proc", "meminfo")):
        raise CaptureError("%s has no proc/meminfo: the sosreport was taken without the memory plugin "
                           "or is incomplete" % name)
    snapshot = linux_collect.collect(proc_root=root, live=False, host=name, top=limits["top"],
                                     collected_at=collected_at)
    snapshot["warnings"] = [w.replace(root + os.sep, "").replace(root, name) for w in snapshot["warnings"]]
    snapshot["source"] = "sosreport" if os.path.isdir(os.path.join(root, "sos_commands")) else "capture"
    result["files"].append({"file": "proc/meminfo", "kind": "meminfo", "status": "used",
                            "reason": "read with the /proc tree (%s)" % snapshot["source"]})
    result["hostname"] = _first_line(root, "proc/sys/kernel/hostname") or _first_line(root, "etc/hostname")
    _sos_virt(root, snapshot, result, limits)
    _tree_caveats(root, snapshot)
    _sos_processes(root, snapshot, result, limits)
    _sos_deleted(root, snapshot, result, limits)
    _sos_tmpfs(root, snapshot, result, limits)
    snapshot["warnings"].extend(notes)
    return snapshot


def _tree_caveats(root, snapshot):
    """Correct what linux_collect concludes from files a sosreport never copies."""
    if snapshot["source"] == "sosreport":
        snapshot["warnings"] = [
            "processes: the report keeps proc/PID/status only (no smaps_rollup): ranked by RSS"
            if w.startswith("processes: no smaps_rollup (kernel older than 4.14)") else w
            for w in snapshot["warnings"]]
    balloon = snapshot["virt"].get("balloon")
    has_modules = os.path.isfile(os.path.join(root, "proc", "modules")) or \
        os.path.isfile(os.path.join(root, "sos_commands", "kernel", "lsmod"))
    if balloon and not balloon.get("loaded") and not has_modules:
        snapshot["virt"]["balloon"] = None
        snapshot["warnings"].append("balloon: the capture has no module list (proc/modules or lsmod): "
                                    "whether %s is loaded is unknown" % balloon.get("driver"))


_TOOLS_VERSION = re.compile(r"^\s*(\d+(?:\.\d+){2,})\s+\(build-\d+\)\s*$")
_BALLOON_MB = re.compile(r"^\s*(\d+)\s*(MB|MHz)\s*$")


def _sos_virt(root, snapshot, result, limits):
    virt = snapshot["virt"]
    for rel in _sos_files(root, "sos_commands/vmware"):
        text = _sos_text(root, rel, limits)
        if text is None:
            continue
        if _TOOLS_VERSION.match(text):
            virt["tools"] = {"name": "VMware Tools", "version": lp.parse_toolbox_version(text, source=rel)}
            result["files"].append({"file": rel, "kind": "vmware-toolbox-cmd -v", "status": "used",
                                    "reason": "VMware Tools version"})
            if virt["platform"] == "unknown":
                virt["platform"] = "vmware"
                snapshot["warnings"].append("virt: platform taken as VMware: VMware Tools answered in %s" % rel)
        elif _BALLOON_MB.match(text) and virt.get("balloon") and virt["balloon"].get("bytes") is None:
            virt["balloon"]["bytes"] = lp.parse_toolbox_balloon(text, source=rel)
            result["files"].append({"file": rel, "kind": "vmware-toolbox-cmd stat balloon", "status": "used",
                                    "reason": "balloon size"})
    if virt["platform"] == "unknown":
        text = _sos_text(root, "sos_commands/hardware/dmidecode", limits)
        if text:
            block = re.search(r"System Information\s*\n((?:[ \t]+.*\n?)+)", text)
            if block:
                vendor = re.search(r"Manufacturer:\s*(.+)", block.group(1))
                product = re.search(r"Product Name:\s*(.+)", block.group(1))
                platform = linux_collect.detect_platform(sys_vendor=vendor.group(1).strip() if vendor else None,
                                                         product_name=product.group(1).strip() if product else None)
                if platform not in ("unknown", "none"):
                    virt["platform"] = platform
                    result["files"].append({"file": "sos_commands/hardware/dmidecode", "kind": "dmidecode",
                                            "status": "used", "reason": "virtualisation platform"})


def _find_output(root, folder, prefix, parser, limits, result, what):
    for rel in _sos_files(root, folder):
        if not os.path.basename(rel).startswith(prefix):
            continue
        text = _sos_text(root, rel, limits)
        if text is None:
            continue
        try:
            rows = parser(text, source=rel)
        except ParseError as exc:
            result["files"].append({"file": rel, "kind": what, "status": "error", "reason": str(exc)})
            continue
        result["files"].append({"file": rel, "kind": what, "status": "used", "reason": what})
        return rows
    return None


def _sos_processes(root, snapshot, result, limits):
    linux = snapshot["linux"]
    if linux["processes"]:
        return
    rows = _find_output(root, "sos_commands/process", "ps_", sp.parse_ps, limits, result, "ps")
    if not rows:
        return
    rows.sort(key=lambda r: r["rss"], reverse=True)
    linux["processes"] = [{"pid": r["pid"], "name": r["name"], "rss": r["rss"], "pss": None, "anon": None,
                           "swap": None} for r in rows[:limits["top"]]]
    snapshot["warnings"].append("processes: no proc/PID/status in the report: taken from ps (RSS only)")


def _sos_deleted(root, snapshot, result, limits):
    linux = snapshot["linux"]
    if linux["deleted_open"]:
        return
    rows = _find_output(root, "sos_commands/process", "lsof", sp.parse_lsof, limits, result, "lsof")
    if not rows:
        return
    mounts_text = _sos_text(root, "proc/mounts", limits)
    try:
        mounts = lp.parse_mounts(mounts_text, source="proc/mounts") if mounts_text else []
    except ParseError:
        mounts = []
    memory = [m for m in mounts if m["fstype"] in lp.MEMORY_FSTYPES]
    names = dict((p["pid"], p["name"]) for p in linux["processes"])
    found = {}
    for row in rows:
        if not row["deleted"] or not row["path"].startswith("/"):
            continue
        if not row["path"].startswith("/memfd:") and lp.mount_of(row["path"], memory) is None:
            continue
        key = (row["pid"], row["path"])
        size = row["size"]
        if key not in found or (size or 0) > (found[key]["bytes"] or 0):
            found[key] = {"pid": row["pid"], "name": names.get(row["pid"]) or _status_name(root, row["pid"])
                          or row["command"], "path": row["path"], "bytes": size}
    linux["deleted_open"] = sorted(found.values(), key=lambda d: (d["bytes"] or 0, d["pid"]),
                                   reverse=True)[:limits["top"]]


def _first_line(root, rel):
    try:
        with open(os.path.join(root, rel), "rb") as handle:
            lines = handle.read(4096).decode("utf-8", "replace").strip().splitlines()
    except (IOError, OSError):
        return None
    return lines[0].strip() if lines else None


def _status_name(root, pid):
    try:
        with open(os.path.join(root, "proc", str(pid), "status"), "rb") as handle:
            head = handle.read(256).decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    match = re.match(r"Name:\s*(.*)", head)
    return match.group(1).strip() if match else None


def _sos_tmpfs(root, snapshot, result, limits):
    linux = snapshot["linux"]
    unknown = [m for m in linux["tmpfs"] if m.get("used") is None]
    if not unknown:
        return
    rows = _find_output(root, "sos_commands/filesys", "df_", sp.parse_df, limits, result, "df")
    if not rows:
        return
    by_mount = dict((r["mount"], r) for r in rows)
    filled = 0
    for entry in unknown:
        row = by_mount.get(entry["mount"])
        if row is not None:
            entry["used"] = row["used"]
            entry["size"] = row["size"]
            filled += 1
    if filled == len(unknown):
        snapshot["warnings"] = [w for w in snapshot["warnings"] if not w.startswith("tmpfs: a captured tree")]
    linux["tmpfs"].sort(key=lambda m: (m["used"] is not None, m["used"] or 0), reverse=True)


# --------------------------------------------------------------------------- Windows

def windows_snapshot(name, parts, limits=None):
    """Snapshot (design section 3, ``windows:`` part) from parsed Windows tool output.

    ``parts`` are ``{kind, file, data, time, how}`` in any order. The latest
    poolmon frame gives the tag table, ``!vm`` the pool sizes with their
    limits, physical memory and commit; poolmon's header, the counter CSV's
    last row, ``!poolused``'s TOTAL row and ``!memusage`` fill what is still
    unknown, in that order. Every timed poolmon frame and counter row becomes a
    compact sample (series.py), so two poolmon logs an hour apart give a
    two-point series.
    """
    limits = _limits(limits)
    parts = sorted(parts, key=lambda p: (p["time"] or "", p["file"]))
    warnings = []
    snap = new_snapshot(name, None, source=_windows_source(parts), family="windows")
    memory = snap["memory"]
    windows = snap["windows"]
    pools = {"nonpaged": {"bytes": None, "limit": None}, "paged": {"bytes": None, "resident": None, "limit": None}}
    windows["pools"] = pools
    windows["pool_alerts"] = None
    frames = []
    times = [p["time"] for p in parts if p["time"]]
    snap["collected_at"] = max(times) if times else _now()
    for part in parts:
        if part["how"] == "its modification time" and part["kind"] in ("poolmon", "vm", "poolused", "memusage"):
            warnings.append("time of %s taken from its modification time" % part["file"])
        if part["kind"] == "poolmon":
            frames.extend(_poolmon_frames(part, warnings))

    vm = _latest(parts, "vm")
    if vm:
        data = vm["data"]
        _fill(memory, "total", data["physical"])
        _fill(memory, "available", data["available"])
        _fill(memory, "commit_used", data["commit_used"])
        _fill(memory, "commit_limit", data["commit_limit"])
        _fill(pools["nonpaged"], "bytes", data["nonpaged"])
        _fill(pools["nonpaged"], "limit", data["nonpaged_limit"])
        _fill(pools["paged"], "bytes", data["paged"])
        _fill(pools["paged"], "limit", data["paged_limit"])
        windows["pool_alerts"] = {"excessive": data["excessive"], "failed_allocations": data["failed_allocations"],
                                  "source": vm["file"]}
        if data["underflowed"]:
            warnings.append("%s: %s printed as underflowed 20-digit values: treated as unknown"
                            % (vm["file"], ", ".join(data["underflowed"])))
        if data["excessive"]:
            warnings.append("%s: the debugger flagged excessive %s pool usage"
                            % (vm["file"], " and ".join(data["excessive"])))
        if data["failed_allocations"]:
            warnings.append("%s: %d pool allocations had failed when the dump was taken"
                            % (vm["file"], data["failed_allocations"]))

    system = [f for f in frames if f["scope"] in (None, "system")]
    chosen = system or frames
    if frames and not system:
        warnings.append("poolmon shows session pools only (%s): their tags are reported as the host's"
                        % chosen[-1]["scope"])
    latest = chosen[-1] if chosen else None
    if latest is not None:
        header = latest["header"]
        _fill(memory, "total", header.get("memory"))
        _fill(memory, "available", header.get("available"))
        _fill(memory, "commit_used", header.get("commit"))
        _fill(memory, "commit_limit", header.get("commit_limit"))
        _fill(pools["nonpaged"], "bytes", header.get("pool_nonpaged"))
        _fill(pools["paged"], "bytes", header.get("pool_paged"))

    perf_rows = []
    for part in parts:
        if part["kind"] == "perfmon":
            if not part["data"]["timezone_known"]:
                warnings.append("%s: local times without a time zone: read as UTC" % part["file"])
            perf_rows.extend(part["data"]["rows"])
    perf_rows.sort(key=lambda r: r["time"])
    if perf_rows:
        last = perf_rows[-1]
        _fill(memory, "available", last["available"])
        _fill(memory, "commit_used", last["commit_used"])
        _fill(memory, "commit_limit", last["commit_limit"])
        _fill(pools["nonpaged"], "bytes", last["pool_nonpaged"])
        _fill(pools["paged"], "bytes", last["pool_paged"])
        _fill(pools["paged"], "resident", last["pool_paged_resident"])
        _fill(memory, "free", last["free"])

    poolused = _latest(parts, "poolused")
    if poolused:
        total = poolused["data"]["total"]
        if total:
            _fill(pools["nonpaged"], "bytes", total["nonpaged_bytes"])
            _fill(pools["paged"], "bytes", total["paged_bytes"])

    memusage = _latest(parts, "memusage")
    if memusage:
        data = memusage["data"]
        _fill(memory, "total", data.get("total"))
        _fill(memory, "available", data.get("available"))
        if data.get("zeroed") is not None and data.get("free") is not None:
            _fill(memory, "free", data["zeroed"] + data["free"])

    if latest is not None:
        windows["tags"] = _rank_tags(latest["tags"])[:limits["top_tags"]]
        if poolused:
            warnings.append("%s not used for the tag table: poolmon's counts are newer" % poolused["file"])
    elif poolused:
        tags = []
        for row in poolused["data"]["tags"]:
            entry = {"tag": row["tag"], "protected": False, "description": row["description"]}
            for pool in ("paged", "nonpaged"):
                entry["%s_allocs" % pool] = row["%s_allocs" % pool]
                entry["%s_frees" % pool] = 0
                entry["%s_bytes" % pool] = row["%s_bytes" % pool]
            tags.append(entry)
        windows["tags"] = _rank_tags(tags)[:limits["top_tags"]]
        warnings.append("%s: !poolused counts outstanding allocations; they are given as allocs with frees 0"
                        % poolused["file"])

    if memory["total"] is not None:
        snap["os"]["ram_bytes"] = memory["total"]
        if memory["available"] is not None:
            memory["used"] = max(memory["total"] - memory["available"], 0)
    if pools["nonpaged"]["limit"] is None or pools["paged"]["limit"] is None:
        warnings.append("pool limits unknown: the capture has no '!vm' with 'NonPagedPool Max' / 'PagedPool "
                        "Maximum' and no Windows version to compute them from")
    snap["samples"] = _windows_samples(chosen, perf_rows, limits)
    snap["warnings"] = warnings
    return snap


def _windows_source(parts):
    kinds = set(p["kind"] for p in parts)
    if kinds & {"vm", "poolused", "memusage"}:
        return "windbg"
    if "poolmon" in kinds:
        return "poolmon"
    return "perfmon"


def _latest(parts, kind):
    found = [p for p in parts if p["kind"] == kind]
    return found[-1] if found else None


def _fill(block, key, value):
    if block.get(key) is None and value is not None:
        block[key] = value


def _poolmon_frames(part, warnings):
    frames = part["data"]["frames"]
    if len(frames) > 1:
        warnings.append("%s holds %d poolmon screens without times: the last one is used" % (part["file"], len(frames)))
    frame = dict(frames[-1])
    frame["time"] = part["time"]
    frame["file"] = part["file"]
    return [frame]


def _rank_tags(tags):
    return sorted(tags, key=lambda t: -((t.get("nonpaged_bytes") or 0) + (t.get("paged_bytes") or 0)))


def _windows_samples(frames, perf_rows, limits):
    """One compact sample (series.compact_sample: ``{v, t, boot, s}``) per timed poolmon frame and counter row.

    The tags kept are those among the largest ``top_tags`` of any frame, so a tag
    that grows into the top keeps its earlier points.
    """
    keep = set()
    for frame in frames:
        for tag in _rank_tags(frame["tags"])[:limits["top_tags"]]:
            keep.add(tag["tag"])
    samples = []
    for frame in frames:
        if not frame.get("time"):
            continue
        header = frame["header"]
        tags = [t for t in frame["tags"] if t["tag"] in keep]
        samples.append(_compact(frame["time"], header.get("available"), header.get("commit"),
                                header.get("pool_nonpaged"), header.get("pool_paged"), tags, len(keep)))
    for row in perf_rows:
        samples.append(_compact(row["time"], row["available"], row["commit_used"], row["pool_nonpaged"],
                                row["pool_paged"], [], 0))
    samples.sort(key=lambda s: s["t"])
    return samples


def _compact(when, available, commit, nonpaged, paged, tags, top):
    mini = {"collected_at": when, "boot_id": None,
            "memory": {"available": available, "commit_used": commit},
            "windows": {"pools": {"nonpaged": {"bytes": nonpaged}, "paged": {"bytes": paged}}, "tags": tags}}
    return series.compact_sample(mini, top=max(top, 1))

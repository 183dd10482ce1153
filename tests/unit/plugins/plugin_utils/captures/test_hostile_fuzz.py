# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based fuzzing (hypothesis) of every parser and of the capture walker, bounded to seconds.

Parsers get real captured text (the fixtures) with hostile mutations spliced in: huge numbers, digits of
other scripts, control characters, cut lines. They must return or raise ParseError, and every number they
return must fit 64 bits. The walker gets trees and archives built with symbolic and hard links, FIFOs,
links to devices and to /, deep nesting and huge files; every file it opens is recorded through
/proc/self/fd, and none may be outside the capture (or the analysis' own temporary folder), none may hang.
"""

import builtins
import io
import json
import os
import shutil
import signal
import stat
import tarfile
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.module_utils.errors import MAX_NUMBER, ParseError
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import sos_parsers as sp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import windows_parsers as wp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.archive import extract_archive
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import merge_limits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FIX = os.path.join(ROOT, "fixtures")
SOS = os.path.join(FIX, "captures", "sets", "sos-debian12-vm-deleted-tmpfs")
SAMPLES = os.path.join(FIX, "captures", "samples")
PROC = os.path.join(FIX, "proc", "debian12-firecracker-6.18", "proc")
PROC_SAMPLES = os.path.join(FIX, "proc", "samples")
FUZZ = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


# Every parser with real text of its format to mutate.
PARSERS = [
    (lp.parse_meminfo, os.path.join(PROC, "meminfo")),
    (lp.parse_vmstat, os.path.join(PROC, "vmstat")),
    (lp.parse_slabinfo, os.path.join(PROC, "slabinfo")),
    (lp.parse_mounts, os.path.join(PROC, "mounts")),
    (lp.parse_status, os.path.join(PROC, "4661", "status")),
    (lp.parse_smaps_rollup, os.path.join(PROC_SAMPLES, "smaps-bash-debian12.txt")),
    (lp.parse_smaps, os.path.join(PROC_SAMPLES, "smaps-bash-debian12.txt")),
    (lp.parse_modules, os.path.join(PROC_SAMPLES, "proc-modules-rhel6-guide.txt")),
    (lp.parse_lsmod, os.path.join(PROC_SAMPLES, "lsmod-open-vm-tools-528.txt")),
    (lp.parse_toolbox_balloon, os.path.join(PROC_SAMPLES, "toolbox-stat-balloon-megocollector.txt")),
    (lp.parse_dentry_state, os.path.join(SOS, "proc", "sys", "fs", "dentry-state")),
    (lp.parse_os_release, os.path.join(SOS, "etc", "os-release")),
    (lp.parse_cpuinfo_flags, os.path.join(PROC, "cpuinfo")),
    (lp.parse_vmmemctl, None),
    (lp.parse_hv_balloon, None),
    (lp.parse_toolbox_version, None),
    (lambda text, source: lp.parse_kb_value(text, source), None),
    (sp.parse_ps, os.path.join(SOS, "sos_commands", "process", "ps_auxwwwm")),
    (sp.parse_lsof, os.path.join(SOS, "sos_commands", "process", "lsof_M_-n_-l_-c")),
    (sp.parse_df, os.path.join(SOS, "sos_commands", "filesys", "df_-al_-x_autofs")),
    (sp.parse_date_utc, os.path.join(SOS, "sos_commands", "date", "date_--utc")),
    (wp.parse_poolmon, os.path.join(SAMPLES, "poolmon", "snapshot-n-intel-mfd.log")),
    (wp.parse_poolmon, os.path.join(SAMPLES, "poolmon", "screen-msdocs-all-sessions.txt")),
    (wp.parse_vm, os.path.join(SAMPLES, "windbg", "vm-seed001-xp-excessive-nonpaged.txt")),
    (wp.parse_poolused, os.path.join(SAMPLES, "windbg", "poolused-msdocs-sort-tag.txt")),
    (wp.parse_memusage, os.path.join(SAMPLES, "windbg", "memusage-seed001.txt")),
    (wp.parse_perf_csv, os.path.join(SAMPLES, "perfmon", "pdh-csv-memory-format-rendered.csv")),
]
SEEDS = dict((path, _read(path)) for _parser, path in PARSERS if path)
HOSTILE_PIECES = ["9" * 400, "18446744073709551616" * 3, "\u0661\u0662\u0663", "\uff11\uff12", "\u0e51",
                  "-1", "1e400", "nan", "\x00", "\r", "\n", "\t", ":", " kB", "kd> !vm\n", "|", "\ufffe", ""]
MUTATION = st.tuples(st.floats(0, 1), st.floats(0, 1), st.sampled_from(HOSTILE_PIECES) | st.text(max_size=12))


def _mutate(text, mutations):
    for where, cut, piece in mutations:
        index = int(where * len(text))
        end = index + int(cut * 8)
        text = text[:index] + piece + text[end:]
    return text


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            for number in _numbers(item):
                yield number
    elif isinstance(value, (list, tuple)):
        for item in value:
            for number in _numbers(item):
                yield number


@pytest.mark.parametrize("parser, seed", PARSERS, ids=["%s-%d" % (p.__name__, i) for i, (p, _s) in enumerate(PARSERS)])
@FUZZ
@given(mutations=st.lists(MUTATION, max_size=4), raw=st.text(max_size=200))
def test_every_parser_returns_or_raises_parse_error(parser, seed, mutations, raw):
    text = _mutate(SEEDS[seed], mutations) if seed else _mutate(raw, mutations)
    try:
        result = parser(text, source="fuzzed")
    except ParseError as err:
        assert str(err).startswith("fuzzed")
        return
    json.dumps(sorted(result) if isinstance(result, set) else result)
    # WinDbg prints an underflowed counter as 2**64 - 1 (kept as None); nothing bigger is a measurement.
    assert all(abs(n) <= max(MAX_NUMBER, (2 ** 64) * 1024) for n in _numbers(result))


# ------------------------------------------------------------------ the walker

class Opened(object):
    """Records the real path of every file opened for reading or writing (through /proc/self/fd)."""

    def __init__(self, monkeypatch):
        self.paths = []
        real_os_open, real_open = os.open, builtins.open

        def os_open(path, flags, *args, **kwargs):
            fd = real_os_open(path, flags, *args, **kwargs)
            self._record(fd)
            return fd

        def open_(file, *args, **kwargs):
            handle = real_open(file, *args, **kwargs)
            if not isinstance(file, int):
                self._record(handle.fileno())
            return handle
        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)

    def _record(self, fd):
        try:
            self.paths.append(os.readlink("/proc/self/fd/%d" % fd))
        except OSError:
            pass

    def outside(self, *roots):
        roots = [os.path.realpath(r) for r in roots]
        temp = os.path.realpath(tempfile.gettempdir())
        return [p for p in self.paths
                if not any(p == r or p.startswith(r + os.sep) for r in roots)
                and not p.startswith(os.path.join(temp, "memleak-capture-"))
                and not p.startswith(os.path.join(temp, "memleak-proc-"))]


class Alarm(object):
    """A hang fails the example instead of stopping the suite."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        def fail(*_args):
            raise AssertionError("the walker hung for %d s" % self.seconds)
        self.previous = signal.signal(signal.SIGALRM, fail)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


NAMES = ["proc/meminfo", "proc/vmstat", "proc/slabinfo", "proc/mounts", "etc/hostname", "etc/os-release",
         "proc/sys/kernel/hostname", "proc", "etc", "proc/4242/status", "proc/4242", "sos_commands/process/ps_auxwwwm",
         "sos_commands/process", "sos_commands/date/date_--utc", "meminfo", "vmstat", "poolmon.log", "x/y/z"]
TARGETS = ["OUTSIDE_FILE", "OUTSIDE_DIR", "/", "/dev/zero", "/proc/self", "/proc", "/etc", "../../outside",
           "..", ".", "proc", "meminfo"]
ENTRY = st.one_of(
    st.tuples(st.just("file"), st.sampled_from(NAMES), st.sampled_from(["meminfo", "vmstat", "junk", "binary"])),
    st.tuples(st.just("symlink"), st.sampled_from(NAMES), st.sampled_from(TARGETS)),
    st.tuples(st.just("hardlink"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("fifo"), st.sampled_from(NAMES), st.just(None)),
    st.tuples(st.just("huge"), st.sampled_from(NAMES), st.just(None)),
    st.tuples(st.just("deep"), st.sampled_from(NAMES), st.integers(30, 80)),
)


def _content(kind):
    if kind == "meminfo":
        return _read(os.path.join(SOS, "proc", "meminfo")).encode()
    if kind == "vmstat":
        return _read(os.path.join(SOS, "proc", "vmstat")).encode()
    if kind == "binary":
        return b"\x00\x01\x02" * 100
    return b"SENTINEL? no: plain junk\n"


def _build(root, entries, box):
    inside = os.path.realpath(root) + os.sep
    for kind, name, arg in entries:
        path = os.path.join(root, name)
        if not os.path.realpath(os.path.dirname(path) if kind != "deep" else path).startswith(inside):
            continue  # the builder itself must not write through a link it planted
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)
            elif os.path.isdir(path) and not os.path.islink(path):
                continue
            if kind == "file":
                with open(path, "wb") as handle:
                    handle.write(_content(arg))
            elif kind == "symlink":
                target = {"OUTSIDE_FILE": os.path.join(box, "outside", "shadow"),
                          "OUTSIDE_DIR": os.path.join(box, "outside")}.get(arg, arg)
                os.symlink(target, path)
            elif kind == "hardlink":
                source = os.path.join(root, arg)
                if os.path.isfile(source) and not os.path.islink(source):
                    os.link(source, path)
            elif kind == "fifo":
                os.mkfifo(path)
            elif kind == "huge":
                with open(path, "wb") as handle:
                    handle.truncate(3 * 1024 * 1024)
            elif kind == "deep":
                os.makedirs(os.path.join(path, *(["d"] * arg)))
        except OSError:
            continue  # a name already taken by a folder, a link through a file: the tree is what it is


def _box():
    box = tempfile.mkdtemp(prefix="fuzz-box-")
    os.makedirs(os.path.join(box, "outside"))
    with open(os.path.join(box, "outside", "shadow"), "w") as handle:
        handle.write("root:SENTINEL-SECRET\n")
    return box


def _check_contained(box, result, opened, root):
    text = json.dumps(result)
    assert "SENTINEL-SECRET" not in text
    assert os.listdir(os.path.join(box, "outside")) == ["shadow"]
    assert opened.outside(root) == []


@FUZZ
@given(with_sos=st.booleans(), entries=st.lists(ENTRY, max_size=8))
def test_walker_never_opens_outside_the_capture_nor_hangs(monkeypatch, with_sos, entries):
    box = _box()
    try:
        root = os.path.join(box, "capture")
        if with_sos:
            shutil.copytree(SOS, root)
        else:
            os.makedirs(root)
        _build(root, entries, box)
        with monkeypatch.context() as patch:
            opened = Opened(patch)
            with Alarm(30):
                captures, _skipped = offline.find_captures(root, {"max_file_bytes": 1024 * 1024})
                results = [offline.analyze_capture(path, name, {"max_file_bytes": 1024 * 1024})
                           for name, path in captures]
        for result in results:
            assert (result["snapshot"] is None) != (result["error"] is None)
            _check_contained(box, result, opened, root)
    finally:
        shutil.rmtree(box, ignore_errors=True)


MEMBER_NAMES = NAMES + ["sos/" + n for n in NAMES] + ["../escape", "/abs/escape", "sos/../../escape",
                                                      "sos/sys/module/vmw_balloon/a", "sos/sys/module/vmw_balloon/a/b"]
MEMBER_TARGETS = TARGETS + ["../" * 12, "a", "a/a/a", "sos/proc/meminfo", "../proc/meminfo"]
MEMBER = st.one_of(
    st.tuples(st.just("file"), st.sampled_from(MEMBER_NAMES), st.sampled_from(["meminfo", "vmstat", "junk"])),
    st.tuples(st.just("symlink"), st.sampled_from(MEMBER_NAMES), st.sampled_from(MEMBER_TARGETS)),
    st.tuples(st.just("hardlink"), st.sampled_from(MEMBER_NAMES), st.sampled_from(MEMBER_NAMES + ["/etc/passwd"])),
    st.tuples(st.just("fifo"), st.sampled_from(MEMBER_NAMES), st.just(None)),
    st.tuples(st.just("chrdev"), st.sampled_from(MEMBER_NAMES), st.just(None)),
    st.tuples(st.just("dir"), st.sampled_from(MEMBER_NAMES), st.just(None)),
    st.tuples(st.just("bomb"), st.sampled_from(MEMBER_NAMES + ["sos/var/log/big"]), st.integers(1, 4)),
)


def _tar(path, members, box):
    with tarfile.open(path, "w:gz") as tar:
        for kind, name, arg in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = _content(arg)
            elif kind == "bomb":
                data = b"\0" * (arg * 1024 * 1024)
            elif kind in ("symlink", "hardlink"):
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = {"OUTSIDE_FILE": os.path.join(box, "outside", "shadow"),
                                 "OUTSIDE_DIR": os.path.join(box, "outside")}.get(arg, arg)
            else:
                info.type = {"fifo": tarfile.FIFOTYPE, "chrdev": tarfile.CHRTYPE, "dir": tarfile.DIRTYPE}[kind]
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


@FUZZ
@given(members=st.lists(MEMBER, max_size=12))
def test_archives_unpack_inside_their_folder_without_links(monkeypatch, members):
    box = _box()
    try:
        archive = os.path.join(box, "case.tar.gz")
        _tar(archive, members, box)
        dest = tempfile.mkdtemp(prefix="memleak-capture-", dir=box)
        notes = []
        limits = merge_limits({"max_extract_bytes": 3 * 1024 * 1024, "max_file_bytes": 1024 * 1024})
        with monkeypatch.context() as patch:
            opened = Opened(patch)
            with Alarm(30):
                try:
                    extract_archive(archive, dest, limits, notes)
                except offline.CaptureError:
                    pass
        assert os.listdir(os.path.join(box, "outside")) == ["shadow"]
        assert not os.path.exists(os.path.join(box, "escape")) and not os.path.exists("/abs/escape")
        for dirpath, dirnames, filenames in os.walk(dest):
            for name in dirnames + filenames:
                mode = os.lstat(os.path.join(dirpath, name)).st_mode
                assert stat.S_ISDIR(mode) or stat.S_ISREG(mode), os.path.join(dirpath, name)
                if stat.S_ISREG(mode):
                    with open(os.path.join(dirpath, name), "rb") as handle:
                        assert b"SENTINEL-SECRET" not in handle.read()
        assert opened.outside(dest, archive) == []
    finally:
        shutil.rmtree(box, ignore_errors=True)

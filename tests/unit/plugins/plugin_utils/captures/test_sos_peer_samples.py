"""The peer suite: real command output embedded in insights-core's parser tests (tests/fixtures/insights_samples/,
see its README), read by our parsers and by the whole offline analysis of a sosreport built around each sample.

The values asserted here are the ones insights-core's own tests assert on the same texts (test function named in
each case), converted to our units (bytes): our parse must agree with the peer's.
"""

import fnmatch
import json
import os
import shutil

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import sos_parsers as sp
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PEER = os.path.join(ROOT, "fixtures", "insights_samples")
with open(os.path.join(PEER, "manifest.json"), encoding="utf-8") as _handle:
    MANIFEST = json.load(_handle)
KIB = 1024


def sample(name):
    with open(os.path.join(PEER, name), encoding="utf-8") as handle:
        return handle.read()


def build_report(tmp_path, files):
    """A sosreport folder holding ``files`` ({sos path: text}) and, unless given, insights-core's MEMINFO."""
    tree = tmp_path / "sosreport-peer"
    files = dict(files)
    files.setdefault("proc/meminfo", sample("meminfo/MEMINFO.txt"))
    for rel, text in files.items():
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (tree / "sos_commands").mkdir(exist_ok=True)
    return tree


def listed(result, rel):
    return any(item["file"] == rel or fnmatch.fnmatch(rel, item["file"]) for item in result["files"])


# --- the whole analysis over every kept sample ---------------------------------------------------------------

@pytest.mark.parametrize("entry", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_every_peer_sample_is_analysed_and_every_file_listed(tmp_path, entry):
    tree = build_report(tmp_path, {entry["sos_path"]: sample(entry["file"])})
    result = offline.analyze_capture(str(tree))
    if result["error"] is not None:
        # A refusal is one line naming the file (only a proc/meminfo sample can make the whole capture fail).
        assert "\n" not in result["error"] and "Traceback" not in result["error"]
        assert entry["sos_path"] == "proc/meminfo" and "proc/meminfo" in result["error"]
        return
    for dirpath, _dirs, names in os.walk(str(tree)):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), str(tree))
            assert listed(result, rel), "%s is neither read nor listed: %s" % (rel, result["files"])
    mine = [f for f in result["files"] if f["file"] == entry["sos_path"]]
    assert len(mine) == 1 and mine[0]["status"] in ("used", "skipped", "error") and mine[0]["reason"]


def _ps_data_rows(text):
    """(pid, rss) of every line a ps listing holds for a process with memory, found without our parser."""
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if "PID" in line.split() and "RSS" in line.split())
    names = lines[head].split()
    out = []
    for line in lines[head + 1:]:
        fields = line.split()
        if len(fields) >= len(names) - 1 and fields[names.index("PID")].isdigit() and \
                fields[names.index("RSS")].isdigit() and int(fields[names.index("RSS")]) > 0:
            out.append((int(fields[names.index("PID")]), int(fields[names.index("RSS")]) * KIB))
    return out


PS_WITH_RSS = [m for m in MANIFEST if m["file"].startswith("ps/") and
               any("RSS" in line.split() and "PID" in line.split() for line in sample(m["file"]).splitlines())]


@pytest.mark.parametrize("entry", PS_WITH_RSS, ids=[m["file"] for m in PS_WITH_RSS])
def test_no_process_with_memory_is_dropped(entry):
    text = sample(entry["file"])
    warnings = []
    try:
        rows = sp.parse_ps(text, entry["file"], warnings=warnings, short_names="auxcww" in entry["sos_path"])
    except ParseError as err:  # PsAuxcww_BAD: its only row is cut short, and the error names it
        assert entry["variable"] == "PsAuxcww_BAD" and err.line == 2
        return
    assert sorted((r["pid"], r["rss"]) for r in rows) == sorted(_ps_data_rows(text))


DF_SIZES = [m for m in MANIFEST if m["file"].startswith("df/") and "Inodes" not in sample(m["file"])
            and "1a-blocks" not in sample(m["file"])]


@pytest.mark.parametrize("entry", DF_SIZES, ids=[m["file"] for m in DF_SIZES])
def test_no_file_system_with_sizes_is_dropped(entry):
    text = sample(entry["file"])
    expected = [line.split()[-1] for line in text.splitlines()
                if len(line.split()) >= 6 and line.split()[1].isdigit() and line.split()[2].isdigit()]
    warnings = []
    rows = sp.parse_df(text, entry["file"], warnings=warnings)
    assert [r["mount"].split()[-1] for r in rows] == expected
    # what was not read is named, line by line (DF_ALP's two error lines, DF_AL_BAD's cut row)
    assert len(warnings) == {"DF_ALP": 2, "DF_AL_BAD": 1}.get(entry["variable"], 0)


# --- our parse against the values insights-core's tests assert --------------------------------------------------

def test_meminfo_equals_insights_test_meminfo():
    # test_meminfo.py::test_meminfo: every line's value * 1024, and used == (8009912 - 538760) * 1024
    text = sample("meminfo/MEMINFO.txt")
    ours = lp.parse_meminfo(text)
    for line in text.splitlines():
        key, _sep, rest = line.partition(":")
        words = rest.split()
        assert ours[key] == int(words[0]) * (KIB if words[1:] == ["kB"] else 1)
    assert ours["MemTotal"] - ours["MemFree"] == (8009912 - 538760) * KIB


def test_slabinfo_equals_insights_test_check_slabinfo():
    # test_slabinfo.py::test_check_slabinfo: 103 caches, kcopyd_job objsize 3312, kmalloc-16 objsize 16
    rows = dict((r["name"], r) for r in lp.parse_slabinfo(sample("slabinfo/PROC_SLABINFO.txt")))
    assert len(rows) == 103
    assert rows["kcopyd_job"]["objsize"] == 3312 and rows["kmalloc-16"]["objsize"] == 16


def test_lsmod_equals_insights_test_get_lsmod_info():
    # test_lsmod.py: 16 modules, xt_CHECKSUM among them
    modules = lp.parse_lsmod(sample("lsmod/LSMODINFO.txt"))
    assert len(modules) == 16 and "xt_CHECKSUM" in modules and "tun" in modules


def test_sysctl_equals_insights_test_sysctl():
    # test_sysctl.py::test_sysctl: a == "1", b == "2", c == "include an = sign"
    assert sp.parse_sysctl(sample("sysctl/SYSCTL_TEST.txt")) == {"a": "1", "b": "2", "c": "include an = sign"}
    # test_sysctl.py doc example: kernel.domainname = example.com
    assert sp.parse_sysctl(sample("sysctl/SYSCTL_DOC_TEST.txt"))["kernel.domainname"] == "example.com"


@pytest.mark.parametrize("variable, pid, name, rss", [
    ("PS_AUXWWW", 1, "init", 1536),              # test_ps_auxww_from_auxwww: d[0] PID 1 RSS 1536 /sbin/init
    ("PS_AUXWWWM", 1503, "smartd", 6152),        # test_ps_auxcww_from_auxwwwm: d[0] PID 1503 RSS 6152, COMMAND_NAME smartd
    ("Container_PsAux_TEST", 1, "init", 1544),   # test_container_ps_aux: d[0] PID 1 RSS 1544, COMMAND_NAME init
    ("PS_AUXWW_WITH_LATE_HEADER", 1, "systemd", 5088),  # test_ps_auxww_with_late_header: data[0] systemd
])
def test_ps_first_process_equals_insights(variable, pid, name, rss):
    rows = sp.parse_ps(sample("ps/%s.txt" % variable), variable)
    assert (rows[0]["pid"], rows[0]["name"], rows[0]["rss"]) == (pid, name, rss * KIB)


def test_ps_auxcww_equals_insights_test_ps_auxww_from_auxcww():
    # number_occurences("bash") == 3; d[7] COMMAND qemu-kvm (RSS 840452); names whole, not cut at '/'
    rows = sp.parse_ps(sample("ps/PsAuxcww_TEST.txt"), "ps_auxcww", short_names=True)
    assert [r["name"] for r in rows].count("bash") == 3
    qemu = next(r for r in rows if r["pid"] == 22673)
    assert qemu == {"pid": 22673, "name": "qemu-kvm", "rss": 840452 * KIB, "vsz": 1618556 * KIB}
    # kernel threads (RSS 0 in ps c output: kondemand/0, "NFSv4 callback") and the RSS-0 zombie are left out
    assert not {1821, 28106, 29570} & set(r["pid"] for r in rows)


def test_df_equals_insights_test_df_alp():
    # test_df_alP: 9 rows, '/' total 98571884 used 4244032, 3 tmpfs, '/run' is tmpfs
    rows = sp.parse_df(sample("df/DF_ALP.txt"), "df_-alP")
    assert len(rows) == 9
    root = next(r for r in rows if r["mount"] == "/")
    assert (root["size"], root["used"]) == (98571884 * KIB, 4244032 * KIB)
    assert len([r for r in rows if r["filesystem"] == "tmpfs"]) == 3


def test_df_2mb_blocks_equals_insights_test_df_al_2mb():
    # test_df_al_2MB: int(root.total) * block_size == 124062000000
    rows = sp.parse_df(sample("df/DF_AL_BS_2MB.txt"), "df")
    assert rows[0]["size"] == 124062000000


# --- the numbered items of the sosreport work, each on the real sample ---------------------------------------

def test_df_error_lines_before_the_header_keep_every_tmpfs(tmp_path):
    """Item 1 and 2: DF_ALP starts with two '/bin/df: ... No such file or directory' lines."""
    mounts = "".join("tmpfs %s tmpfs rw,nosuid,nodev 0 0\n" % m for m in ("/dev/shm", "/run", "/sys/fs/cgroup"))
    tree = build_report(tmp_path, {"proc/mounts": mounts, "sos_commands/filesys/df_-alP": sample("df/DF_ALP.txt")})
    result = offline.analyze_capture(str(tree))
    tmpfs = dict((m["mount"], m["used"]) for m in result["snapshot"]["linux"]["tmpfs"])
    assert tmpfs == {"/dev/shm": 491660 * KIB, "/run": 1380 * KIB, "/sys/fs/cgroup": 0}
    warnings = [w for w in result["snapshot"]["warnings"] if w.startswith("sos_commands/filesys/df_-alP line ")]
    assert [w.split(":")[0] for w in warnings] == ["sos_commands/filesys/df_-alP line 1",
                                                   "sos_commands/filesys/df_-alP line 2"]


def test_df_pseudo_rows_with_dashes_do_not_drop_the_file(tmp_path):
    """Item 1: DF_AL_DOC's 'systemd-1 - - - - /proc/sys/fs/binfmt_misc' row."""
    mounts = "tmpfs /run tmpfs rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n"
    tree = build_report(tmp_path, {"proc/mounts": mounts,
                                   "sos_commands/filesys/df_-al_-x_autofs": sample("df/DF_AL_DOC.txt")})
    result = offline.analyze_capture(str(tree))
    assert dict((m["mount"], m["used"]) for m in result["snapshot"]["linux"]["tmpfs"]) == {"/run": 8660 * KIB,
                                                                                           "/dev/shm": 0}


def test_ps_with_late_header_is_read(tmp_path):
    """Item 2: 'your 131072x1 screen size is bogus' before the header."""
    tree = build_report(tmp_path, {"sos_commands/process/ps_auxww": sample("ps/PS_AUXWW_WITH_LATE_HEADER.txt")})
    result = offline.analyze_capture(str(tree))
    assert result["snapshot"]["linux"]["processes"][0]["name"] == "systemd"
    assert any(w.startswith("sos_commands/process/ps_auxww line 2: not part of the ps table")
               for w in result["snapshot"]["warnings"])


def test_full_argument_ps_wins_over_ps_c_and_ps_ef_says_no_rss(tmp_path):
    """Item 3: with ps auxcww, ps auxwww and ps -ef in one report, auxwww names the processes."""
    tree = build_report(tmp_path, {"sos_commands/process/ps_auxcww": sample("ps/PsAuxcww_TEST.txt"),
                                   "sos_commands/process/ps_auxwww": sample("ps/PS_AUXWWW.txt"),
                                   "sos_commands/process/ps_-ef": sample("ps/PsEf_TEST.txt")})
    result = offline.analyze_capture(str(tree))
    snap = result["snapshot"]
    assert snap["captured"]["processes"] == "sos_commands/process/ps_auxwww"
    names = [p["name"] for p in snap["linux"]["processes"]]
    assert "rsyslogd" in names and "kthreadd" not in names
    files = dict((f["file"], f) for f in result["files"])
    assert files["sos_commands/process/ps_auxwww"]["status"] == "used"
    assert files["sos_commands/process/ps_auxcww"]["status"] == "skipped"
    assert files["sos_commands/process/ps_-ef"]["status"] == "skipped"
    assert "no RSS column" in files["sos_commands/process/ps_-ef"]["reason"]


def test_sysctl_gives_the_memory_policy(tmp_path):
    """Item 4: sysctl -a in the snapshot; insights' samples hold no vm.* key, so their values are unknown."""
    text = sample("sysctl/SYSCTL_DOC_TEST.txt") + "\nvm.nr_hugepages = 512\nvm.overcommit_memory = 2\n"
    tree = build_report(tmp_path, {"sos_commands/kernel/sysctl_-a": text})
    result = offline.analyze_capture(str(tree))
    snap = result["snapshot"]
    assert snap["captured"]["sysctl"] == "sos_commands/kernel/sysctl_-a"
    assert snap["linux"]["sysctl"] == {"vm.nr_hugepages": 512, "vm.nr_overcommit_hugepages": None,
                                       "vm.overcommit_memory": 2, "vm.overcommit_ratio": None,
                                       "vm.overcommit_kbytes": None, "vm.min_free_kbytes": None}


def test_memory_files_not_read_are_listed(tmp_path):
    """Item 4: buddyinfo, dmesg, messages, free, slabtop: each listed with what was (not) read."""
    tree = build_report(tmp_path, {"proc/buddyinfo": sample("buddyinfo/BUDDYINFO_1.txt"),
                                   "sos_commands/kernel/dmesg": sample("dmesg/TS_MSGINFO.txt"),
                                   "var/log/messages": sample("messages/MSGINFO.txt"),
                                   "sys/kernel/mm/transparent_hugepage/enabled":
                                       sample("transparent_hugepage/ENABLED_MADVISE.txt")})
    result = offline.analyze_capture(str(tree))
    files = dict((f["file"], f) for f in result["files"])
    for rel in ("proc/buddyinfo", "sos_commands/kernel/dmesg", "var/log/messages",
                "sys/kernel/mm/transparent_hugepage/enabled"):
        assert files[rel]["status"] in ("used", "skipped") and files[rel]["reason"], rel


def test_a_lone_proc_folder_is_one_capture_not_a_host_named_proc(tmp_path):
    """Item 5: a folder holding only proc/ (slabinfo and buddyinfo, no meminfo) is one capture, read as loose files."""
    folder = tmp_path / "db07"
    (folder / "proc").mkdir(parents=True)
    (folder / "proc" / "slabinfo").write_text(sample("slabinfo/SLABINFO_DOC.txt"))
    (folder / "proc" / "buddyinfo").write_text(sample("buddyinfo/BUDDYINFO_1.txt"))
    captures, skipped = offline.find_captures(str(folder))
    assert captures == [("db07", str(folder))] and skipped == []
    result = offline.analyze_capture(str(folder))
    assert result["name"] == "db07" and result["error"] is None
    assert result["snapshot"]["memory"]["total"] is None  # no meminfo: unknown, not 0
    # slabinfo is read even without meminfo: test_slabinfo.py's SLABINFO_DOC, biggest cache first
    slab = result["snapshot"]["linux"]["slab"]
    assert result["snapshot"]["captured"]["slabinfo"] == "proc/slabinfo" and len(slab) == 15
    assert slab[0]["bytes"] == max(r["bytes"] for r in lp.parse_slabinfo(sample("slabinfo/SLABINFO_DOC.txt")))
    files = dict((f["file"], f["status"]) for f in result["files"])
    assert files == {"proc/slabinfo": "used", "proc/buddyinfo": "skipped"}


def test_a_lone_var_folder_is_one_capture(tmp_path):
    """Item 5: a folder holding only var/log/dmesg (a real OOM kill) is one capture named after the folder."""
    folder = tmp_path / "web3"
    (folder / "var" / "log").mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "fixtures", "captures", "samples", "sos", "dmesg-memcg-oom-debian12.txt"),
                str(folder / "var" / "log" / "dmesg"))
    captures, _skipped = offline.find_captures(str(folder))
    assert captures == [("web3", str(folder))]
    result = offline.analyze_capture(str(folder))
    assert result["name"] == "web3" and result["error"] is None
    assert result["snapshot"]["linux"]["oom_kills"][0]["killed"]["name"] == "python3"


def test_the_same_samples_from_an_archive(tmp_path):
    """Archive extraction keeps the files listed above (sysctl -a, dmesg, buddyinfo), so the list is the same."""
    build_report(tmp_path, {"proc/buddyinfo": sample("buddyinfo/BUDDYINFO_1.txt"),
                            "sos_commands/kernel/dmesg": sample("dmesg/TS_MSGINFO.txt"),
                            "var/log/messages": sample("messages/MSGINFO.txt"),
                            "var/log/secure": "not memory evidence: never unpacked\n",
                            "sos_commands/kernel/sysctl_-a": sample("sysctl/SYSCTL_DOC_TEST.txt")})
    archive = shutil.make_archive(str(tmp_path / "sosreport-peer"), "gztar", str(tmp_path), "sosreport-peer")
    result = offline.analyze_capture(archive)
    assert result["error"] is None
    names = set(f["file"].split(":", 1)[-1] for f in result["files"])
    assert {"proc/buddyinfo", "sos_commands/kernel/dmesg", "sos_commands/kernel/sysctl_-a", "var/log/messages"} <= names
    assert "var/log/secure" not in names


def test_a_copied_proc_folder_given_itself_is_named_after_its_host_folder(tmp_path):
    """Item 5: memleak_capture_dir=.../db07/proc reads the loose /proc files as host db07, not 'proc'."""
    proc = tmp_path / "db07" / "proc"
    proc.mkdir(parents=True)
    (proc / "meminfo").write_text(sample("meminfo/MEMINFO.txt"))
    (proc / "slabinfo").write_text(sample("slabinfo/PROC_SLABINFO.txt"))
    captures, _skipped = offline.find_captures(str(proc))
    assert captures == [("db07", str(proc))]
    result = offline.analyze_capture(str(proc))
    assert result["name"] == "db07" and result["error"] is None
    assert len(result["snapshot"]["linux"]["slab"]) == 15


def test_real_sysctl_in_a_real_sosreport(tmp_path):
    """Item 4 on the build machine's own sysctl -a (16 'permission denied' lines merged into it)."""
    tree = tmp_path / "sos"
    shutil.copytree(os.path.join(ROOT, "fixtures", "captures", "sets", "sos-debian12-vm-deleted-tmpfs"), str(tree))
    (tree / "sos_commands" / "kernel").mkdir(exist_ok=True)
    shutil.copy(os.path.join(ROOT, "fixtures", "captures", "samples", "sos", "sysctl_-a-nonroot-debian12.txt"),
                str(tree / "sos_commands" / "kernel" / "sysctl_-a"))
    result = offline.analyze_capture(str(tree))
    snap = result["snapshot"]
    assert snap["linux"]["sysctl"]["vm.overcommit_ratio"] == 50 and snap["linux"]["sysctl"]["vm.min_free_kbytes"] == 67584
    mine = [w for w in snap["warnings"] if w.startswith("sos_commands/kernel/sysctl_-a")]
    assert len(mine) == 4 and mine[-1] == "sos_commands/kernel/sysctl_-a: 13 more line(s) skipped like the above"
    files = dict((f["file"], f) for f in result["files"])
    assert files["sos_commands/kernel/sysctl_-a"]["status"] == "used"
    assert files["sos_commands/memory/free"]["status"] == "skipped"  # proc/meminfo was read
    assert files["proc/[0-9]*/oom_score"]["reason"] == "present, not read: in 2 process folder(s)"
    # the report's processes and diagnosis are what they were without sysctl
    assert snap["linux"]["processes"][0]["name"] == "memleak-holder"


def debian_report(tmp_path):
    tree = tmp_path / "sos"
    shutil.copytree(os.path.join(ROOT, "fixtures", "captures", "sets", "sos-debian12-vm-deleted-tmpfs"), str(tree))
    return tree


def test_free_is_the_fallback_when_proc_meminfo_is_missing(tmp_path):
    """Item 4: the report's own 'free' (KiB, sos's file name says so) gives RAM, free, available and swap."""
    tree = debian_report(tmp_path)
    (tree / "proc" / "meminfo").unlink()
    result = offline.analyze_capture(str(tree))
    assert result["error"] is None, result["error"]
    snap = result["snapshot"]
    assert snap["memory"]["total"] == 24684096 * KIB and snap["memory"]["available"] == 24030316 * KIB
    assert snap["linux"]["meminfo"]["Shmem"] == 205396 * KIB and "Slab" not in snap["linux"]["meminfo"]
    assert snap["captured"]["meminfo_partial"] == "sos_commands/memory/free"
    files = dict((f["file"], f) for f in result["files"])
    assert files["sos_commands/memory/free"]["status"] == "used"
    assert files["sos_commands/memory/free_-m"]["status"] == "skipped"
    assert "proc/meminfo" not in files
    # the rest of the report is still read: the processes and the deleted tmpfs file
    assert snap["linux"]["processes"][0]["name"] == "memleak-holder"
    assert snap["linux"]["deleted_open"][0]["bytes"] == 192 * 1024 * 1024


def test_without_meminfo_and_free_the_refusal_names_both(tmp_path):
    tree = debian_report(tmp_path)
    (tree / "proc" / "meminfo").unlink()
    for name in ("free", "free_-m"):
        (tree / "sos_commands" / "memory" / name).unlink()
    result = offline.analyze_capture(str(tree))
    assert result["snapshot"] is None and "has no proc/meminfo" in result["error"]


def test_slabtop_is_the_fallback_when_proc_slabinfo_is_missing(tmp_path):
    """Item 4: the build machine's real slabtop -o gives the slab caches, biggest first."""
    tree = debian_report(tmp_path)
    (tree / "proc" / "slabinfo").unlink()
    shutil.copy(os.path.join(ROOT, "fixtures", "captures", "samples", "sos", "slabtop_-o-debian12.txt"),
                str(tree / "sos_commands" / "memory" / "slabtop_-o"))
    result = offline.analyze_capture(str(tree))
    snap = result["snapshot"]
    assert [c["name"] for c in snap["linux"]["slab"][:3]] == ["ext4_inode_cache", "dentry", "radix_tree_node"]
    assert snap["linux"]["slab"][0]["bytes"] == 81024 * KIB and len(snap["linux"]["slab"]) == 15
    assert snap["captured"]["slabtop"] == "sos_commands/memory/slabtop_-o"
    assert not any(w.startswith("slabinfo: ") for w in snap["warnings"])
    files = dict((f["file"], f) for f in result["files"])
    assert files["sos_commands/memory/slabtop_-o"]["reason"] == "slab caches (no proc/slabinfo): 235 cache(s)"


def test_oom_killer_reports_from_dmesg_and_messages(tmp_path):
    """Item 4: a real OOM kill in sos_commands/kernel/dmesg -> linux.oom_kills; a log without one is read too."""
    tree = debian_report(tmp_path)
    (tree / "sos_commands" / "kernel").mkdir()
    shutil.copy(os.path.join(ROOT, "fixtures", "captures", "samples", "sos", "dmesg-memcg-oom-debian12.txt"),
                str(tree / "sos_commands" / "kernel" / "dmesg"))
    (tree / "var" / "log").mkdir(parents=True)
    (tree / "var" / "log" / "messages").write_text(sample("messages/MSGINFO.txt"))
    result = offline.analyze_capture(str(tree))
    snap = result["snapshot"]
    assert snap["linux"]["oom_kills"] == [{
        "time": None,  # dmesg stamps are seconds since boot
        "killed": {"pid": 21627, "name": "python3", "rss": (65280 + 6684 + 0) * KIB},
        "tasks": [{"pid": 21627, "name": "python3", "rss": 17991 * 4096}]}]
    assert snap["captured"]["oom"] == "sos_commands/kernel/dmesg"
    files = dict((f["file"], f) for f in result["files"])
    assert files["sos_commands/kernel/dmesg"]["reason"] == "1 OOM-killer report(s)"
    assert files["var/log/messages"] == {"file": "var/log/messages", "kind": "kernel log", "status": "used",
                                         "reason": "searched for OOM-killer reports: none"}


def test_kernel_logs_without_an_oom_report_say_none_were_found(tmp_path):
    """Captured and empty: [] (the logs were read), not None (never looked)."""
    tree = build_report(tmp_path, {"sos_commands/kernel/dmesg": sample("dmesg/TS_MSGINFO.txt")})
    snap = offline.analyze_capture(str(tree))["snapshot"]
    assert snap["linux"]["oom_kills"] == [] and snap["captured"]["oom"] == "sos_commands/kernel/dmesg"


@pytest.mark.parametrize("variable, platform, status", [
    ("DMIDECODE_V", "vmware", "used"),     # insights' test_virt_what_1 (disabled there) names it "vmware"
    ("DMIDECODE_KVM", "kvm", "used"),      # test_virt_what_3: "kvm" (Red Hat, RHEV Hypervisor)
    ("DMIDECODE_AWS", "xen", "used"),      # test_virt_what_2: "amazon", an EC2 Xen HVM guest (Xen, HVM domU)
    ("DMIDECODE", "unknown", "skipped"),   # test_get_dmidecode: HP ProLiant DL380p Gen8, no hypervisor named
    ("DMIDECODE_FAIL", "unknown", "skipped"),  # test_get_dmidecode_fail: no SMBIOS entry point
])
def test_dmidecode_names_the_platform_like_insights(tmp_path, variable, platform, status):
    tree = build_report(tmp_path, {"sos_commands/hardware/dmidecode": sample("dmidecode/%s.txt" % variable)})
    result = offline.analyze_capture(str(tree))
    assert result["snapshot"]["virt"]["platform"] == platform
    assert [f["status"] for f in result["files"] if f["file"] == "sos_commands/hardware/dmidecode"] == [status]


LSOF_SAMPLES = [m for m in MANIFEST if m["file"].startswith("lsof/")]


@pytest.mark.parametrize("entry", LSOF_SAMPLES, ids=[m["file"] for m in LSOF_SAMPLES])
def test_no_open_file_is_dropped(entry):
    """Every lsof row with a process id is read; each line that is not (lsof's own warnings) is named once."""
    text = sample(entry["file"])
    lines = [line for line in text.splitlines() if line.strip()]
    head = next((i for i, line in enumerate(lines) if line.split()[:1] == ["COMMAND"]), None)
    warnings = []
    try:
        rows = sp.parse_lsof(text, entry["file"], warnings=warnings)
    except ParseError as err:  # LSOF_BAD: lsof's warning and no table at all
        assert head is None and err.line == 2
        return
    data = [line for line in lines[head + 1:] if len(line.split()) > 1 and line.split()[1].isdigit()]
    assert len(rows) == len(data) and len(warnings) == len(lines) - 1 - len(data)


def test_a_log_above_the_size_limit_is_listed_with_the_reason(tmp_path):
    tree = build_report(tmp_path, {"var/log/messages": sample("messages/MSGINFO.txt") * 400})
    result = offline.analyze_capture(str(tree), limits={"max_file_bytes": 64 * 1024})
    mine = [f for f in result["files"] if f["file"] == "var/log/messages"]
    assert len(mine) == 1 and mine[0]["status"] == "skipped" and "limit" in mine[0]["reason"], mine


def test_without_proc_mounts_df_names_the_tmpfs_mounts(tmp_path):
    """DF_ALP (test_df_alP: 3 tmpfs rows, /dev/shm used 491660) gives the tmpfs usage when proc/mounts is missing."""
    tree = build_report(tmp_path, {"sos_commands/filesys/df_-alP": sample("df/DF_ALP.txt")})
    snap = offline.analyze_capture(str(tree))["snapshot"]
    assert snap["linux"]["tmpfs"] == [
        {"mount": "/dev/shm", "used": 491660 * KIB, "size": 5998736 * KIB},
        {"mount": "/run", "used": 1380 * KIB, "size": 5998736 * KIB},
        {"mount": "/dev", "used": 0, "size": 5988480 * KIB},
        {"mount": "/sys/fs/cgroup", "used": 0, "size": 5998736 * KIB}]
    assert any(w.startswith("tmpfs: the report has no proc/mounts") for w in snap["warnings"])


def test_kernel_allocation_files_read_by_the_tree_are_listed_as_read(tmp_path):
    """proc/vmallocinfo (the build machine's, tests/fixtures/kernel_sources/) is read with the tree: listed so."""
    with open(os.path.join(ROOT, "fixtures", "kernel_sources", "vmallocinfo-debian12-6.18.txt"), encoding="utf-8") as handle:
        tree = build_report(tmp_path, {"proc/vmallocinfo": handle.read(), "proc/zoneinfo": "Node 0, zone      DMA\n"})
    result = offline.analyze_capture(str(tree))
    files = dict((f["file"], f) for f in result["files"])
    assert result["snapshot"]["captured"]["vmallocinfo"] == "proc/vmallocinfo"
    assert files["proc/vmallocinfo"] == {"file": "proc/vmallocinfo", "kind": "kernel allocations", "status": "used",
                                         "reason": "read with the /proc tree: vmallocinfo"}
    assert files["proc/zoneinfo"]["status"] == "skipped"


def test_one_kill_in_dmesg_and_in_a_cut_journal_counts_once_with_the_full_table(tmp_path):
    """dmesg (read first) lost the task table row, the journal kept it: one kill, with the journal's table."""
    with open(os.path.join(ROOT, "fixtures", "captures", "samples", "sos", "dmesg-memcg-oom-debian12.txt"),
              encoding="utf-8") as handle:
        dmesg = handle.read()
    cut = "\n".join(line for line in dmesg.splitlines() if "[  21627]" not in line) + "\n"
    tree = build_report(tmp_path, {"sos_commands/logs/journalctl_--no-pager_--boot": dmesg,
                                   "sos_commands/kernel/dmesg": cut})
    kills = offline.analyze_capture(str(tree))["snapshot"]["linux"]["oom_kills"]
    assert len(kills) == 1 and kills[0]["tasks"] == [{"pid": 21627, "name": "python3", "rss": 17991 * 4096}]

"""Offline analysis: captures found by content, combined per host, archives unpacked safely.

Captures are the folders under tests/fixtures/captures/sets (real files, see its README) or are
assembled in a temporary folder from the single-file samples. A capture is what a support
engineer hands over; the assertions are what the report would show for it.
"""

import io
import json
import os
import shutil
import tarfile
import tempfile
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline
from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.linux import diagnose
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows import diagnose_windows
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows_rules import windows_findings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
CAPTURES = os.path.join(ROOT, "fixtures", "captures")
SETS = os.path.join(CAPTURES, "sets")
SAMPLES = os.path.join(CAPTURES, "samples")
KIB = 1024
MIB = 1024 * 1024


def sample(rel):
    return os.path.join(SAMPLES, rel)


def put(folder, name, source=None, text=None, data=None):
    path = os.path.join(str(folder), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if source:
        shutil.copyfile(source, path)
    elif data is not None:
        with open(path, "wb") as handle:
            handle.write(data)
    else:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    return path


def analyze(path, **kwargs):
    result = offline.analyze_capture(str(path), **kwargs)
    json.dumps(result)  # what the lookup returns must survive Ansible's JSON
    return result


def statuses(result):
    return dict((f["file"], (f["status"], f["kind"])) for f in result["files"])


# ------------------------------------------------------------------ recognising content

@pytest.mark.parametrize("rel, kind", [
    ("poolmon/snapshot-n-intel-mfd.log", "poolmon"),
    ("poolmon/screen-learn-rendered-collapsed.txt", "poolmon"),
    ("poolmon/screen-msdocs-mem-unknown-driver.txt", "poolmon"),
    ("windbg/vm-seed001-xp-excessive-nonpaged.txt", "vm"),
    ("windbg/vm-msdocs-win10-partial.txt", "vm"),
    ("windbg/memusage-seed001.txt", "memusage"),
    ("windbg/poolused-msdocs-sort-paged.txt", "poolused"),
    ("perfmon/pdh-csv-memory-format-rendered.csv", "perfmon"),
    ("perfmon/get-counter-export-csv-format-rendered.csv", "perfmon"),
])
def test_format_is_recognised_by_content(rel, kind):
    text, reason = offline.read_text(sample(rel), offline.DEFAULT_LIMITS)
    assert reason is None
    assert [s[0] for s in offline.sections(text)] == [kind]


def test_debugger_log_with_several_commands_is_cut_at_the_prompts():
    parts = []
    for rel in ("windbg/vm-msdocs-flags1.txt", "windbg/poolused-msdocs-sort-paged.txt", "windbg/memusage-msdocs.txt"):
        with open(sample(rel), encoding="utf-8") as handle:
            parts.append(handle.read())
    found = offline.sections("kd> lm\nstart end module name\n" + "\n".join(parts))
    assert [s[0] for s in found] == ["vm", "poolused", "memusage"]
    assert found[0][2] == 3  # the !vm section starts on line 3 of the log


def test_unknown_text_is_not_claimed():
    assert offline.sections("Dear support,\nthe server is slow since Monday.\n") == []


# ------------------------------------------------------------------ refusing files

def test_binary_and_huge_files_are_refused_without_reading_them(tmp_path):
    limits = dict(offline.DEFAULT_LIMITS, max_file_bytes=4096)
    dump = put(tmp_path, "MEMORY.DMP", data=b"PAGEDU64" + b"\x00" * 100)
    blg = put(tmp_path, "log.blg", data=b"\x00\x01\x02binary")
    big = put(tmp_path, "big.log", text="x" * 5000)
    assert "crash dump" in offline.read_text(dump, limits)[1] and "WinDbg" in offline.read_text(dump, limits)[1]
    assert "relog" in offline.read_text(blg, limits)[1]
    assert offline.read_text(big, limits) == (None, "5 KiB is above the 4 KiB limit for one file (max_file_mb)")


def test_utf16_and_windows_1252_text_is_decoded(tmp_path):
    with open(sample("windbg/vm-seed001-xp-excessive-nonpaged.txt"), encoding="utf-8") as handle:
        text = handle.read()
    wide = put(tmp_path, "vm-utf16.txt", data=text.encode("utf-16"))
    ansi = put(tmp_path, "vm-1252.txt", data=text.encode("cp1252"))
    for path in (wide, ansi):
        decoded, reason = offline.read_text(path, offline.DEFAULT_LIMITS)
        assert reason is None and decoded.replace("\r\n", "\n") == text


# ------------------------------------------------------------------ finding captures

def test_a_folder_of_captures_and_its_odd_entries():
    captures, skipped = offline.find_captures(SETS)
    assert [name for name, _path in captures] == [
        "sos-centos7-vmware-assembled", "sos-debian12-vm-deleted-tmpfs", "win-intel-poolsnap",
        "win-msdocs-commit", "win-seed001-crashdump"]
    assert skipped == []


def test_one_capture_is_not_taken_for_a_folder_of_captures(tmp_path):
    assert offline.find_captures(os.path.join(SETS, "win-intel-poolsnap"))[0][0][0] == "win-intel-poolsnap"
    single = put(tmp_path, "case 4711/poolsnap.log", source=sample("poolmon/snapshot-n-intel-mfd.log"))
    assert offline.find_captures(os.path.dirname(single))[0] == [("case_4711", os.path.dirname(single))]
    assert offline.find_captures(single)[0] == [("poolsnap.log", single)]


def test_stray_files_in_a_folder_of_captures_are_listed(tmp_path):
    put(tmp_path, "host-a/notes.md", text="just notes")
    put(tmp_path, "README.txt", text="cases of March")
    captures, skipped = offline.find_captures(str(tmp_path))
    assert [c[0] for c in captures] == ["host-a"]
    assert skipped == [(os.path.join(str(tmp_path), "README.txt"),
                        "not a capture folder or archive (a folder of captures holds one sub-folder or archive "
                        "per host)")]


def test_missing_folder():
    with pytest.raises(offline.CaptureError, match="does not exist"):
        offline.find_captures("/nonexistent/captures")


# ------------------------------------------------------------------ Linux captures

def test_sosreport_tree_from_this_machine():
    result = analyze(os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs"))
    snap = result["snapshot"]
    assert result["error"] is None and result["hostname"] == "vm"
    assert snap["source"] == "sosreport" and snap["host"] == "sos-debian12-vm-deleted-tmpfs"
    assert snap["collected_at"] == "2026-11-23T13:06:17Z"  # from sos_commands/date/date_--utc
    assert snap["memory"]["total"] == 24684096 * KIB
    # lsof kept the deleted file, proc/mounts says it is on a tmpfs, proc/PID/status names the process.
    assert snap["linux"]["deleted_open"] == [{"pid": 26686, "name": "memleak-holder",
                                              "path": "/tmp/memleak-sos-tmpfs/cache.dat", "bytes": 192 * MIB}]
    tmpfs = dict((m["mount"], m) for m in snap["linux"]["tmpfs"])
    assert tmpfs["/tmp/memleak-sos-tmpfs"]["used"] == 192 * MIB  # from df: statvfs is not in a report
    assert not any(w.startswith("tmpfs: a captured tree") for w in snap["warnings"])
    assert statuses(result)["sos_commands/process/lsof_M_-n_-l_-c"] == ("used", "lsof")
    verdict = diagnose(snap)
    assert verdict["verdict"]["id"] == "shmem_tmpfs"
    assert verdict["culprit"]["name"] == "memleak-holder"


def test_sosreport_of_a_vmware_guest():
    snap = analyze(os.path.join(SETS, "sos-centos7-vmware-assembled"))["snapshot"]
    assert snap["virt"]["platform"] == "vmware"
    assert snap["virt"]["tools"] == {"name": "VMware Tools", "version": "11.3.5.31214"}
    assert snap["virt"]["balloon"]["driver"] == "vmw_balloon" and snap["virt"]["balloon"]["loaded"]
    assert diagnose(snap)["verdict"]["id"] == "balloon_inflation"


def test_sosreport_without_ps_status_uses_ps(tmp_path):
    tree = tmp_path / "sos"
    shutil.copytree(os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs"), str(tree))
    shutil.rmtree(str(tree / "proc" / "26686"))
    shutil.rmtree(str(tree / "proc" / "2"))
    snap = analyze(tree)["snapshot"]
    assert snap["linux"]["processes"] == [{"pid": 26686, "name": "python3", "rss": 14940 * KIB, "pss": None,
                                           "anon": None, "swap": None}]
    assert ("processes: no proc/PID/status in the report: taken from sos_commands/process/ps_auxwwwm (RSS only)"
            in snap["warnings"])
    assert snap["linux"]["deleted_open"][0]["name"] == "python3"  # the name ps gives the process


def test_loose_proc_files(tmp_path):
    tree = os.path.join(ROOT, "fixtures", "proc", "debian12-firecracker-6.18", "proc")
    put(tmp_path, "host/mem.txt", source=os.path.join(tree, "meminfo"))
    put(tmp_path, "host/slab.txt", source=os.path.join(tree, "slabinfo"))
    result = analyze(tmp_path / "host")
    snap = result["snapshot"]
    assert snap["os"]["family"] == "linux" and snap["source"] == "capture"
    assert snap["linux"]["slab"] and snap["linux"]["meminfo"]["MemTotal"] > 0
    assert statuses(result) == {"mem.txt": ("used", "meminfo"), "slab.txt": ("used", "slabinfo")}


def test_malformed_meminfo_names_file_and_line(tmp_path):
    with open(os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs", "proc", "meminfo")) as handle:
        lines = handle.read().splitlines()
    lines[4] = "Cached:       lots kB"
    put(tmp_path, "bad/proc/meminfo", text="\n".join(lines) + "\n")
    result = analyze(tmp_path / "bad")
    assert result["snapshot"] is None
    assert result["error"] == "proc/meminfo line 5: value of Cached is not a whole number: 'lots'"


# ------------------------------------------------------------------ Windows captures

def test_seed001_crash_dump_vm():
    result = analyze(os.path.join(SETS, "win-seed001-crashdump"))
    snap = result["snapshot"]
    assert snap["os"]["family"] == "windows" and snap["source"] == "windbg"
    assert snap["os"]["ram_bytes"] == 3405680 * KIB
    assert snap["windows"]["pools"] == {"nonpaged": {"bytes": 125476 * KIB, "limit": 127944 * KIB},
                                        "paged": {"bytes": 88076 * KIB, "resident": None, "limit": 155648 * KIB}}
    assert snap["windows"]["pool_alerts"]["excessive"] == ["nonpaged"]
    assert snap["windows"]["pool_alerts"]["failed_allocations"] == 3
    assert any("3 pool allocations had failed" in w for w in snap["warnings"])
    verdict = diagnose_windows(snap)["verdict"]
    assert (verdict["id"], verdict["severity"]) == ("pool_pressure", "critical")


def test_two_poolmon_logs_an_hour_apart_are_one_snapshot_with_two_samples(tmp_path):
    """The second log is the real one with EtwB's counters raised: a derived copy, to see them combine."""
    with open(sample("poolmon/snapshot-n-intel-mfd.log")) as handle:
        first = handle.read()
    second = first.replace("EtwB Nonp       6394      4056      2338 163418368      69896",
                           "EtwB Nonp       9394      4056      5338 263418368      49348")
    assert second != first
    put(tmp_path, "web01/poolsnap-2019-06-03_1000.log", text=second)
    put(tmp_path, "web01/poolsnap-2019-06-03_0900.log", text=first)
    result = analyze(tmp_path / "web01")
    snap = result["snapshot"]
    assert snap["source"] == "poolmon" and snap["collected_at"] == "2019-06-03T10:00:00Z"
    assert [s["t"] for s in snap["samples"]] == ["2019-06-03T09:00:00Z", "2019-06-03T10:00:00Z"]
    etwb = next(t for t in snap["windows"]["tags"] if t["tag"] == "EtwB")
    assert etwb["nonpaged_bytes"] == 263418368  # the tag table is the latest log's
    # The compact form every reader of samples uses (series.py), boot unknown.
    later = snap["samples"][1]
    assert set(later) == {"v", "t", "boot", "s"} and later["boot"] is None
    assert later["s"]["tag.np:EtwB"] == 263418368 and later["s"]["tag.np_out:EtwB"] == 5338
    assert later["s"]["pool.nonpaged"] == 710920 * KIB
    assert series.SeriesTable(snap["samples"], trend.to_hours).points("tag.np:EtwB")[0][1] == 163418368
    assert snap["memory"]["total"] == 16468560 * KIB and snap["windows"]["pools"]["nonpaged"]["bytes"] == 710920 * KIB
    assert not any("modification time" in w for w in snap["warnings"])  # the times came from the names
    windows_findings(snap)  # the rules read the samples without complaint


def test_hourly_poolmon_logs_prove_a_pool_leak(tmp_path):
    """Six hourly logs: the real one with EtwB raised by 100 MiB and 3000 allocations an hour (derived copies)."""
    with open(sample("poolmon/snapshot-n-intel-mfd.log")) as handle:
        base = handle.read()
    row = "EtwB Nonp       6394      4056      2338 163418368      69896"
    for hour in range(6):
        allocs, size = 6394 + 3000 * hour, 163418368 + 100 * MIB * hour
        text = base.replace(row, "EtwB Nonp %10d %9d %9d %9d %10d" % (
            allocs, 4056, allocs - 4056, size, size // (allocs - 4056)))
        put(tmp_path, "web01/poolsnap-2019-06-03_%02d00.log" % (9 + hour), text=text)
    snap = analyze(tmp_path / "web01")["snapshot"]
    assert len(snap["samples"]) == 6
    result = diagnose_windows(snap)
    assert result["verdict"]["id"] == "pool_leak" and result["culprit"]["name"] == "EtwB"
    growth = result["findings"][0]["growth"]
    assert growth["bytes_per_hour"] == 100 * MIB and growth["samples"] == 6 and growth["span_hours"] == 5.0


def test_counter_csv_becomes_samples(tmp_path):
    put(tmp_path, "app01/counters.csv", source=sample("perfmon/pdh-csv-memory-format-rendered.csv"))
    put(tmp_path, "app01/vm.txt", source=sample("windbg/vm-msdocs-flags1.txt"))
    snap = analyze(tmp_path / "app01")["snapshot"]
    assert len(snap["samples"]) == 7 and snap["samples"][-1]["t"] == "2024-03-11T14:00:00Z"
    assert snap["samples"][-1]["s"]["pool.nonpaged"] == 1342177280 + 6 * (200 * MIB + 37 * 4096)
    # !vm wins where both say something; the CSV fills the resident paged pool it alone knows.
    assert snap["memory"]["commit_limit"] == 145024 * KIB
    assert snap["windows"]["pools"]["paged"]["resident"] is not None


def test_poolused_alone_gives_tags_with_outstanding_counts(tmp_path):
    put(tmp_path, "dump/poolused.txt", source=sample("windbg/poolused-msdocs-sort-tag.txt"))
    snap = analyze(tmp_path / "dump")["snapshot"]
    usbp = next(t for t in snap["windows"]["tags"] if t["tag"] == "usbp")
    assert (usbp["nonpaged_allocs"], usbp["nonpaged_frees"], usbp["nonpaged_bytes"]) == (18, 0, 77056)
    assert snap["windows"]["pools"]["nonpaged"]["bytes"] == 209120008  # the TOTAL row
    assert any("outstanding allocations" in w for w in snap["warnings"])


def test_unknown_and_binary_files_are_listed_as_skipped(tmp_path):
    put(tmp_path, "h/poolsnap.log", source=sample("poolmon/snapshot-n-intel-mfd.log"))
    put(tmp_path, "h/MEMORY.DMP", data=b"PAGEDU64" + b"\x00" * 64)
    put(tmp_path, "h/notes.txt", text="Customer says it is slow.\n")
    result = analyze(tmp_path / "h")
    assert result["snapshot"] is not None
    files = statuses(result)
    assert files["poolsnap.log"] == ("used", "poolmon")
    assert files["MEMORY.DMP"][0] == "skipped" and files["notes.txt"][0] == "skipped"


def test_malformed_windows_file_is_reported_and_others_still_used(tmp_path):
    with open(sample("poolmon/snapshot-n-intel-mfd.log")) as handle:
        lines = handle.read().splitlines()
    lines[7] = lines[7][:25]
    put(tmp_path, "h/a-poolsnap.log", text="\n".join(lines))
    put(tmp_path, "h/vm.txt", source=sample("windbg/vm-msdocs-flags1.txt"))
    result = analyze(tmp_path / "h")
    assert result["snapshot"] is not None
    status, kind = statuses(result)["a-poolsnap.log"]
    assert (status, kind) == ("error", "poolmon")
    reason = next(f["reason"] for f in result["files"] if f["file"] == "a-poolsnap.log")
    assert reason.startswith("a-poolsnap.log line 8: ")


def test_nothing_recognised_is_an_error(tmp_path):
    put(tmp_path, "h/notes.txt", text="nothing here\n")
    result = analyze(tmp_path / "h")
    assert result["snapshot"] is None and "no file of the capture is in a recognised format" in result["error"]


def test_windows_and_linux_files_do_not_mix(tmp_path):
    put(tmp_path, "h/poolsnap.log", source=sample("poolmon/snapshot-n-intel-mfd.log"))
    put(tmp_path, "h/meminfo", source=os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs", "proc", "meminfo"))
    assert "mixes Windows and Linux" in analyze(tmp_path / "h")["error"]


# ------------------------------------------------------------------ archives

def make_tar(path, root, arcname, extra=()):
    with tarfile.open(path, "w:xz") as tar:
        tar.add(root, arcname=arcname)
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def test_sosreport_tar_xz(tmp_path):
    archive = str(tmp_path / "sosreport-vm-2026-11-23-abcdef.tar.xz")
    make_tar(archive, os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs"), "sosreport-vm-2026-11-23-abcdef")
    assert offline.find_captures(archive)[0] == [("sosreport-vm-2026-11-23-abcdef", archive)]
    result = analyze(archive)
    assert result["error"] is None and result["snapshot"]["source"] == "sosreport"
    assert result["snapshot"]["linux"]["deleted_open"][0]["bytes"] == 192 * MIB
    assert not any("memleak-capture-" in w for w in result["snapshot"]["warnings"])  # no temporary paths shown


def test_hostile_archive_members_stay_inside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    extra = []
    for name in ("../outside/evil", "/tmp/absolute-evil", "sos/../../outside/evil2"):
        info = tarfile.TarInfo(name)
        info.size = 4
        extra.append((info, b"evil"))
    link = tarfile.TarInfo("sos/proc/cpuinfo")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../../../etc/passwd"
    extra.append((link, None))
    device = tarfile.TarInfo("sos/proc/kcore")
    device.type = tarfile.CHRTYPE
    extra.append((device, None))
    archive = str(tmp_path / "case.tar.xz")
    make_tar(archive, os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs"), "sos", extra)
    result = analyze(archive)
    assert result["error"] is None
    assert os.listdir(str(outside)) == [] and not os.path.exists("/tmp/absolute-evil")
    assert any("member(s) skipped" in w for w in result["snapshot"]["warnings"])


def test_archive_size_limits(tmp_path):
    archive = str(tmp_path / "case.tar.xz")
    make_tar(archive, os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs"), "sos")
    small = {"max_extract_bytes": 16 * KIB}
    assert "unpacks to more than" in analyze(archive, limits=small)["error"]
    assert "above the" in analyze(archive, limits={"max_archive_bytes": 100})["error"]
    assert "more than 5 members" in analyze(archive, limits={"max_members": 5})["error"]


def test_zip_of_windows_files(tmp_path):
    archive = str(tmp_path / "server7.zip")
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(sample("windbg/vm-seed001-xp-excessive-nonpaged.txt"), "dump/vm.txt")
        bundle.writestr("../escape.txt", "nope")
    result = analyze(archive)
    assert result["snapshot"]["windows"]["pools"]["nonpaged"]["limit"] == 127944 * KIB
    assert not os.path.exists(str(tmp_path.parent / "escape.txt"))


def test_not_an_archive(tmp_path):
    archive = put(tmp_path, "broken.tar.xz", data=b"not xz at all")
    assert "is not a readable archive" in analyze(archive)["error"]


# ------------------------------------------------------------------ property test

@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=600), st.text(max_size=600).map(lambda t: t.encode("utf-8"))),
                min_size=1, max_size=3))
def test_any_file_content_gives_a_snapshot_or_an_error(contents):
    folder = tempfile.mkdtemp(prefix="memleak-fuzz-")
    try:
        for index, data in enumerate(contents):
            put(folder, "f%d.txt" % index, data=data)
        result = offline.analyze_capture(folder, "fuzz")
        assert (result["snapshot"] is None) != (result["error"] is None)
        json.dumps(result)
    finally:
        shutil.rmtree(folder)


# ----------------------------------------------------------------------------- partial captures (corpus/)

CORPUS = os.path.join(CAPTURES, "corpus")


def test_lone_free_gives_a_partial_snapshot_with_what_it_knows():
    result = analyze(os.path.join(CORPUS, "linux-openillumi-free-h"))
    snap = result["snapshot"]
    assert result["error"] is None
    assert snap["captured"] == {"free": "free.txt"}
    assert snap["memory"]["total"] == int(round(7.8 * 1024 ** 3))
    assert snap["memory"]["available"] == int(round(7.4 * 1024 ** 3))
    assert snap["memory"]["commit_limit"] is None  # unknown, never 0
    assert snap["linux"]["slab"] is None and snap["linux"]["processes"] is None and snap["linux"]["oom_kills"] is None
    assert snap["linux"]["meminfo"]["Shmem"] == 1024 ** 2  # free's `shared` is meminfo's Shmem
    assert any(w.startswith("partial capture: no full /proc/meminfo") for w in snap["warnings"])


def test_lone_slabtop_gives_the_slab_table_and_nothing_else():
    snap = analyze(os.path.join(CORPUS, "linux-supertuna-slabtop-rnd07"))["snapshot"]
    assert snap["captured"] == {"slabtop": "slabtop.txt"}
    assert snap["linux"]["slab"][0]["name"] == "kmalloc-rnd-07-8k"
    assert snap["memory"]["total"] is None and snap["linux"]["meminfo"] == {}


def test_pasted_console_with_a_whole_meminfo_is_read_as_meminfo():
    snap = analyze(os.path.join(CORPUS, "linux-supertuna-repeat-run-rnd11"))["snapshot"]
    assert set(snap["captured"]) == {"meminfo", "free", "slabtop"}
    assert snap["linux"]["meminfo"]["SUnreclaim"] == 31763392 * KIB
    assert snap["linux"]["slab"][0]["name"] == "kmalloc-rnd-11-8k"
    assert snap["linux"]["processes"] is None  # the ps had no RSS column it could name
    assert snap["virt"]["balloon"] is None  # no module list: a balloon driver is unknown, not absent


def test_hugepage_lines_alone():
    snap = analyze(os.path.join(CORPUS, "linux-hugepages-java-grep"))["snapshot"]
    assert set(snap["captured"]) == {"meminfo_partial", "hugepages"}
    assert snap["linux"]["meminfo"]["HugePages_Rsvd"] == 594 and snap["memory"]["total"] is None


def test_oom_report_alone():
    snap = analyze(os.path.join(CORPUS, "linux-parseoom-clamd-oom"))["snapshot"]
    assert snap["captured"] == {"oom": "messages"}
    assert snap["linux"]["oom_kills"][0]["killed"] == {"pid": 517, "name": "clamd", "rss": 1689296 * KIB}


def test_top_alone_gives_processes_and_totals():
    snap = analyze(os.path.join(CORPUS, "linux-pritunl-top"))["snapshot"]
    assert snap["captured"] == {"processes": "top.txt"}
    assert snap["linux"]["processes"][0]["name"] == "pritunl" and snap["linux"]["processes"][0]["pss"] is None
    assert snap["memory"]["total"] == 1884812 * KIB and snap["memory"]["available"] == 334908 * KIB


def test_two_process_listings_become_timed_samples(tmp_path):
    """The pritunl screen twice, the second with pritunl's RES raised (a derived copy), times from the names."""
    with open(os.path.join(CORPUS, "linux-pritunl-top", "top.txt")) as handle:
        first = handle.read()
    second = first.replace("25.851g 988204", "25.851g 1088204")
    assert second != first
    put(tmp_path, "vpn/top-2015-08-13_1000.txt", text=first)
    put(tmp_path, "vpn/top-2015-08-13_1100.txt", text=second)
    snap = analyze(tmp_path / "vpn")["snapshot"]
    assert [s["t"] for s in snap["samples"]] == ["2015-08-13T10:00:00Z", "2015-08-13T11:00:00Z"]
    assert [s["s"]["proc:pritunl[11747]"] for s in snap["samples"]] == [988204 * KIB, 1088204 * KIB]
    assert snap["linux"]["processes"][0]["rss"] == 1088204 * KIB  # the latest listing


def test_event_2004_alone():
    snap = analyze(os.path.join(CORPUS, "win-mikelag-event2004-store"))["snapshot"]
    assert snap["captured"] == {"event_2004": "event-2004.txt"}
    assert snap["windows"]["low_memory_events"][0]["processes"][0] == {"name": "store.exe", "pid": 7580,
                                                                       "bytes": 11282399232}
    assert snap["windows"]["processes"][0]["private_bytes"] == 11282399232


def test_systeminfo_gives_version_and_ram(tmp_path):
    put(tmp_path, "srv/systeminfo.txt", text="OS Name:                   Microsoft Windows Server 2016 Standard\n"
        "OS Version:                10.0.14393 N/A Build 14393\nTotal Physical Memory:     4,095 MB\n")
    put(tmp_path, "srv/poolmon.log", source=sample("poolmon/snapshot-n-intel-mfd.log"))
    snap = analyze(tmp_path / "srv")["snapshot"]
    assert snap["os"]["version"] == "10.0.14393" and snap["os"]["build"] == "14393"
    assert set(snap["captured"]) == {"systeminfo", "poolmon"}


def test_folder_with_only_a_crash_dump_says_how_to_get_text(tmp_path):
    put(tmp_path, "box/MEMORY.DMP", data=b"PAGEDU64" + b"\x00" * 100)
    result = analyze(tmp_path / "box")
    assert result["snapshot"] is None
    assert "MEMORY.DMP is a binary Windows crash dump" in result["error"]
    assert "!poolused" in result["error"] and "!vm" in result["error"]


def test_two_poolmon_screens_in_one_file_say_what_grew(tmp_path):
    with open(sample("poolmon/screen-msdocs-drsd-before.txt")) as a, open(sample("poolmon/screen-msdocs-drsd-after.txt")) as b:
        put(tmp_path, "print/poolmon.txt", text=a.read() + b.read())
    snap = analyze(tmp_path / "print")["snapshot"]
    note = next(w for w in snap["warnings"] if "poolmon screens" in w)
    assert "Drsd paged +6 allocations, +4992 bytes" in note

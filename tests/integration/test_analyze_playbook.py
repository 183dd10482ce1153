"""`ansible-playbook -i localhost, memleak.remediation.analyze` on captured files, as a support engineer runs it.

No host but the controller: the playbook reads captures there and writes one JSON report per
capture, index.html (one card per capture), summary.json and summary.md, and the documented
command prints no warning. The captures are the fixture sets (tests/fixtures/captures/README.md), a
sosreport packed as .tar.xz by the test, and deliberately bad input: a malformed meminfo, a folder
with nothing recognisable, a crash dump, a stray file.
"""

import json
import os
import re
import shutil
import subprocess
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")
SETS = os.path.join(ROOT, "tests", "fixtures", "captures", "sets")
SAMPLES = os.path.join(ROOT, "tests", "fixtures", "captures", "samples")
GOOD = {
    "sos-centos7-vmware-assembled": "balloon_inflation",
    "sos-debian12-vm-deleted-tmpfs": "shmem_tmpfs",
    "win-intel-poolsnap": "healthy",
    "win-msdocs-commit": "commit_exhaustion",
    "win-seed001-crashdump": "pool_pressure",
}

pytestmark = pytest.mark.integration


def run(tmp_path, *extra):
    if not os.access(PLAYBOOK_BIN, os.X_OK):
        pytest.fail("%s is missing: run `make venv` first" % PLAYBOOK_BIN, pytrace=False)
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    })
    # The command of docs/offline-analysis.md, with no setting that hides a warning.
    proc = subprocess.run([PLAYBOOK_BIN, "-i", "localhost,", "memleak.remediation.analyze"] + list(extra),
                          cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300,
                          check=False)
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc


def report(out, name):
    with open(os.path.join(str(out), name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def summary(out):
    with open(os.path.join(str(out), "summary.md"), encoding="utf-8") as handle:
        return handle.read()


def pack(archive, folder, arcname):
    with tarfile.open(str(archive), "w:xz") as tar:
        tar.add(folder, arcname=arcname)


def test_folder_of_captures_with_bad_input(tmp_path):
    cases = tmp_path / "cases"
    for name in GOOD:
        shutil.copytree(os.path.join(SETS, name), str(cases / name))
    pack(cases / "sosreport-vm-2026-11-23.tar.xz", os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs"),
         "sosreport-vm-2026-11-23")
    (cases / "web01").mkdir()
    with open(os.path.join(SAMPLES, "poolmon", "snapshot-n-intel-mfd.log")) as handle:
        log = handle.read()
    (cases / "web01" / "poolsnap-2019-06-03_0900.log").write_text(log)
    (cases / "web01" / "poolsnap-2019-06-03_1000.log").write_text(log)
    broken = cases / "db07" / "proc"
    broken.mkdir(parents=True)
    with open(os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs", "proc", "meminfo")) as handle:
        lines = handle.read().splitlines()
    lines[2] = "MemAvailable:   garbage kB"
    (broken / "meminfo").write_text("\n".join(lines) + "\n")
    (cases / "app09").mkdir()
    (cases / "app09" / "MEMORY.DMP").write_bytes(b"PAGEDU64" + b"\x00" * 64)
    (cases / "app09" / "ticket.txt").write_text("The server is slow.\n")
    (cases / "README.txt").write_text("Cases of the week\n")
    out = tmp_path / "report"

    proc = run(tmp_path, "-e", "memleak_capture_dir=%s" % cases, "-e", "memleak_report_dir=%s" % out)

    # A capture that could not be read fails the run, after every report was written.
    assert proc.returncode != 0, proc.stdout
    for name, verdict in GOOD.items():
        assert report(out, name)["memleak_diagnosis"]["verdict"]["id"] == verdict, name
    packed = report(out, "sosreport-vm-2026-11-23")
    assert packed["memleak_snapshot"]["source"] == "sosreport"
    assert packed["memleak_diagnosis"]["culprit"]["name"] == "memleak-holder"
    assert packed["memleak_capture"]["hostname"] == "vm"
    web = report(out, "web01")["memleak_snapshot"]
    assert [s["t"] for s in web["samples"]] == ["2019-06-03T09:00:00Z", "2019-06-03T10:00:00Z"]
    seed = report(out, "win-seed001-crashdump")
    assert seed["memleak_snapshot"]["windows"]["pools"]["nonpaged"] == {"bytes": 125476 * 1024,
                                                                        "limit": 127944 * 1024}
    assert seed["memleak_diagnosis"]["verdict"]["severity"] == "critical"
    assert not os.path.exists(str(out / "db07.json")) and not os.path.exists(str(out / "app09.json"))

    text = summary(out)
    assert "7 host(s) diagnosed" in text and "2 not diagnosed" in text
    assert "| db07 | not diagnosed | unknown | | | | | | proc/meminfo line 3: value of MemAvailable is not a " \
           "whole number: 'garbage' |" in text
    # A folder whose only capture is a crash dump says how to get text out of it.
    assert "| app09 | not diagnosed |" in text and "MEMORY.DMP is a binary Windows crash dump" in text
    assert "!poolused 2" in text
    assert "README.txt: skipped: not a capture folder or archive" in proc.stdout
    assert "app09: skipped MEMORY.DMP: binary Windows crash dump" in proc.stdout
    assert "2 capture(s) could not be analysed" in proc.stdout
    with open(os.path.join(str(out), "index.html"), encoding="utf-8") as handle:
        page = handle.read()
    assert page.count('<section class="host') == 7 and page.count('data-verdict="not_diagnosed" class="bad"') == 2


def test_clean_captures_succeed_and_reports_are_complete(tmp_path):
    cases = tmp_path / "cases"
    for name in GOOD:
        shutil.copytree(os.path.join(SETS, name), str(cases / name))
    out = tmp_path / "report"
    proc = run(tmp_path, "-e", "memleak_capture_dir=%s" % cases, "-e", "memleak_report_dir=%s" % out)
    assert proc.returncode == 0, proc.stdout
    assert "5 host(s) diagnosed" in summary(out) and "0 not diagnosed" in summary(out)
    for name in GOOD:
        data = report(out, name)
        assert set(data) == {"memleak_snapshot", "memleak_diagnosis", "memleak_capture"}
        diagnosis = data["memleak_diagnosis"]
        assert set(diagnosis) == {"schema", "host", "verdict", "culprit", "ledger", "findings", "plan"}
        assert diagnosis["host"] == name
        assert sum(e["bytes"] for e in diagnosis["ledger"]) == data["memleak_snapshot"]["memory"]["total"]
        files = data["memleak_capture"]["files"]
        assert all(f["status"] == "used" or (f["status"] == "skipped" and f["reason"].startswith("present"))
                   for f in files), files
    # The report of a sosreport lists the memory files it holds but did not read, with why.
    listed = dict((f["file"], f) for f in report(out, "sos-debian12-vm-deleted-tmpfs")["memleak_capture"]["files"])
    assert listed["sos_commands/memory/free"]["status"] in ("used", "skipped")
    assert listed["proc/vmstat"]["status"] == "used"
    assert listed["proc/[0-9]*/status"] == {"file": "proc/[0-9]*/status", "kind": "status", "status": "used",
                                            "reason": "read with the /proc tree of 2 process(es)"}
    assert "present, not read" not in proc.stdout  # in each report's file list, not on the console
    assert "win-seed001-crashdump: pool_pressure [critical, proven]" in proc.stdout
    assert "[WARNING]" not in proc.stdout, proc.stdout
    assert "No inventory was parsed" not in proc.stdout and "provided hosts list is empty" not in proc.stdout
    with open(os.path.join(str(out), "index.html"), encoding="utf-8") as handle:
        page = handle.read()
    cards = re.findall(r'<section class="host[^"]*" id="h\d+" data-verdict="([a-z_]+)"><h2>([^ <]+) ', page)
    assert sorted(cards) == sorted((verdict, name) for name, verdict in GOOD.items()), cards
    with open(os.path.join(str(out), "summary.json"), encoding="utf-8") as handle:
        assert json.load(handle)["diagnosed"] == len(GOOD)
    assert "Report: %s/index.html" % out in proc.stdout


def test_one_sosreport_archive(tmp_path):
    archive = tmp_path / "sosreport-db01-2026-11-23.tar.xz"
    pack(archive, os.path.join(SETS, "sos-centos7-vmware-assembled"), "sosreport-db01-2026-11-23")
    out = tmp_path / "report"
    proc = run(tmp_path, "-e", "memleak_capture_dir=%s" % archive, "-e", "memleak_report_dir=%s" % out)
    assert proc.returncode == 0, proc.stdout
    data = report(out, "sosreport-db01-2026-11-23")
    assert data["memleak_snapshot"]["virt"]["tools"]["version"] == "11.3.5.31214"
    assert data["memleak_diagnosis"]["verdict"]["id"] == "balloon_inflation"


def test_missing_or_wrong_capture_dir_is_a_plain_message(tmp_path):
    proc = run(tmp_path)
    assert proc.returncode != 0 and "Name the captures: -e memleak_capture_dir=DIR" in proc.stdout
    proc = run(tmp_path, "-e", "memleak_capture_dir=%s" % (tmp_path / "nowhere"))
    assert proc.returncode != 0 and "memleak_captures: %s does not exist" % (tmp_path / "nowhere") in proc.stdout
    (tmp_path / "empty").mkdir()
    proc = run(tmp_path, "-e", "memleak_capture_dir=%s" % (tmp_path / "empty"),
               "-e", "memleak_report_dir=%s" % (tmp_path / "report"))
    assert proc.returncode != 0 and "No capture found in" in proc.stdout


def test_a_messy_sosreport_archive_lists_every_memory_file(tmp_path):
    """Real command output as sos writes it (insights-core's samples, the build machine's sysctl -a), packed:
    error lines before headers are skipped and named, ps c loses to ps auxww, ps -ef says it has no RSS,
    sysctl gives the memory policy, and each memory file of the report is in the report's file list."""
    peer = os.path.join(ROOT, "tests", "fixtures", "insights_samples")
    tree = tmp_path / "sosreport-messy"
    shutil.copytree(os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs"), str(tree))
    for name in ("2", "26686"):
        shutil.rmtree(str(tree / "proc" / name))  # no proc/PID/status: processes come from ps
    added = {"sos_commands/process/ps_auxcww": "ps/PsAuxcww_TEST.txt",
             "sos_commands/process/ps_auxww": "ps/PS_AUXWW_WITH_LATE_HEADER.txt",
             "sos_commands/process/ps_-ef": "ps/PsEf_TEST.txt",
             "sos_commands/filesys/df_-alP": "df/DF_ALP.txt",
             "proc/buddyinfo": "buddyinfo/BUDDYINFO_1.txt"}
    for rel, name in added.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(peer, name), str(tree / rel))
    (tree / "sos_commands" / "kernel").mkdir()
    shutil.copy(os.path.join(SAMPLES, "sos", "sysctl_-a-nonroot-debian12.txt"), str(tree / "sos_commands" / "kernel" / "sysctl_-a"))
    archive = tmp_path / "sosreport-messy.tar.xz"
    pack(archive, str(tree), "sosreport-messy")
    out = tmp_path / "report"
    proc = run(tmp_path, "-e", "memleak_capture_dir=%s" % archive, "-e", "memleak_report_dir=%s" % out)
    assert proc.returncode == 0, proc.stdout
    data = report(out, "sosreport-messy")
    snap = data["memleak_snapshot"]
    assert snap["linux"]["processes"][0]["name"] == "systemd"  # from ps auxww, found below its warning line
    assert snap["linux"]["sysctl"]["vm.overcommit_ratio"] == 50
    assert any(w.startswith("sos_commands/process/ps_auxww line 2: ") for w in snap["warnings"])
    files = dict((f["file"].split(":", 1)[-1], f) for f in data["memleak_capture"]["files"])
    assert files["sos_commands/process/ps_auxww"]["status"] == "used"
    assert files["sos_commands/process/ps_auxcww"]["reason"].startswith("present, not read")
    assert "no RSS column" in files["sos_commands/process/ps_-ef"]["reason"]
    assert files["sos_commands/kernel/sysctl_-a"]["reason"].startswith("memory settings: vm.nr_hugepages")
    assert files["proc/buddyinfo"]["status"] == "skipped"
    for rel in list(added) + ["proc/meminfo", "proc/slabinfo", "proc/vmstat", "sos_commands/memory/free"]:
        assert rel in files, rel


def test_kernel_module_call_site_from_allocinfo_is_the_culprit(tmp_path):
    """meminfo with 5 GB unaccounted plus an allocinfo in which one module's call site holds most of it."""
    capture = os.path.join(ROOT, "tests", "fixtures", "kernel_sources", "capture-module-leak")
    out = tmp_path / "out"
    proc = run(tmp_path, "-e", "memleak_capture_dir=%s" % capture, "-e", "memleak_report_dir=%s" % out)
    assert proc.returncode == 0, proc.stdout
    data = report(out, "capture-module-leak")
    diag = data["memleak_diagnosis"]
    assert diag["verdict"]["id"] == "unaccounted_kernel", diag["verdict"]
    assert diag["culprit"]["kind"] == "kernel_module" and diag["culprit"]["name"] == "leakmod", diag["culprit"]
    assert "leakmod_main.c:412" in diag["culprit"]["site"]
    assert data["memleak_snapshot"]["captured"]["allocinfo"] == "proc/allocinfo"
    assert "leakmod" in proc.stdout

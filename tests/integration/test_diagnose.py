"""`ansible-playbook memleak.remediation.diagnose` over a real sshd, as an administrator runs it.

Each run diagnoses two inventory hosts that are the same machine reached twice:
once as root and once as an unprivileged account, so one run shows both views
and the fleet summary must list both.
"""

import json
import os

import pytest

from integration_harness import (LINUX_VERDICTS, TEST_USER, Host, free_port, host_lines, load_report,
                                 recap)

pytestmark = pytest.mark.integration

SEVERITIES = ("ok", "info", "warning", "critical")


def _local_memtotal():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def _read_summary(report_dir):
    path = os.path.join(report_dir, "summary.md")
    assert os.path.isfile(path), "no fleet summary %s; directory holds %s" % (
        path, sorted(os.listdir(report_dir)) if os.path.isdir(report_dir) else "nothing (missing)")
    with open(path) as handle:
        return handle.read()


def _check_report(report, host, run):
    """What every host report must hold, whoever logged in."""
    snap, diag = report["memleak_snapshot"], report["memleak_diagnosis"]
    assert snap["schema"] == 1 and diag["schema"] == 1
    assert snap["host"] == host and diag["host"] == host
    assert snap["os"]["family"] == "linux"
    # The managed host is this machine: the report must show its real RAM.
    assert snap["memory"]["total"] == snap["linux"]["meminfo"]["MemTotal"] == _local_memtotal()
    verdict = diag["verdict"]
    assert verdict["id"] in LINUX_VERDICTS, verdict
    assert verdict["severity"] in SEVERITIES, verdict
    assert isinstance(verdict["summary"], str) and verdict["summary"].strip(), verdict
    assert diag["culprit"]["kind"] in ("slab_cache", "process", "balloon", "tmpfs", "hugepages", "kernel",
                                       "kernel_module", "none"), diag["culprit"]
    ledger = diag["ledger"]
    assert ledger and all(set(entry) >= {"category", "bytes"} for entry in ledger), ledger
    assert all(isinstance(e["bytes"], int) and e["bytes"] >= 0 for e in ledger), ledger
    assert sum(e["bytes"] for e in ledger) == snap["memory"]["total"], (
        "ledger sums to %d, MemTotal is %d: %s" % (sum(e["bytes"] for e in ledger), snap["memory"]["total"],
                                                   json.dumps(ledger)))
    for finding in diag["findings"]:
        assert set(finding) >= {"id", "subject", "bytes", "evidence"}, finding
        assert set(finding["subject"]) >= {"kind", "name"}, finding
    # The line printed for the host names it and its verdict.
    lines = host_lines(run.stdout, host)
    assert any(verdict["id"] in line for line in lines), (
        "no line '%s: %s ...' in the output:\n%s" % (host, verdict["id"], run.stdout[-6000:]))
    return snap, diag


@pytest.mark.parametrize("connection", ["ssh", "paramiko"])
def test_diagnose_as_root_and_unprivileged(ansible, report_dir, connection):
    root_host, user_host = "root-%s" % connection, "user-%s" % connection
    inventory = ansible.inventory([Host(root_host, "root", connection), Host(user_host, TEST_USER, connection)])

    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir})

    assert run.rc == 0, run.explain()
    assert "Traceback" not in run.output, run.explain()
    counts = recap(run.stdout)
    for host in (root_host, user_host):
        assert counts.get(host, {}).get("failed") == 0 and counts[host]["unreachable"] == 0, run.explain()

    root_snap, root_diag = _check_report(load_report(report_dir, root_host), root_host, run)
    user_snap, user_diag = _check_report(load_report(report_dir, user_host), user_host, run)

    # Root reads /proc/slabinfo: the largest caches are listed with their size.
    slab = root_snap["linux"]["slab"]
    assert isinstance(slab, list) and slab, "root snapshot has no slab caches: %r" % (slab,)
    assert all(cache["name"] and cache["bytes"] > 0 for cache in slab), slab
    assert not [w for w in root_snap["warnings"] if "slabinfo" in w], root_snap["warnings"]

    # Without root /proc/slabinfo is unreadable: a warning saying so, and the run still succeeds.
    assert user_snap["linux"]["slab"] is None, user_snap["linux"]["slab"]
    slab_warnings = [w for w in user_snap["warnings"] if "slabinfo" in w]
    assert slab_warnings, "no slabinfo warning for the unprivileged login: %s" % user_snap["warnings"]
    assert any("root" in w or "permission" in w.lower() for w in slab_warnings), slab_warnings
    # Other users' smaps_rollup is unreadable too: those processes are ranked by RSS, without PSS.
    processes = user_snap["linux"]["processes"]
    assert processes and any(p["pss"] is None and p["rss"] for p in processes), processes

    # Both hosts are the same machine: the same boot and the same RAM.
    assert root_snap["boot_id"] == user_snap["boot_id"] and root_snap["boot_id"]

    summary = _read_summary(report_dir)
    for host, diag in ((root_host, root_diag), (user_host, user_diag)):
        assert host in summary and diag["verdict"]["id"] in summary, summary


def test_check_mode_writes_the_same_report(ansible, report_dir):
    """--check only reads the host: the report is still written and says the same."""
    inventory = ansible.inventory([Host("checked", "root", "ssh")])
    normal = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir})
    assert normal.rc == 0, normal.explain()
    before = load_report(report_dir, "checked")
    os.remove(os.path.join(report_dir, "checked.json"))
    os.remove(os.path.join(report_dir, "summary.md"))

    checked = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir}, args=["--check"])

    assert checked.rc == 0, checked.explain()
    assert "Traceback" not in checked.output, checked.explain()
    after = load_report(report_dir, "checked")
    _check_report(after, "checked", checked)
    _read_summary(report_dir)
    # Nothing was skipped for check mode: the same tasks ran for the host.
    assert recap(checked.stdout)["checked"]["skipped"] == recap(normal.stdout)["checked"]["skipped"], (
        normal.explain() + "\n" + checked.explain())
    assert after["memleak_snapshot"]["collected_at"] >= before["memleak_snapshot"]["collected_at"]
    for key in ("memleak_snapshot", "memleak_diagnosis"):
        assert sorted(after[key]) == sorted(before[key]), key
    assert sorted(after["memleak_snapshot"]["linux"]) == sorted(before["memleak_snapshot"]["linux"])
    assert after["memleak_snapshot"]["boot_id"] == before["memleak_snapshot"]["boot_id"]
    assert after["memleak_diagnosis"]["verdict"]["id"] == before["memleak_diagnosis"]["verdict"]["id"]


def _not_diagnosed_line(run, host):
    return [line for line in host_lines(run.stdout, host) if "unreachable" in line.lower()]


def test_unreachable_host_is_reported(ansible, report_dir):
    """A host that cannot be reached is listed as not diagnosed, next to the hosts that were."""
    inventory = ansible.inventory([Host("reachable", "root", "ssh"),
                                   Host("gone", "root", "ssh", port=free_port())])

    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir})

    # A host left out must make the run fail, so that cron or AWX notices.
    assert run.rc != 0, run.explain()
    assert "Traceback" not in run.output, run.explain()
    load_report(report_dir, "reachable")
    assert not os.path.exists(os.path.join(report_dir, "gone.json"))
    assert _not_diagnosed_line(run, "gone"), "no line saying 'gone' is unreachable:\n" + run.stdout[-6000:]
    summary = _read_summary(report_dir)
    gone = [line for line in summary.splitlines() if "gone" in line]
    assert gone and any("unreachable" in line.lower() for line in gone), summary
    assert "reachable" in summary.replace("gone", "")


def test_only_host_unreachable_still_gets_a_summary(ansible, report_dir):
    """When every host is down the summary must say so, not be missing (or stale from a former run)."""
    os.makedirs(report_dir)
    with open(os.path.join(report_dir, "summary.md"), "w") as handle:
        handle.write("stale summary of an earlier run\n")
    inventory = ansible.inventory([Host("gone", "root", "ssh", port=free_port())])

    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir})

    assert run.rc != 0, run.explain()
    assert "Traceback" not in run.output, run.explain()
    summary = _read_summary(report_dir)
    assert "stale summary" not in summary, "summary.md was not rewritten:\n" + run.explain()
    assert any("gone" in line and "unreachable" in line.lower() for line in summary.splitlines()), summary

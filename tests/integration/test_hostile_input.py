"""Hostile input through the real playbooks: a webhook secret never reaches output, reports or the ledger,
even at -vvv and when the post fails; `analyze` over captures built to escape or to overflow reports every
other capture, names the bad file and line, and reads and writes nothing outside the captures."""

import io
import json
import os
import shutil
import tarfile

import pytest

from integration_harness import Host
from remediation_helpers import MIB, Webhook, boot_id, read_jsonl, seed_history
from test_analyze_playbook import SETS, report, run as analyze, summary

pytestmark = pytest.mark.integration

SERIES = "proc:memleak-seed[4242]"
RATE = 1024 * MIB
QUIET = {"unaccounted_share": 1.0, "process_share": 1.0, "shmem_share": 1.0, "slab_cache_share": 1.0,
         "slab_unreclaimable_share": 1.0, "hugepages_free_share": 1.0}
SIG = "SIG-5ecret-in-query"
HEADER = "HDR-5ecret-in-header"


def test_webhook_secrets_stay_out_of_output_reports_and_ledger(ansible, report_dir, tmp_path):
    hook = Webhook(fail_first=-1, fail_status=503)
    try:
        state = tmp_path / "state"
        state.mkdir()
        seed_history(str(state / "history.jsonl"), boot_id(), SERIES, 512 * MIB, RATE)
        inventory = ansible.inventory([Host("rem", "root", "ssh")])
        extra = {"memleak_report_dir": report_dir, "memleak_history_path": str(state / "history.jsonl"),
                 "memleak_thresholds": QUIET, "memleak_top": 5, "memleak_sequence": ["escalate"],
                 "memleak_restart_eta_hours": 0, "memleak_escalation_url": hook.url + "?sig=" + SIG,
                 "memleak_escalation_headers": {"X-Signature": HEADER},
                 "memleak_escalation_backoff": 0, "memleak_escalation_retries": 1}
        failed = ansible.playbook(inventory, "memleak.remediation.remediate", extra, args=["-vvv"])
        assert failed.rc != 0, failed.explain()
        assert hook.requests and hook.requests[0]["headers"]["X-Signature"] == HEADER
        assert SIG in hook.requests[0]["path"]
        assert "last status 503" in failed.output and "(query hidden)" in failed.output
        ledger = read_jsonl(str(state / "remediation.jsonl"))
        assert [(e["step"], e["result"]) for e in ledger] == [("escalate", "failed")]
        kept = [failed.output, json.dumps(ledger)]
        for name in os.listdir(report_dir):
            with open(os.path.join(report_dir, name)) as handle:
                kept.append(handle.read())
        for text in kept:
            assert SIG not in text and HEADER not in text
    finally:
        hook.stop()


def _file(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, io.BytesIO(data)


def _link(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, None


def test_analyze_contains_hostile_captures_and_reports_the_others(tmp_path):
    cases = tmp_path / "cases"
    sos = os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs")
    shutil.copytree(sos, str(cases / "good"))
    with open(os.path.join(sos, "proc", "meminfo")) as handle:
        lines = handle.read().splitlines()
    shutil.copytree(sos, str(cases / "huge"))
    (cases / "huge" / "proc" / "meminfo").write_text(
        "\n".join(lines[:1] + ["MemFree:        %s kB" % ("9" * 400)] + lines[2:]) + "\n")
    shutil.copytree(sos, str(cases / "arabic"))
    (cases / "arabic" / "proc" / "meminfo").write_text(
        "\n".join(lines[:1] + ["MemFree:        \u0661\u0662\u0663\u0664 kB"] + lines[2:]) + "\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = tmp_path / "shadow"
    secret.write_text("SENTINEL-SECRET\n")
    base = "sos/sys/module/vmw_balloon"
    with tarfile.open(str(cases / "chained.tar.xz"), "w:xz") as tar:
        for info, data in (_link(base + "/a", "."), _link(base + "/a" * 40 + "/up", "../" * 40),
                           _file(base + "/up/" + str(outside).lstrip("/") + "/planted", b"x\n"),
                           _link("sos/proc/sys/kernel/hostname", "../../../sys/module/vmw_balloon/up/"
                                 + str(secret).lstrip("/"))):
            tar.addfile(info, data)
        tar.add(sos, arcname="sos")
    out = tmp_path / "report"

    proc = analyze(tmp_path, "-e", "memleak_capture_dir=%s" % cases, "-e", "memleak_report_dir=%s" % out)

    assert proc.returncode != 0, proc.stdout  # two captures could not be analysed: said, after the reports
    assert report(out, "good")["memleak_diagnosis"]["verdict"]["id"] == "shmem_tmpfs"
    assert report(out, "chained")["memleak_snapshot"]["source"] == "sosreport"
    text = summary(out)
    assert "| huge | not diagnosed | unknown | | | | | | proc/meminfo line 2: value of MemFree is out of range" in text
    assert "| arabic | not diagnosed | unknown | | | | | | proc/meminfo line 2: value of MemFree is written in " \
           "non-ASCII digits" in text
    assert os.listdir(str(outside)) == []
    for name in os.listdir(str(out)):
        with open(os.path.join(str(out), name)) as handle:
            assert "SENTINEL-SECRET" not in handle.read(), name
    assert "SENTINEL-SECRET" not in proc.stdout

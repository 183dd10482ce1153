"""Every verdict and every plan step through every report, read for words that do not read right.

The fleet of tests/fleet_fixture.py (real captures through the real filters, every verdict id)
is rendered as the console line, summary.md, summary.json, junit.xml and index.html (text only),
and every remediation decision (each action with each plan step, real next_step decisions of
every host) as the console line of the remediate role. None may hold a doubled word
("kernel kernel pools", "not growing: not growing") or "none none" ("vm-a: none none: ...").
"""

import html
import json
import re

import pytest

import fleet_fixture
from ansible_collections.memleak.remediation.plugins.module_utils.schema import PLAN_STEPS, VERDICTS
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation import elimination
from ansible_collections.memleak.remediation.plugins.plugin_utils.report import formats, text
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.html import render_index

# A word repeated with only spaces or punctuation between ("none none", "growing: not growing" is
# caught by the phrase check below). Numbers repeat legitimately ("1 1"), so words only.
DOUBLED = re.compile(r"\b([A-Za-z_]{3,})\b[\s:,;]+\b\1\b", re.IGNORECASE)
PHRASES = ("none none", "not growing: not growing", "kernel kernel", "wait none", "run none")
NOW = "2024-05-02T08:00:00Z"


def _problems(label, value):
    found = []
    for line in str(value).splitlines():
        line = re.sub(r"\[[a-z_]+:[^\]]*\]", "[case]", line)  # case ids are identifiers, not words
        match = DOUBLED.search(line)
        if match:
            found.append("%s: doubled %r in %r" % (label, match.group(1), line.strip()[:200]))
        found.extend("%s: %r in %r" % (label, p, line.strip()[:200]) for p in PHRASES if p in line.lower())
    return found


def _page_text(page):
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "\n", body))


@pytest.fixture(scope="module")
def hosts():
    return fleet_fixture.fleet(len(fleet_fixture.RECIPES))


def test_the_fleet_covers_every_verdict_and_plan_step(hosts):
    assert set(d["verdict"]["id"] for _s, d, _v in hosts) == set(VERDICTS)
    steps = set(step["step"] for _s, d, _v in hosts for step in d["plan"])
    assert steps >= set(PLAN_STEPS) - {"restart"}, steps  # restart is a decision of next_step, not a plan step


def test_every_report_reads_right(hosts):
    diagnoses = [d for _s, d, _v in hosts]
    snapshots = [s for s, _d, _v in hosts]
    missing = {"vm-gone": "unreachable: ssh: connect to host vm-gone port 22: Connection refused"}
    problems = []
    for snap, diag, dummy in hosts:
        problems += _problems("verdict_line", text.verdict_line(diag, snapshot=snap))
        for finding in diag["findings"]:
            problems += _problems("evidence of %s" % diag["host"], "\n".join(finding["evidence"]))
    problems += _problems("summary.md", text.fleet_summary(diagnoses, missing, "/r", snapshots))
    problems += _problems("summary.json", "\n".join(
        "%s" % v for row in formats.fleet_json(diagnoses, missing, NOW)["hosts"] for v in row.values()))
    problems += _problems("junit.xml", html.unescape(formats.fleet_junit(diagnoses, missing, generated_at=NOW)))
    problems += _problems("index.html", _page_text(render_index(diagnoses, snapshots, missing, generated_at=NOW)))
    assert not problems, "\n".join(problems)


def test_every_decision_reads_right(hosts):
    problems = []
    # next_step's decisions: run a real step; wait, close and none take no step.
    for action, steps in (("run", [s for s in PLAN_STEPS if s != "none"] + ["restart"]), ("wait", ["none"]),
                          ("close", ["none"]), ("none", ["none"])):
        for step in steps:
            for case in (None, "unaccounted_kernel:kernel:unaccounted"):
                decision = elimination._decision(case, step, "Observing %s since 2024-05-01T08:00:00Z." % step, action)
                decision["target"] = "6.18.44-fc-v1045" if step == "patch_os" else None
                for check_mode in (False, True):
                    problems += _problems("decision %s/%s" % (action, step),
                                          text.decision_line(decision, "vm-a", check_mode))
    for snap, diag, dummy in hosts:
        decision = elimination.next_step(diag, [], samples=snap.get("samples"), now=NOW,
                                         options={"host": diag["host"]})
        line = text.decision_line(decision, diag["host"])
        problems += _problems("next_step of %s" % diag["host"], line)
    assert not problems, "\n".join(problems)


def test_the_four_texts_found_in_real_output_read_right():
    assert text.subject_text("kernel", "kernel pools") == "kernel pools"
    assert text.subject_text("slab_cache", "dentry") == "slab_cache dentry"
    nothing = elimination._decision(None, "none", "Nothing to remediate: no abnormal finding.")
    assert text.decision_line(nothing, "vm-a") == "vm-a: nothing to do: Nothing to remediate: no abnormal finding."
    wait = elimination._decision("unaccounted_kernel:kernel:unaccounted", "none", "Observing.", "wait")
    assert text.decision_line(wait, "vm-a") == "vm-a: wait [unaccounted_kernel:kernel:unaccounted]: Observing."
    step = {"step": "patch_os", "target": "6.18.44-fc-v1045"}
    assert text.step_text(step) == "patch_os (running kernel 6.18.44-fc-v1045, update to the vendor's latest)"
    assert json.dumps(text.step_text({"step": "escalate", "target": "OS vendor"})) == '"escalate (OS vendor)"'


def test_the_check_finds_doubled_words():
    assert _problems("x", "vm-a: none none: Nothing")
    assert _problems("x", "the commit charge not growing: not growing; 0 B/h")
    assert _problems("x", "kernel kernel pools")
    assert not _problems("x", "slab_cache dentry 1.0 GiB (12.5 % of RAM) | 1 1")

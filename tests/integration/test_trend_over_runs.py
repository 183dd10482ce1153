"""Growth proven across scheduled runs: the host keeps its own history between playbook runs.

A process that keeps allocating is sampled over a real SSH connection by several
runs of the diagnose playbook, each appending one sample to the host's history
file. The runs take a minute or two: with the default thresholds that is "rising,
not proven yet" and gives no time to exhaustion; with the minimum span and the ETA
horizon lowered (as an operator may for a test rig), the last run must report it as
leaking with a positive rate and a time to exhaustion. A process that holds the
same amount all along must not be.
"""

import pytest

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.linux import diagnose

from integration_harness import MIB, Background, Host, anon_memory_script, load_report

pytestmark = pytest.mark.integration

RUNS = 6  # six strictly rising samples are the fewest that reach p < 0.01
STEP_BYTES = 1 * MIB       # every 0.2 s: 5 MiB/s, far above noise and the growth floor, below the cap for 5 min
CAP_BYTES = 1536 * MIB     # stops growing there, whatever happens to the test
STEADY_BYTES = 300 * MIB
START_BYTES = 200 * MIB    # the leaker starts above the lowered process threshold, however fast the runs are


def growing_script():
    return ("import threading, time\n"
            "held = [bytearray(b'\\x5a') * %d]\n"
            "def grow():\n"
            "    while len(held) * %d < %d:\n"
            "        held.append(bytearray(b'\\x5a') * %d)\n"
            "        time.sleep(0.2)\n"
            "threading.Thread(target=grow, daemon=True).start()\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n" % (START_BYTES, STEP_BYTES, CAP_BYTES, STEP_BYTES))


@pytest.fixture
def processes():
    steady = Background(anon_memory_script(STEADY_BYTES), "memleak-steady")
    leaker = Background(growing_script(), "memleak-leaker")
    try:
        yield leaker, steady
    finally:
        leaker.stop()
        steady.stop()


def _finding(diag, name, pid):
    subject = "%s (pid %d)" % (name, pid)
    found = [f for f in diag["findings"] if f["subject"]["name"] == subject]
    return found[0] if found else None


def test_leaking_process_gets_rate_and_eta_stable_one_does_not(ansible, report_dir, tmp_path, processes):
    leaker, steady = processes
    inventory = ansible.inventory([Host("trend", "root", "ssh")])
    history = str(tmp_path / "history" / "history.jsonl")
    # The steady process is made a finding (threshold below its size) so that its trend is judged too.
    extra = {"memleak_report_dir": report_dir, "memleak_history_path": history, "memleak_top": 60,
             "memleak_thresholds": {"process_share": 0.001, "process_min_bytes": STEADY_BYTES // 2,
                                    "unaccounted_share": 1.0, "trend_min_span_hours": 0,
                                    "trend_min_growth_share": 0.0001, "trend_eta_span_factor": 100000}}
    for run_number in range(RUNS):
        run = ansible.playbook(inventory, extra_vars=extra)
        assert run.rc == 0, run.explain()

    with open(history) as handle:
        assert len(handle.read().splitlines()) == RUNS, "one history line per run"
    report = load_report(report_dir, "trend")
    assert len(report["memleak_snapshot"]["samples"]) == RUNS
    diag = report["memleak_diagnosis"]

    leak = _finding(diag, "memleak-leaker", leaker.pid)
    assert leak is not None, [f["subject"] for f in diag["findings"]]
    assert leak["id"] == "process_leak" and leak["severity"] in ("warning", "critical")
    assert leak["growth"]["samples"] == RUNS and leak["growth"]["bytes_per_hour"] > 0
    assert leak["exhaustion_eta_hours"] is not None and leak["exhaustion_eta_hours"] > 0, leak["evidence"]
    assert any("memory runs out in about" in line for line in leak["evidence"])

    calm = _finding(diag, "memleak-steady", steady.pid)
    assert calm is not None, "the steady process is above the lowered threshold"
    assert calm["exhaustion_eta_hours"] is None and calm["severity"] == "info"
    assert "stable over the window: a large working set, not a leak" in calm["evidence"]
    assert diag["verdict"]["id"] == "process_leak" and diag["culprit"]["name"] == "memleak-leaker"
    assert leak["confidence"] == "proven" and leak["growth"]["proven"] is True

    # The same samples with the default discipline: minutes of runs prove nothing yet.
    default = diagnose(report["memleak_snapshot"], options={"process_share": 0.001,
                                                            "process_min_bytes": STEADY_BYTES // 2,
                                                            "unaccounted_share": 1.0})
    leak = _finding(default, "memleak-leaker", leaker.pid)
    assert leak["exhaustion_eta_hours"] is None and leak["confidence"] != "proven"
    # Rising but unproven, or a rise too small for the default floor: either way no claim of a leak.
    assert any(line.startswith("rising, not proven yet (%d samples over " % RUNS) or "growth too small" in line
               for line in leak["evidence"]), leak["evidence"]
    assert default["verdict"]["severity"] != "critical"


def test_check_mode_does_not_touch_the_history(ansible, report_dir, tmp_path):
    inventory = ansible.inventory([Host("trend", "root", "ssh")])
    history = tmp_path / "history.jsonl"
    extra = {"memleak_report_dir": report_dir, "memleak_history_path": str(history)}
    assert ansible.playbook(inventory, extra_vars=extra).rc == 0
    before = history.read_bytes()
    run = ansible.playbook(inventory, extra_vars=extra, args=["--check"])
    assert run.rc == 0, run.explain()
    assert history.read_bytes() == before
    assert len(load_report(report_dir, "trend")["memleak_snapshot"]["samples"]) == 2

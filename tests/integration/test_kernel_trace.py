"""`meminfo_facts` with `trace_seconds` over a real sshd: a kernel allocation grown on purpose during the
trace must come out on top, named by its call site.

The helper holds 4000 pipes with 64 KiB written into each: 4000 x 16 pages = 250 MiB that the kernel
allocates in the pipe write path (anon_pipe_write, pipe_write before Linux 6.14) and keeps until the
pipes close. Nothing else on a test machine holds that much new kernel memory in half a minute, so the
site dominates without a race: the helper waits until bpftrace runs, then a margin for it to attach.
"""

import json
import os
import shutil

import pytest

from integration_harness import Background, Host, recap

pytestmark = pytest.mark.integration

PIPES = 4000
PIPE_BYTES = 65536
GROWN = PIPES * PIPE_BYTES
TRACE_SECONDS = 30

HOLD_PIPES = r"""
import os, resource, sys, time
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
print("ready", flush=True)
def bpftrace_attached():
    # bpftrace attaches each kmem tracepoint as a perf event: six of them mean the trace is on.
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/comm" % pid) as handle:
                if handle.read().strip() != "bpftrace":
                    continue
            fds = os.listdir("/proc/%s/fd" % pid)
            events = sum(1 for fd in fds if "perf_event" in os.readlink("/proc/%s/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if events >= 6:
            return True
    return False
deadline = time.time() + 120
while not bpftrace_attached() and time.time() < deadline:
    time.sleep(0.2)
time.sleep(2)
pipes = []
chunk = b"x" * PIPE_BYTES
for _ in range(PIPES):
    r, w = os.pipe()
    os.set_blocking(w, False)
    os.write(w, chunk)
    pipes.append((r, w))
sys.stdin.read()
""".replace("PIPE_BYTES", str(PIPE_BYTES)).replace("PIPES", str(PIPES))

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Gather with a kernel allocation trace
      memleak.remediation.meminfo_facts:
        trace_seconds: %(seconds)d
        history: false
        top: 10
    - name: Keep the snapshot
      ansible.builtin.copy:
        content: "{{ ansible_facts.memleak_snapshot | to_json }}"
        dest: "%(out)s"
      check_mode: false
"""


def _requirements():
    if os.geteuid() != 0:
        pytest.fail("the trace needs root: run the integration tests as root", pytrace=False)
    if not shutil.which("bpftrace"):
        pytest.fail("bpftrace is not installed: apt-get install -y bpftrace (.ci/system-packages.sh installs it)",
                    pytrace=False)


def _run(ansible, tmp_path, args=()):
    out = str(tmp_path / "snapshot.json")
    playbook = tmp_path / "trace.yml"
    playbook.write_text(PLAYBOOK % {"seconds": TRACE_SECONDS, "out": out})
    inventory = ansible.inventory([Host("tracer", "root")])
    run = ansible.playbook(inventory, playbook=str(playbook), args=args)
    assert run.rc == 0 and recap(run.output)["tracer"]["failed"] == 0, run.explain()
    with open(out) as handle:
        return json.load(handle), run


def test_trace_names_the_call_site_of_memory_grown_during_the_trace(ansible, tmp_path):
    _requirements()
    helper = Background(HOLD_PIPES, "memleak-pipes")
    try:
        snap, run = _run(ansible, tmp_path)
    finally:
        helper.stop()
    assert not [w for w in snap["warnings"] if w.startswith("trace: not run") or "bpftrace failed" in w], \
        snap["warnings"]
    trace = snap["linux"]["kernel_sources"]["trace"]
    assert trace is not None, run.explain()
    assert snap["captured"]["kernel_trace"] == "live"
    assert trace["seconds"] == TRACE_SECONDS and trace["events"] > 0
    top, second = trace["sites"][0], trace["sites"][1]
    report = "trace: %s; sites: %s" % (
        {k: trace[k] for k in ("events", "cpu_seconds", "total", "slab_pages_bytes")},
        [(s["site"], s["bytes"]) for s in trace["sites"][:5]])
    print(report)
    assert top["site"] in ("anon_pipe_write", "pipe_write"), report
    assert top["kind"] == "pages" and top["module"] is None, report
    # All of it; other processes' pipes (ansible's own) may add a little on top, never a lot.
    assert 0.9 * GROWN <= top["bytes"] <= GROWN + 16 * 1024 * 1024, report
    assert top["bytes"] >= 2 * second["bytes"], report


def test_check_mode_does_not_trace(ansible, tmp_path):
    _requirements()
    snap, run = _run(ansible, tmp_path, args=["--check"])
    assert snap["linux"]["kernel_sources"]["trace"] is None
    assert "trace: trace_seconds skipped in check mode (set trace_in_check_mode to trace anyway)" in snap["warnings"]
    assert run.elapsed < TRACE_SECONDS + 60

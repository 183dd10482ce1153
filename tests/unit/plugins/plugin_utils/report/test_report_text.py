"""The one-line verdict and the fleet summary an administrator reads first."""

from ansible_collections.memleak.remediation.plugins.plugin_utils.report import text as report_text


def _diag(host, vid, severity, nbytes=None, share=None, culprit=None, plan=None):
    return {
        "schema": 1, "host": host,
        "verdict": {"id": vid, "severity": severity, "summary": "%s on %s" % (vid, host)},
        "culprit": culprit or {"kind": "none", "name": "", "owner": None, "version": None},
        "ledger": [],
        "findings": [] if nbytes is None else [{"id": vid, "severity": severity, "bytes": nbytes, "share": share,
                                                "subject": {"kind": (culprit or {}).get("kind"),
                                                            "name": (culprit or {}).get("name")}}],
        "plan": plan or [{"step": "none", "reason": "nothing to do", "target": None}],
    }


def test_human_bytes_uses_binary_units():
    assert report_text.human_bytes(0) == "0 B"
    assert report_text.human_bytes(1536) == "1.5 KiB"
    assert report_text.human_bytes(5316880 * 1024) == "5.1 GiB"
    assert report_text.human_bytes(None) == "n/a"


def test_verdict_line_names_verdict_culprit_biggest_number_and_next_step():
    diag = _diag("db01", "unaccounted_kernel", "warning", 5316880 * 1024, 0.665,
                 culprit={"kind": "kernel", "name": "unaccounted", "owner": None, "version": None},
                 plan=[{"step": "patch_os", "reason": "r", "target": "6.18.44-fc-v1045"}])
    line = report_text.verdict_line(diag)
    assert line == ("db01: unaccounted_kernel [warning] | kernel unaccounted | kernel unaccounted 5.1 GiB (66.5 % of RAM)"
                    " | next: patch_os (running kernel 6.18.44-fc-v1045, update to the vendor's latest)")


def test_biggest_consumer_is_named_even_when_it_is_not_the_culprit():
    diag = _diag("db01", "slab_growth", "warning", 1 << 30, 0.125,
                 culprit={"kind": "slab_cache", "name": "dentry", "owner": None, "version": None})
    diag["findings"].append({"id": "page_cache", "severity": "info", "bytes": 3 << 30, "share": 0.375,
                             "subject": {"kind": "kernel", "name": "page cache"}})
    line = report_text.verdict_line(diag)
    assert "| slab_cache dentry | kernel page cache 3.0 GiB (37.5 % of RAM) |" in line, line


def test_a_diagnosis_without_root_says_it_is_partial_and_how_to_complete_it():
    diag = _diag("web", "healthy", "ok")
    snapshot = {"host": "web", "warnings": ["slabinfo: permission denied (needs root)",
                                            "processes: smaps_rollup not readable for 3 of 9 processes (not root): ranked by RSS",
                                            "virt: vmware-toolbox-cmd not found"]}
    line = report_text.verdict_line(diag, snapshot=snapshot)
    assert line.endswith("| partial diagnosis (slabinfo, processes unreadable without root): run with --become"), line
    assert "partial" not in report_text.verdict_line(diag, snapshot={"host": "web", "warnings": []})
    summary = report_text.fleet_summary([diag], snapshots=[snapshot])
    assert "Partial diagnosis (slabinfo, processes unreadable without root): run with --become." in summary, summary


def test_fleet_summary_sorts_by_severity_and_lists_hosts_not_diagnosed():
    text = report_text.fleet_summary(
        [_diag("a-ok", "healthy", "ok"), _diag("z-bad", "process_leak", "warning", 2 << 30, 0.25)],
        missing={"gone": "unreachable"}, report_dir="/r")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["z-bad", "a-ok", "gone"]
    assert "not diagnosed" in rows[2] and "unreachable" in rows[2]
    assert "2 host(s) diagnosed (healthy 1, process_leak 1); 1 not diagnosed." in text
    assert "`/r/<host>.json`" in text


def test_fleet_summary_escapes_pipes_in_cells():
    diag = _diag("h", "healthy", "ok")
    diag["verdict"]["summary"] = "a | b"
    assert "a \\| b" in report_text.fleet_summary([diag])


def test_healthy_host_shows_its_largest_ledger_category():
    diag = _diag("h", "healthy", "ok")
    diag["ledger"] = [{"category": "free", "bytes": 6 << 30}, {"category": "page_cache", "bytes": 1 << 30},
                      {"category": "anon", "bytes": 1 << 29}, {"category": "unaccounted", "bytes": 1 << 29}]
    assert report_text.verdict_line(diag) == "h: healthy [ok] | no culprit | page_cache 1.0 GiB (12.5 % of RAM) | next: none"


def _unknown_balloon(host="vm01"):
    diag = _diag(host, "unaccounted_kernel", "warning", 5316880 * 1024, 0.665,
                 culprit={"kind": "kernel", "name": "unaccounted", "owner": None, "version": None},
                 plan=[{"step": "patch_os", "reason": "r", "target": "kernel"}])
    diag["verdict"]["confidence"] = "suspected"
    diag["verdict"]["missing"] = [{"what": "whether a balloon driver is loaded", "command": "lsmod"},
                                  {"what": "the balloon size", "command": "vmware-toolbox-cmd stat balloon"}]
    return diag


def test_verdict_line_shows_confidence_and_what_to_capture_next():
    assert report_text.verdict_line(_unknown_balloon()) == (
        "vm01: unaccounted_kernel [warning, suspected] | kernel unaccounted | kernel unaccounted 5.1 GiB (66.5 % of RAM)"
        " | next: patch_os (running kernel, update to the vendor's latest) | capture: lsmod; vmware-toolbox-cmd stat balloon")
    proven = _unknown_balloon()
    proven["verdict"].update(confidence="proven", missing=[])
    assert report_text.verdict_line(proven).endswith(
        "[warning, proven] | kernel unaccounted | kernel unaccounted 5.1 GiB (66.5 % of RAM)"
        " | next: patch_os (running kernel, update to the vendor's latest)")


def test_fleet_summary_has_confidence_and_capture_columns():
    text = report_text.fleet_summary([_unknown_balloon()])
    header = next(line for line in text.splitlines() if line.startswith("| host"))
    row = next(line for line in text.splitlines() if line.startswith("| vm01"))
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["confidence"] == "suspected"
    assert cells["capture next"] == "lsmod; vmware-toolbox-cmd stat balloon"

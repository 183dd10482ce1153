"""The fleet page: what an administrator sees first must be right, complete and self-contained."""

import re

import pytest

from ansible_collections.memleak.remediation.plugins.plugin_utils.report import html as report_html

import fleet_fixture

MIB = 1024 * 1024
GIB = 1024 * MIB


@pytest.fixture(scope="module")
def fleet():
    return fleet_fixture.fleet(len(fleet_fixture.RECIPES))


def _page(hosts, missing=None):
    return report_html.render_index([d for _s, d, _v in hosts], [s for s, _d, _v in hosts], missing=missing,
                                    generated_at="2024-05-02T08:00:00Z")


def _rows(page):
    return re.findall(r'<tr data-verdict="([^"]+)"[^>]*><td>(?:<a href="#h\d+">)?([^<]+)', page)


def test_one_row_per_host_most_severe_first_and_missing_hosts_listed(fleet):
    page = _page(fleet, missing={"db9": "unreachable: no route to host"})
    rows = _rows(page)
    assert len(rows) == len(fleet) + 1
    assert sorted(host for _v, host in rows) == sorted([s["host"] for s, _d, _v in fleet] + ["db9"])
    severities = re.findall(r'<tr data-verdict="[^"]+"[^>]*><td>.*?<b class="s s-(\w+)">', page)
    ranks = [("critical", "warning", "info", "ok", "unknown").index(s) for s in severities]
    assert ranks == sorted(ranks), severities
    assert rows[-1] == ("not_diagnosed", "db9")
    assert "unreachable: no route to host" in page


def test_every_verdict_of_the_fleet_has_a_filter_button_with_its_count(fleet):
    page = _page(fleet)
    verdicts = [d["verdict"]["id"] for _s, d, _v in fleet]
    for verdict in set(verdicts):
        assert '<button type="button" data-f="%s">%s (%d)</button>' % (verdict, verdict, verdicts.count(verdict)) \
            in page
    assert 'data-f="problems"' in page and 'data-f="" class="on">all (%d)' % len(fleet) in page


def test_page_is_self_contained(fleet):
    page = _page(fleet)
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(?!data:|#)', page)
    assert "@import" not in page and "url(" not in page
    assert page.count("<script>") == 1
    assert re.findall(r'href="([^"]+)"', page) == ["data:,"] + ["#h%d" % i for i in range(1, len(fleet) + 1)]


def test_each_host_has_a_ledger_bar_and_growing_culprits_have_a_trend_with_limit(fleet):
    page = _page(fleet)
    sections = re.findall(r'<section class="host[^"]*" id="h\d+" data-verdict="([^"]+)">(.*?)</section>', page)
    assert len(sections) == len(fleet)
    for verdict, body in sections:
        assert 'class="ledger"' in body, verdict
    by_verdict = dict(sections)
    for verdict in ("process_leak", "slab_growth", "unaccounted_kernel", "pool_leak"):
        body = by_verdict[verdict]
        assert 'class="trend"' in body and '<polyline class="ln"' in body, verdict
        # The limit is drawn, or named at the top edge when it lies far above the data.
        assert re.search(r'<text class="lt"[^>]*>(nonpaged pool full|memory runs out)', body), verdict
        assert re.search(r"grows \+[\d.]+ [KMG]iB/h", body), verdict
        if verdict != "slab_growth":  # its exhaustion lies further than 4 x the span observed: no ETA is drawn
            assert re.search(r"grows \+[\d.]+ [KMG]iB/h; runs out in about [\d.]+ [hd]", body), verdict
    assert re.search(r'slab_growth <span class="conf">proven</span>', page)


def test_html_special_characters_are_escaped():
    diag = {"schema": 1, "host": "<script>alert(1)</script>",
            "verdict": {"id": "process_leak", "severity": "warning", "summary": 'a "quoted" & <b>bold</b> claim'},
            "culprit": {"kind": "process", "name": "evil<img src=x>", "owner": None, "version": None},
            "ledger": [{"category": "anon", "bytes": GIB}], "findings": [], "plan": []}
    page = report_html.render_index([diag])
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page and "<b>bold</b>" not in page
    assert "a &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt; claim" in page


def _points(values, boots, start=0.0):
    return [(start + i, "2024-05-01T%02d:00:00Z" % i, boot, value) for i, (value, boot) in enumerate(zip(values, boots))]


def test_a_reboot_breaks_the_line_and_is_marked():
    svg = report_html.trend_svg(_points([5, 6, 7, 2, 3, 4], ["a", "a", "a", "b", "b", "b"]), "proc:x[1]",
                                limit=10, limit_label="memory runs out")
    assert svg.count('<polyline class="ln"') == 2
    assert svg.count(">reboot</text>") == 1
    assert 'class="lim"' in svg and "memory runs out 10 B" in svg


def test_a_limit_far_above_the_data_is_named_not_drawn():
    svg = report_html.trend_svg(_points([100 * MIB, 110 * MIB, 120 * MIB], "aaa"), "proc:x[1]", limit=8 * GIB,
                                limit_label="memory runs out")
    assert 'class="lim"' not in svg
    assert "memory runs out 8.0 GiB: off scale" in svg


def test_projection_to_the_limit_when_the_eta_is_within_the_window():
    svg = report_html.trend_svg(_points([1000, 1100, 1200, 1300], "aaaa"), "x", limit=1600, eta_hours=3.0)
    assert '<line class="pj"' in svg and "limit in 3.0 h" in svg
    far = report_html.trend_svg(_points([1000, 1100, 1200, 1300], "aaaa"), "x", limit=1600, eta_hours=300.0)
    assert '<line class="pj"' not in far


def test_one_sample_gives_no_chart_and_says_so():
    assert report_html.trend_svg(_points([5], "a"), "x") == ""
    snap = {"host": "h", "samples": [{"v": 1, "t": "2024-05-01T00:00:00Z", "boot": "a", "s": {"mem.used": 5}}],
            "memory": {"total": 10, "available": 5}}
    diag = {"host": "h", "verdict": {"id": "healthy", "severity": "ok", "summary": "fine"},
            "culprit": {"kind": "none"}, "ledger": [], "findings": [], "plan": []}
    assert "one sample so far, no trend yet" in report_html.render_index([diag], [snap])


def test_long_histories_are_thinned_but_keep_both_sides_of_a_reboot():
    values = list(range(1000))
    boots = ["a"] * 500 + ["b"] * 500
    kept = report_html._thin(_points(values, boots))
    assert len(kept) <= report_html.MAX_POINTS + 2
    assert kept[0][3] == 0 and kept[-1][3] == 999
    assert 499 in [p[3] for p in kept] and 500 in [p[3] for p in kept]


def test_samples_in_history_and_windows_in_run_form_are_read_alike():
    compact = {"samples": [{"v": 1, "t": "2024-05-01T01:00:00Z", "boot": "b", "s": {"tag.np:VFil": 2}},
                           {"v": 1, "t": "2024-05-01T00:00:00Z", "boot": "b", "s": {"tag.np:VFil": 1}}]}
    in_run = {"samples": [{"collected_at": "2024-05-01T00:00:00Z", "boot_id": "b",
                           "pools": {"nonpaged_bytes": 10, "paged_bytes": 20},
                           "tags": {"VFil": {"nonpaged_bytes": 1, "paged_bytes": 0}}},
                          {"collected_at": "not a time", "boot_id": "b", "tags": {}}]}
    assert [p[3]["tag.np:VFil"] for p in report_html.sample_points(compact)] == [1, 2]
    points = report_html.sample_points(in_run)
    assert len(points) == 1 and points[0][3] == {"pool.nonpaged": 10, "pool.paged": 20, "tag.np:VFil": 1,
                                                 "tag.p:VFil": 0}


@pytest.mark.parametrize("verdict, subject, culprit, expected", [
    ("process_leak", {"kind": "process", "name": "java (pid 42)"}, {"kind": "process", "name": "java"}, "proc:java[42]"),
    ("slab_growth", {"kind": "slab_cache", "name": "dentry"}, {"kind": "slab_cache", "name": "dentry"}, "slab:dentry"),
    ("unaccounted_kernel", {"kind": "kernel", "name": "unaccounted"}, {"kind": "kernel", "name": "unaccounted"},
     "ledger.unaccounted"),
    ("balloon_inflation", {"kind": "balloon", "name": "vmw_balloon"}, {"kind": "balloon"}, "balloon"),
    ("shmem_tmpfs", {"kind": "tmpfs", "name": "/dev/shm"}, {"kind": "tmpfs"}, "ledger.shmem"),
    ("pool_leak", {"kind": "pool_tag", "name": "VFil"}, {"kind": "pool_tag", "name": "VFil"}, "tag.np:VFil"),
    ("pool_pressure", {"kind": "kernel", "name": "nonpaged pool"}, {"kind": "kernel"}, "pool.nonpaged"),
    ("commit_exhaustion", {"kind": "process", "name": "java"}, {"kind": "process"}, "mem.commit_used"),
    ("healthy", None, {"kind": "none"}, "mem.used"),
])
def test_the_chart_shows_the_series_behind_the_verdict(verdict, subject, culprit, expected):
    names = ["proc:java[42]", "proc:java[7]", "slab:dentry", "ledger.unaccounted", "balloon", "ledger.shmem",
             "tag.np:VFil", "tag.p:VFil", "pool.nonpaged", "mem.commit_used", "mem.used"]
    values = dict((name, 5) for name in names)
    values["tag.p:VFil"] = 1
    points = [(0.0, "t", "b", values)]
    findings = [{"id": verdict, "bytes": 1, "subject": subject}] if subject else []
    diag = {"verdict": {"id": verdict}, "culprit": culprit, "findings": findings}
    assert report_html.culprit_series(diag, points) == expected


def test_series_limits_are_where_the_diagnosis_measures_exhaustion():
    linux = {"memory": {"total": 100, "available": 30}}
    assert report_html.series_limit("proc:java[1]", linux, 50) == (80, "memory runs out (now + available)")
    windows = {"memory": {"commit_limit": 900}, "windows": {"pools": {"nonpaged": {"bytes": 60, "limit": 100}}}}
    assert report_html.series_limit("tag.np:VFil", windows, 40) == (80, "nonpaged pool full")
    assert report_html.series_limit("pool.nonpaged", windows, 60) == (100, "nonpaged pool limit")
    assert report_html.series_limit("mem.commit_used", windows, 1) == (900, "commit limit")


def test_500_hosts_stay_under_2_mib():
    hosts = fleet_fixture.fleet(500)
    page = _page(hosts)
    assert len(_rows(page)) == 500
    assert len(page.encode("utf-8")) < 2 * 1024 * 1024, len(page)


def test_the_y_axis_starts_at_zero_so_one_percent_looks_like_one_percent():
    svg = report_html.trend_svg(_points([1000 * MIB, 1005 * MIB, 1010 * MIB], "aaa"), "proc:x[1]")
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert labels[0] == "0 B", labels
    heights = [float(y) for y in re.findall(r",([0-9.]+)", re.search(r'points="([^"]+)"', svg).group(1))]
    # A 1 % rise moves the line by about 1 % of the chart's height (154 px), not from bottom to top.
    assert max(heights) - min(heights) < 3.0, heights


def test_number_columns_have_right_aligned_headers_and_the_biggest_consumer_is_named(fleet):
    page = report_html.render_index([d for _s, d, _v in fleet], [s for s, _d, _v in fleet])
    assert '<th class="r">biggest consumer</th><th class="n">growth</th><th class="n">runs out in</th>' in page
    assert "th.n,th.r{text-align:right}" in page.replace("td.n,td.r,", "")


def test_a_host_section_lists_the_captures_to_take_next():
    diag = {"schema": 1, "host": "vm01",
            "verdict": {"id": "unaccounted_kernel", "severity": "warning", "summary": "s", "confidence": "suspected",
                        "missing": [{"what": "whether a balloon driver is loaded", "command": "lsmod"}]},
            "culprit": {"kind": "kernel", "name": "unaccounted", "owner": None, "version": None},
            "ledger": [], "findings": [{"id": "unaccounted_kernel", "severity": "warning", "bytes": 1, "share": 0.5,
                                        "confidence": "suspected", "missing": []}], "plan": []}
    page = report_html.render_index([diag])
    assert 'unaccounted_kernel <span class="conf">suspected</span>' in page
    assert "<b>Capture next</b><ul><li><code>lsmod</code>: whether a balloon driver is loaded</li></ul>" in page

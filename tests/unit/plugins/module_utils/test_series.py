"""Compact samples keep the numbers the trend needs, under stable series names."""

from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend
from ansible_collections.memleak.remediation.plugins.module_utils.schema import new_snapshot


def linux_snapshot():
    snap = new_snapshot("h", "2026-11-23T00:00:00Z")
    snap["boot_id"] = "b1"
    snap["memory"].update(available=100, free=50, used=900, commit_used=None)
    snap["virt"]["balloon"] = {"driver": "vmw_balloon", "loaded": True, "bytes": 4096, "target_bytes": None}
    snap["linux"]["slab"] = [{"name": "dentry", "bytes": 300}, {"name": "kmalloc-64", "bytes": 200}]
    snap["linux"]["processes"] = [{"pid": 7, "name": "java", "rss": 90, "pss": 80},
                                  {"pid": 9, "name": "sshd", "rss": 10, "pss": None}]
    snap["linux"]["tmpfs"] = [{"mount": "/dev/shm", "used": 12, "size": 100}]
    return snap


def test_linux_sample_has_totals_ledger_and_top_tables():
    sample = series.compact_sample(linux_snapshot(), [{"category": "unaccounted", "bytes": 77}], top=1)
    assert sample["t"] == "2026-11-23T00:00:00Z" and sample["boot"] == "b1"
    assert sample["s"] == {"mem.available": 100, "mem.free": 50, "mem.used": 900, "ledger.unaccounted": 77,
                           "balloon": 4096, "slab:dentry": 300, "proc:java[7]": 80, "tmpfs:/dev/shm": 12}


def test_process_without_pss_falls_back_to_rss():
    sample = series.compact_sample(linux_snapshot())
    assert sample["s"]["proc:sshd[9]"] == 10


def test_windows_tags_keep_bytes_and_wrapping_outstanding_allocations():
    snap = new_snapshot("w", "2026-11-23T00:00:00Z", family="windows")
    snap["windows"]["pools"] = {"nonpaged": {"bytes": 1000, "limit": 5000}, "paged": {"bytes": 2000}}
    snap["windows"]["tags"] = [{"tag": "VFil", "paged_allocs": 5, "paged_frees": 5, "paged_bytes": 0,
                                "nonpaged_allocs": 3, "nonpaged_frees": 4294967295, "nonpaged_bytes": 640}]
    values = series.compact_sample(snap)["s"]
    assert values["pool.nonpaged"] == 1000 and values["tag.np:VFil"] == 640
    assert values["tag.np_out:VFil"] == 4 and values["tag.p_out:VFil"] == 0


def test_series_table_reads_each_series_by_time_and_keys_agree():
    samples = [series.compact_sample(linux_snapshot()) for dummy in range(3)]
    for hour, sample in zip((2, 0, 1), samples):
        sample["t"] = "2026-11-23T%02d:00:00Z" % hour
    table = series.SeriesTable(samples, trend.to_hours)
    points = table.points(series.key("process", "java", 7))
    assert [p[0] for p in points] == sorted(p[0] for p in points)  # oldest first, whatever the file order
    assert [p[1:] for p in points] == [(80, "b1")] * 3
    assert series.key("kernel", "unaccounted") == "ledger.unaccounted"
    assert "proc:java[7]" in table.names and table.names == sorted(table.names)


def test_series_table_leaves_out_what_cannot_be_placed_in_a_trend():
    samples = [
        {"v": 1, "t": "2026-11-23T00:00:00Z", "boot": "old", "s": {"mem.used": 1}},
        {"v": 1, "t": "not a time", "boot": "b1", "s": {"mem.used": 2}},
        {"v": 1, "t": "2026-11-23T02:00:00Z", "boot": "b1", "s": {"mem.used": "3", "mem.free": True}},
        {"v": 1, "t": "2026-11-23T03:00:00Z", "boot": "b1", "s": {"mem.used": 4.5}},
        "not a sample",
        {"v": 1, "t": "2026-11-23T04:00:00Z", "boot": "b1", "s": None},
    ]
    every_boot = series.SeriesTable(samples, trend.to_hours)
    assert [p[1] for p in every_boot.points("mem.used")] == [1, 4.5]
    assert every_boot.points("mem.free") == [] and every_boot.points("no.such") == []
    this_boot = series.SeriesTable(samples, trend.to_hours, boot="b1")
    assert [p[1:] for p in this_boot.points("mem.used")] == [(4.5, "b1")]

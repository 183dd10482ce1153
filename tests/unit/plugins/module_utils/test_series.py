"""Compact samples keep the numbers the trend needs, under stable series names."""

from ansible_collections.memleak.remediation.plugins.module_utils import series
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


def test_series_from_samples_and_keys_agree():
    samples = [series.compact_sample(linux_snapshot()) for dummy in range(3)]
    out = series.series_from_samples(samples)
    assert out[series.key("process", "java", 7)] == [("2026-11-23T00:00:00Z", 80, "b1")] * 3
    assert series.key("kernel", "unaccounted") == "ledger.unaccounted"

"""Windows capture parsers on real output: poolmon, WinDbg !vm / !poolused / !memusage, counter CSV.

The expected numbers are the ones printed in the cited sources (tests/fixtures/captures/README.md);
seed 001's crash dump figures are the ones the seed discusses. The property tests at the end feed
random and mutated text to every parser: ParseError is the only exception allowed out.
"""

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import windows_parsers as wp
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SAMPLES = os.path.join(ROOT, "fixtures", "captures", "samples")
KIB = 1024


def read(rel):
    with open(os.path.join(SAMPLES, rel), encoding="utf-8", newline="") as handle:
        return handle.read()


def only_frame(text, source="x"):
    frames = wp.parse_poolmon(text, source)["frames"]
    assert len(frames) == 1
    return frames[0]


def tag(frame, name):
    return next(t for t in frame["tags"] if t["tag"] == name)


# ------------------------------------------------------------------ poolmon

def test_poolmon_snapshot_file_n():
    frame = only_frame(read("poolmon/snapshot-n-intel-mfd.log"))
    header = frame["header"]
    # "Memory:16468560K Avail:12072536K ... Pool N:710920K P:983564K": N is the nonpaged pool.
    assert header["memory"] == 16468560 * KIB
    assert header["available"] == 12072536 * KIB
    assert header["commit"] == 4100436 * KIB and header["commit_limit"] == 17517136 * KIB
    assert header["pool_nonpaged"] == 710920 * KIB and header["pool_paged"] == 983564 * KIB
    assert len(frame["tags"]) == 13 and not frame["mapped_driver"] and frame["ignored"] == []
    etwb = tag(frame, "EtwB")
    assert (etwb["nonpaged_allocs"], etwb["nonpaged_frees"], etwb["nonpaged_bytes"]) == (6394, 4056, 163418368)
    assert etwb["paged_bytes"] == 0  # both pools are shown, EtwB has no Paged row
    mmst = tag(frame, "MmSt")
    assert (mmst["paged_allocs"], mmst["paged_frees"], mmst["paged_bytes"]) == (2269405, 2095404, 156097152)
    assert tag(frame, "CM25")["paged_frees"] == 0


def test_poolmon_screen_copy_with_change_columns():
    frame = only_frame(read("poolmon/screen-msdocs-display-sort-allocs.txt"))
    assert frame["scope"] == "system"
    assert [t["tag"] for t in frame["tags"]][:5] == ["Wait", "ObSt", "Gxlt", "Ustm", "Io  "]
    io = tag(frame, "Io  ")  # a tag of two letters is padded to its four bytes, like win_pool_facts reports it
    assert (io["nonpaged_allocs"], io["nonpaged_frees"], io["nonpaged_bytes"]) == (1021112, 1020985, 91912)
    key = tag(frame, "Key ")
    assert key["paged_bytes"] == 87528


def test_poolmon_screen_copy_with_collapsed_whitespace_reads_the_same():
    fixed = only_frame(read("poolmon/screen-msdocs-display-sort-allocs.txt"))
    collapsed = only_frame(read("poolmon/screen-learn-rendered-collapsed.txt"))
    assert collapsed["header"] == fixed["header"]
    assert collapsed["tags"] == fixed["tags"][:len(collapsed["tags"])]
    assert len(collapsed["tags"]) == 5


@pytest.mark.parametrize("name, tag_name, expected", [
    ("screen-msdocs-ntfs-mapped-driver.txt", "NtFA", "[ntfs.sys - AttrSup.c]"),
    ("screen-msdocs-mem-unknown-driver.txt", "1MEM", "Unknown Driver"),
    ("screen-msdocs-ipsec-mapped-driver.txt", "IpSI", "[ipsec][ipsec.sys - initial allcoations]"),
    ("screen-msdocs-session0-mapped-driver.txt", "Dh 1", "Unknown Driver"),
])
def test_poolmon_mapped_driver_column(name, tag_name, expected):
    frame = only_frame(read("poolmon/" + name))
    assert frame["mapped_driver"]
    assert tag(frame, tag_name)["description"] == expected


def test_poolmon_mapped_driver_does_not_shift_numbers():
    frame = only_frame(read("poolmon/screen-msdocs-ipsec-mapped-driver.txt"))
    ipsi = tag(frame, "IpSI")
    assert (ipsi["nonpaged_allocs"], ipsi["nonpaged_frees"], ipsi["nonpaged_bytes"]) == (1027, 0, 53272)
    assert ipsi["paged_bytes"] is None  # /p display: the paged pool is not shown, so it is unknown


def test_poolmon_session_pools_and_tags_with_a_space():
    frame = only_frame(read("poolmon/screen-msdocs-session0-mapped-driver.txt"))
    assert frame["scope"] == "session 0"
    assert tag(frame, "Dh 1")["paged_allocs"] == 37 and tag(frame, "Dh 2")["paged_bytes"] == 912
    assert frame["pools_shown"] == ["paged"]
    all_sessions = only_frame(read("poolmon/screen-msdocs-all-sessions.txt"))
    assert all_sessions["scope"] == "all_sessions" and len(all_sessions["tags"]) == 16
    assert all_sessions["ignored"] == []  # the "..." line is not a row and not worth a note


def test_poolmon_header_only_frame():
    frame = only_frame(read("poolmon/screen-msdocs-empty-sessions.txt"))
    assert frame["tags"] == [] and frame["header"]["pool_paged"] == 20648 * KIB


def test_poolmon_change_columns_are_not_counts():
    before = only_frame(read("poolmon/screen-msdocs-drsd-before.txt"))
    after = only_frame(read("poolmon/screen-msdocs-drsd-after.txt"))
    # "Drsd Paged 560 ( 177) 539 ( 171) 21 17472 ( 4992) 832": the numbers in brackets are changes.
    assert (tag(before, "Drsd")["paged_allocs"], tag(before, "Drsd")["paged_bytes"]) == (560, 17472)
    assert (tag(after, "Drsd")["paged_allocs"], tag(after, "Drsd")["paged_bytes"]) == (737, 22464)

    # The documentation's reading: six blocks (4992 bytes) leaked during printing.
    def outstanding(entry):
        return entry["paged_allocs"] - entry["paged_frees"]

    assert outstanding(tag(after, "Drsd")) - outstanding(tag(before, "Drsd")) == 6
    assert tag(after, "Drsd")["paged_bytes"] - tag(before, "Drsd")["paged_bytes"] == 4992


def test_poolmon_several_screens_in_one_file_are_frames():
    text = read("poolmon/screen-msdocs-drsd-before.txt") + "\n" + read("poolmon/screen-msdocs-drsd-after.txt")
    frames = wp.parse_poolmon(text, "both.txt")["frames"]
    assert [tag(f, "Drsd")["paged_allocs"] for f in frames] == [560, 737]


def test_poolmon_row_cut_short_names_file_and_line():
    lines = read("poolmon/snapshot-n-intel-mfd.log").splitlines()
    lines[8] = lines[8][:30]
    with pytest.raises(ParseError) as err:
        wp.parse_poolmon("\n".join(lines), "poolsnap.log")
    assert err.value.line == 9 and str(err.value).startswith("poolsnap.log line 9: ")
    assert "NtfF" in str(err.value)


def test_poolmon_rejects_other_text():
    with pytest.raises(ParseError, match="no poolmon header"):
        wp.parse_poolmon("Hello\nworld\n", "notes.txt")


# ------------------------------------------------------------------ !vm

def test_vm_seed001_xp_form_broken_across_lines():
    vm = wp.parse_vm(read("windbg/vm-seed001-xp-excessive-nonpaged.txt"), "seed001")
    # The numbers seed 001 discusses: NonPagedPool Usage 31369 (125476 Kb) of Max 31986 (127944 Kb).
    assert vm["physical"] == 3405680 * KIB
    assert vm["available"] == 2293108 * KIB
    assert vm["nonpaged"] == 125476 * KIB and vm["nonpaged_limit"] == 127944 * KIB
    assert vm["paged"] == 88076 * KIB and vm["paged_limit"] == 155648 * KIB
    assert vm["excessive"] == ["nonpaged"] and vm["failed_allocations"] == 3
    assert vm["values"]["nonpagedpoolusage"] == {"pages": 31369, "kb": 125476}
    # "PagedPool\n1 Usage: 735 ( 2940Kb)": the label is split over two lines; the five add up to the total.
    parts = [vm["values"]["pagedpool_%d" % n]["kb"] for n in range(5)]
    assert parts == [76284, 2940, 2988, 2880, 2984] and sum(parts) == 88076
    assert vm["commit_used"] is None and vm["underflowed"] == []


def test_vm_flags1_documented_form():
    vm = wp.parse_vm(read("windbg/vm-msdocs-flags1.txt"), "vm1")
    assert vm["physical"] == 65080 * KIB and vm["available"] == 22172 * KIB
    assert vm["nonpaged"] == 3508 * KIB and vm["nonpaged_limit"] == 25008 * KIB
    assert vm["commit_used"] == 87796 * KIB and vm["commit_limit"] == 145024 * KIB
    assert vm["excessive"] == [] and vm["failed_allocations"] is None


def test_vm_commit_near_limit():
    vm = wp.parse_vm(read("windbg/vm-msdocs-stack-overflow-commit.txt"), "vm")
    assert (vm["commit_used"], vm["commit_limit"]) == (183528 * KIB, 202280 * KIB)


def test_vm_windows10_layout():
    vm = wp.parse_vm(read("windbg/vm-msdocs-win10-partial.txt"), "vm")
    assert vm["physical"] == 6164744 * KIB and vm["available"] == 1882200 * KIB
    assert vm["values"]["kernelstacks"] == {"pages": 13686, "kb": 54744}
    assert vm["nonpaged"] is None  # the excerpt stops before the pools: unknown, not zero


def test_vm_underflowed_20_digit_values_are_unknown():
    text = read("windbg/vm-msdocs-win10-partial.txt").replace(
        "1279680 (    5118720 Kb)", "18446744073709551615 (18446744073709551612 Kb)")
    vm = wp.parse_vm(text, "vm")
    assert vm["values"]["resavailpages"] == {"pages": None, "kb": None}
    assert vm["underflowed"] == ["resavailpages"]
    assert vm["physical"] == 6164744 * KIB


def test_vm_rejects_other_text():
    with pytest.raises(ParseError, match="no '!vm' figures"):
        wp.parse_vm(read("windbg/poolused-msdocs-sort-tag.txt"), "poolused.txt")


# ------------------------------------------------------------------ !memusage

def test_memusage_seed001_broken_lines():
    lists = wp.parse_memusage(read("windbg/memusage-seed001.txt"), "seed001")
    assert lists["zeroed"] == 76292 * KIB and lists["standby"] == 5875296 * KIB
    assert lists["activevalid"] == 2423088 * KIB  # "Active\n/Valid:" in the seed
    assert lists["total"] == 8383856 * KIB
    assert lists["available"] == (76292 + 0 + 5875296) * KIB


def test_memusage_current_documentation():
    lists = wp.parse_memusage(read("windbg/memusage-msdocs.txt"), "mu")
    assert lists["total"] == 2014576 * KIB and lists["slisttemp"] == 6132 * KIB
    assert lists["available"] == (872 + 3324 + 496196) * KIB


def test_memusage_rejects_other_text():
    with pytest.raises(ParseError, match="no '!memusage' page lists"):
        wp.parse_memusage(read("windbg/vm-msdocs-flags1.txt"), "vm.txt")


# ------------------------------------------------------------------ !poolused

def test_poolused_sorted_by_tag_with_glued_descriptions_and_total():
    used = wp.parse_poolused(read("windbg/poolused-msdocs-sort-tag.txt"), "pu")
    assert used["sort"] == "Tag" and used["order"] == ["nonpaged", "paged"]
    by_tag = dict((t["tag"], t) for t in used["tags"])
    assert by_tag["1394"]["description"] == "UNKNOWN pooltag '1394', please update pooltag.txt"
    assert (by_tag["1394"]["nonpaged_allocs"], by_tag["1394"]["nonpaged_bytes"]) == (1, 520)
    # "ohci 1 136 0 01394 OHCI host controller driver": the description starts with digits.
    ohci = by_tag["ohci"]
    assert (ohci["paged_allocs"], ohci["paged_bytes"]) == (0, 0)
    assert ohci["description"] == "1394 OHCI host controller driver"
    assert (by_tag["AGP "]["paged_allocs"], by_tag["AGP "]["paged_bytes"]) == (2, 384)
    assert by_tag["hibr"]["paged_bytes"] == 24576 and by_tag["AcdN"]["description"] == "TDI AcdObjectInfoG"
    assert used["total"]["nonpaged_allocs"] == 3570214 and used["total"]["nonpaged_bytes"] == 209120008
    assert used["total"]["paged_allocs"] == 38769 and used["total"]["paged_bytes"] == 13066104


def test_poolused_sorted_by_paged():
    used = wp.parse_poolused(read("windbg/poolused-msdocs-sort-paged.txt"), "pu")
    assert used["sort"] == "Paged Pool Consumed" and used["total"] is None
    assert [t["tag"] for t in used["tags"]] == ["Abc ", "Tron", "IoN7", "Gla5", "Ggb "]
    assert used["tags"][0]["paged_bytes"] == 33930272 and used["tags"][3]["nonpaged_bytes"] == 128


def test_poolused_collapsed_whitespace_keeps_the_numbers():
    text = read("windbg/poolused-msdocs-sort-tag.txt")
    collapsed = "\n".join(re.sub(r" +", " ", line) for line in text.splitlines())
    fixed = dict((t["tag"].strip(), t) for t in wp.parse_poolused(text, "a")["tags"])
    loose = dict((t["tag"].strip(), t) for t in wp.parse_poolused(collapsed, "b")["tags"])
    for name in ("1394", "AcpD", "Wmip", "ohci", "usbp", "vPrt"):
        for key in ("nonpaged_allocs", "nonpaged_bytes", "paged_allocs", "paged_bytes"):
            assert loose[name][key] == fixed[name][key], (name, key)


def test_poolused_row_cut_short_names_line():
    text = read("windbg/poolused-msdocs-sort-paged.txt").replace("Tron        0        0       552  7863232",
                                                                 "Tron        0        0")
    with pytest.raises(ParseError) as err:
        wp.parse_poolused(text, "pu.txt")
    assert err.value.line == 8 and "Tron" in str(err.value)


@pytest.mark.parametrize("digit", ["\u00b2", "\u2460"])  # superscript two, circled one: digits to isdigit(), not to int()
def test_poolused_digit_like_characters_are_a_parse_error(digit):
    text = read("windbg/poolused-msdocs-sort-tag.txt").replace(" 1394        1      520", " 1394        1      52" + digit)
    with pytest.raises(ParseError) as err:
        wp.parse_poolused(text, "pu.txt")
    assert err.value.line == 7 and "1394" in str(err.value)


def test_poolused_needs_its_header():
    with pytest.raises(ParseError, match="column header"):
        wp.parse_poolused(read("windbg/vm-msdocs-flags1.txt"), "vm.txt")


# ------------------------------------------------------------------ counter CSV

def test_pdh_csv_time_series_in_utc():
    perf = wp.parse_perf_csv(read("perfmon/pdh-csv-memory-format-rendered.csv"), "c.csv")
    assert perf["host"] == "APP01" and perf["timezone_known"]
    rows = perf["rows"]
    assert len(rows) == 7
    # W. Europe Standard Time, bias -60: 09:00 local is 08:00 UTC.
    assert rows[0]["time"] == "2024-03-11T08:00:00Z" and rows[-1]["time"] == "2024-03-11T14:00:00Z"
    assert rows[0]["pool_nonpaged"] == 1342177280 and rows[0]["commit_limit"] == 21474836480
    assert rows[0]["cache"] is None  # not in the log: unknown
    assert [r["pool_nonpaged"] for r in rows] == sorted(r["pool_nonpaged"] for r in rows)


def test_pdh_csv_with_windows_line_ends():
    text = read("perfmon/pdh-csv-memory-format-rendered.csv")
    assert wp.parse_perf_csv(text.replace("\n", "\r\n"), "c.csv") == wp.parse_perf_csv(text, "c.csv")


def test_get_counter_export_csv_long_form():
    perf = wp.parse_perf_csv(read("perfmon/get-counter-export-csv-format-rendered.csv"), "g.csv")
    assert not perf["timezone_known"] and len(perf["rows"]) == 3
    assert perf["rows"][2]["time"] == "2024-03-11T11:00:00Z"
    assert perf["rows"][1]["pool_nonpaged"] == 1342177280 + 200 * 1024 * 1024


def test_pdh_csv_typeperf_screen_messages_are_ignored():
    text = read("perfmon/pdh-csv-memory-format-rendered.csv") + "Exiting, please wait...\r\n" \
        "The command completed successfully.\r\n"
    assert len(wp.parse_perf_csv(text, "c.csv")["rows"]) == 7


@pytest.mark.parametrize("change, line, message", [
    (lambda rows: rows[:3] + [rows[3].rsplit(",", 2)[0]] + rows[4:], 4, "cells"),
    (lambda rows: rows[:2] + [rows[2].replace("03/11/2024 10:00", "yesterday")] + rows[3:], 3, "timestamp"),
    (lambda rows: rows[:5] + [rows[5].replace('"3.500000"', '"3.500000"').replace(
        rows[5].split(",")[4], '"lots"')] + rows[6:], 6, "not a number"),
])
def test_pdh_csv_bad_rows_name_the_line(change, line, message):
    rows = read("perfmon/pdh-csv-memory-format-rendered.csv").split("\n")
    with pytest.raises(ParseError) as err:
        wp.parse_perf_csv("\n".join(change(rows)), "c.csv")
    assert err.value.line == line and message in str(err.value)


def test_csv_without_memory_counters():
    with pytest.raises(ParseError, match="no \\\\Memory\\\\ counter"):
        wp.parse_perf_csv('"(PDH-CSV 4.0)","\\\\H\\Processor(_Total)\\% Processor Time"\n"01/01/2024 00:00:00.000","1"\n',
                          "cpu.csv")


def test_pdh_csv_from_a_german_host_reads_like_the_english_one():
    english = wp.parse_perf_csv(read("perfmon/pdh-csv-memory-format-rendered.csv"), "en.csv")
    german = wp.parse_perf_csv(read("perfmon/pdh-csv-memory-de-DE-format-rendered.csv"), "de.csv")
    assert german["language"] == "de-DE" and english["language"] == "en"
    assert german["not_understood"] == []
    keys = ("time", "available", "commit_used", "commit_limit", "pool_nonpaged", "pool_paged")
    assert [{k: r[k] for k in keys} for r in german["rows"]] == [{k: r[k] for k in keys} for r in english["rows"]]
    assert german["rows"][-1]["pool_nonpaged"] > german["rows"][0]["pool_nonpaged"]


def test_german_object_name_of_older_windows():
    text = read("perfmon/pdh-csv-memory-de-DE-format-rendered.csv").replace("\\Arbeitsspeicher\\", "\\Speicher\\")
    assert wp.parse_perf_csv(text, "de2012.csv")["rows"][0]["commit_limit"] == 21474836480


def test_pdh_csv_from_a_chinese_host_reads_the_sourced_counter():
    perf = wp.parse_perf_csv(read("perfmon/pdh-csv-memory-zh-CN-format-rendered.csv"), "zh.csv")
    assert perf["language"] == "zh-CN" and perf["timezone_known"]
    assert [r["available"] for r in perf["rows"]] == [6979321856, 6759120896, 6538919936]
    assert perf["rows"][0]["time"] == "2024-03-11T01:00:00Z"  # bias -480: 09:00 in China is 01:00 UTC


def test_untranslated_memory_counters_are_named():
    # A zh-CN column without a sourced translation next to the sourced one: read what is understood,
    # name what is not.
    text = read("perfmon/pdh-csv-memory-zh-CN-format-rendered.csv").splitlines()
    text[0] += ',"\\\\APP01\\\u5185\u5b58\\\u6c60\u975e\u5206\u9875\u5b57\u8282"'
    text[1:] = [line + ',"1342177280.000000"' for line in text[1:]]
    perf = wp.parse_perf_csv("\n".join(text) + "\n", "zh.csv")
    assert perf["not_understood"] == ["\\\\APP01\\\u5185\u5b58\\\u6c60\u975e\u5206\u9875\u5b57\u8282"]
    assert perf["rows"][0]["pool_nonpaged"] is None


def test_only_untranslated_memory_counters_fail_naming_them():
    text = ('"(PDH-CSV 4.0)","\\\\H\\Arbeitsspeicher\\Cachebytes X","\\\\H\\Prozessor(_Total)\\Prozessorzeit (%)"\n'
            '"01/01/2024 00:00:00.000","1","2"\n')
    with pytest.raises(ParseError) as err:
        wp.parse_perf_csv(text, "de.csv")
    assert "not understood" in str(err.value) and "Arbeitsspeicher\\Cachebytes X" in str(err.value)
    long_form = ('"Path","CookedValue","Timestamp"\n'
                 '"\\\\h\\arbeitsspeicher\\cachebytes x","1","3/11/2024 9:00:00 AM"\n')
    with pytest.raises(ParseError, match="cachebytes x"):
        wp.parse_perf_csv(long_form, "g.csv")


def test_get_counter_long_form_in_german():
    text = read("perfmon/get-counter-export-csv-format-rendered.csv")
    german = text.replace("\\memory\\available bytes", "\\arbeitsspeicher\\verfügbare bytes") \
        .replace("\\memory\\pool nonpaged bytes", "\\arbeitsspeicher\\nicht-auslagerungsseiten (bytes)")
    assert german != text
    assert wp.parse_perf_csv(german, "g.csv")["rows"] == wp.parse_perf_csv(text, "g.csv")["rows"]


# ------------------------------------------------------------------ property tests

PARSERS = [wp.parse_poolmon, wp.parse_vm, wp.parse_memusage, wp.parse_poolused, wp.parse_perf_csv]
FIXTURES = sorted(os.path.join(d, f) for d in ("poolmon", "windbg", "perfmon")
                  for f in os.listdir(os.path.join(SAMPLES, d)))


def survive(parser, text):
    try:
        parser(text, source="fuzz")
    except ParseError as err:
        assert str(err).startswith("fuzz")


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PARSERS), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_random_text_raises_only_parse_error(parser, text):
    survive(parser, text)


_TOKENS = st.sampled_from(["Nonp", "Paged", "Tag  Type     Allocs", "Memory: 1K Avail: 2K", "(", ")", " ", "\n",
                           "Kb)", ": 12 (", "Usage:", "TOTAL", "kd> !vm", "18446744073709551615", "\"", ",",
                           "(PDH-CSV 4.0)", "Sorting by", "Tag Allocs Used Allocs Used", "-1", "0", "99999999999"])


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PARSERS), st.sampled_from(FIXTURES), st.data())
def test_mutated_fixtures_raise_only_parse_error(parser, fixture, data):
    text = read(fixture)
    for _edit in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["cut", "delete", "insert", "duplicate", "swap"]))
        pos = data.draw(st.integers(0, len(text)))
        if kind == "cut":
            text = text[:pos]
        elif kind == "delete":
            text = text[:pos] + text[pos + data.draw(st.integers(1, 40)):]
        elif kind == "insert":
            text = text[:pos] + data.draw(st.one_of(_TOKENS, st.text(max_size=20))) + text[pos:]
        elif kind == "duplicate":
            lines = text.splitlines(True)
            if lines:
                index = data.draw(st.integers(0, len(lines) - 1))
                lines.insert(index, lines[index])
                text = "".join(lines)
        else:
            lines = text.splitlines(True)
            if len(lines) > 1:
                a, b = data.draw(st.integers(0, len(lines) - 1)), data.draw(st.integers(0, len(lines) - 1))
                lines[a], lines[b] = lines[b], lines[a]
                text = "".join(lines)
    survive(parser, text)


def test_pdh_csv_impossible_time_zone_bias():
    text = read("perfmon/pdh-csv-memory-format-rendered.csv").replace("(-60)", "(99999999999)", 1)
    with pytest.raises(ParseError, match="not a time zone") as err:
        wp.parse_perf_csv(text, "c.csv")
    assert err.value.line == 1

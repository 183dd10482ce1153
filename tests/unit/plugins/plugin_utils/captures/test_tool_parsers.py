"""One tool's pasted output (free, slabtop, meminfo lines, ps/top, OOM reports, event 2004, systeminfo).

The texts are the real captures of tests/fixtures/captures/corpus/ (README.md there gives each source);
the few inline texts are lines from them or from the sources the README cites, cut where a test says.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import tool_parsers as tp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import sections

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
CORPUS = os.path.join(ROOT, "fixtures", "captures", "corpus")
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def read(rel):
    with open(os.path.join(CORPUS, rel), encoding="utf-8") as handle:
        return handle.read()


# ----------------------------------------------------------------------------- free

def test_free_old_layout_without_command_line_is_read_as_kib_and_says_so():
    free = tp.parse_free(read("linux-newbetuts-free-old-layout/free.txt"))
    assert free["total"] == 12286456 * KIB
    assert free["used"] == 11715372 * KIB
    assert free["buffers"] == 81912 * KIB and free["cached"] == 6545228 * KIB
    assert free["buff_cache"] == (81912 + 6545228) * KIB
    assert free["used_excl_cache"] == 5088232 * KIB
    assert free["available"] is None  # the old layout has no such column: unknown, not 0
    assert free["swap_total"] == 24571408 * KIB and free["swap_used"] == 54528 * KIB
    assert free["unit_guessed"] is True and free["unit"] == "KiB"


def test_free_h_new_layout_takes_units_from_each_value():
    free = tp.parse_free(read("linux-openillumi-free-h/free.txt"))
    assert free["total"] == int(round(7.8 * GIB))
    assert free["used"] == 420 * MIB
    assert free["shared"] == 1 * MIB
    assert free["buff_cache"] == int(round(7.1 * GIB))
    assert free["available"] == int(round(7.4 * GIB))
    assert free["swap_total"] is None  # no Swap line pasted
    assert free["unit_guessed"] is False


def test_free_hw_splits_buffers_and_cache():
    free = tp.parse_free(read("linux-goinbigdata-free-hw/free.txt"))
    assert free["buffers"] == 41 * MIB and free["cached"] == 531 * MIB
    assert free["buff_cache"] == 572 * MIB
    assert free["available"] == int(round(1.2 * GIB))
    assert free["swap_used"] == 0


def test_free_h_old_layout_keeps_the_minus_plus_line():
    free = tp.parse_free(read("linux-imraan-free-h-old-layout/free.txt"))
    assert free["total"] == 993 * MIB
    assert free["used_excl_cache"] == 234 * MIB
    assert free["shared"] == int(round(5.7 * MIB))


def test_free_gi_suffixes_and_first_screen_of_several():
    text = read("linux-supertuna-repeat-run-rnd11/console.txt")
    free = tp.parse_free(text)
    assert free["total"] == 30 * GIB and free["used"] == 30 * GIB
    assert free["available"] == 73 * MIB  # the first `free -h` of the console, not the later ones
    assert free["swap_used"] == 271 * MIB


@pytest.mark.parametrize("flag, scale", [("-m", MIB), ("-g", GIB), ("-b", 1), ("-k", KIB), ("--mega", MIB)])
def test_free_unit_flags_from_the_command_line(flag, scale):
    # The new layout of linux-supertuna-repeat-run-rnd11 (`free -m`), under each flag's command line.
    text = ("# free %s\n              total        used        free      shared  buff/cache   available\n"
            "Mem:           31645       31594         269          79         166          50\n" % flag)
    free = tp.parse_free(text)
    assert free["total"] == 31645 * scale
    assert free["available"] == 50 * scale


def test_free_si_flag_uses_powers_of_1000():
    text = ("$ free -m --si\n              total        used        free      shared  buff/cache   available\n"
            "Mem:           31645       31594         269          79         166          50\n")
    assert tp.parse_free(text)["total"] == 31645 * 1000 ** 2


def test_free_errors_name_the_line():
    with pytest.raises(ParseError, match="no free header"):
        tp.parse_free("Mem: 1 2 3\n", "x.txt")
    with pytest.raises(ParseError, match=r"x.txt line 2: free value is not a number"):
        tp.parse_free("total used free shared buff/cache available\nMem: 12 abc 3 4 5 6\n", "x.txt")


# ----------------------------------------------------------------------------- slabtop

def test_slabtop_rows_like_slabinfo_with_locale_decimal_commas():
    rows = tp.parse_slabtop(read("linux-supertuna-slabtop-rnd07/slabtop.txt"))
    first = rows[0]
    assert first["name"] == "kmalloc-rnd-07-8k"
    assert first["num_objs"] == 1901280 and first["active_objs"] == 1901280
    assert first["objsize"] == 8192
    assert first["bytes"] == 15210240 * KIB  # slabtop's CACHE SIZE
    assert [r["name"] for r in rows] == ["kmalloc-rnd-07-8k", "dentry", "buffer_head"]


def test_slabtop_stops_at_the_next_prompt():
    rows = tp.parse_slabtop(read("linux-rapture-slabtop-btrfs/slabtop.txt"))
    assert [r["name"] for r in rows] == ["dentry", "shared_policy_node", "btrfs_inode"]


def test_slabtop_reclaimable_file_walk():
    rows = tp.parse_slabtop(read("linux-toofishes-slabtop-ext4/slabtop.txt"))
    assert len(rows) == 8
    assert rows[0]["name"] == "ext4_inode_cache" and rows[0]["bytes"] == 10746368 * KIB


def test_slabtop_cut_row_is_an_error_naming_the_line():
    text = read("linux-toofishes-slabtop-ext4/slabtop.txt").splitlines()
    text[8] = text[8][:20]
    with pytest.raises(ParseError, match=r"s.txt line 9: slabtop row cut short"):
        tp.parse_slabtop("\n".join(text), "s.txt")


# ----------------------------------------------------------------------------- meminfo lines

def test_meminfo_lines_between_dots_and_prompts():
    fields = tp.parse_meminfo_lines(read("linux-supertuna-meminfo-slabtop-rnd11/console.txt"))
    assert fields == {"Slab": 31814260 * KIB, "SReclaimable": 50868 * KIB, "SUnreclaim": 31763392 * KIB}


def test_meminfo_hugepage_counts_stay_counts():
    fields = tp.parse_meminfo_lines(read("linux-hugepages-java-grep/meminfo-huge.txt"))
    assert fields == {"AnonHugePages": 274432 * KIB, "HugePages_Total": 1008, "HugePages_Free": 596,
                      "HugePages_Rsvd": 594, "HugePages_Surp": 0}


# ----------------------------------------------------------------------------- ps / top

def test_top_batch_screen_with_summary():
    listing = tp.parse_process_listing(read("linux-pritunl-top/top.txt"))
    assert listing["tool"] == "top"
    assert listing["processes"][0] == {"pid": 11747, "name": "pritunl", "rss": 988204 * KIB, "command": "pritunl",
                                       "shared": 1552 * KIB}
    assert listing["memory"]["total"] == 1884812 * KIB
    assert listing["memory"]["available"] == 334908 * KIB
    assert listing["memory"]["buff_cache"] == 255620 * KIB


def test_top_res_with_unit_suffix():
    listing = tp.parse_process_listing(read("linux-ssdb-top-and-free/issue-40.txt"))
    # SHR 1.9g: most of RES is shared (mapped files), which the diagnosis does not count as the process's own.
    assert listing["processes"] == [{"pid": 24235, "name": "ssdb-server", "rss": 2 * GIB, "command": "ssdb-server",
                                     "shared": int(round(1.9 * GIB))}]


def test_ps_aux_and_ps_eo_rss_args():
    aux = ("USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
           "root         2  0.0  0.0      0     0 ?        S    Mar01   0:00 [kthreadd]\n"
           "root     12345  0.3  0.1  61244 1252000 ?     Ssl  00:40   1:27 /usr/bin/tor --defaults-torrc x\n")
    rows = tp.parse_process_listing(aux)["processes"]
    assert rows == [{"pid": 12345, "name": "tor", "rss": 1252000 * KIB, "command": "/usr/bin/tor --defaults-torrc x",
                     "shared": None}]
    eo = "  RSS COMMAND\n 5476 /usr/sbin/vnstatd -n\n"
    assert tp.parse_process_listing(eo)["processes"] == [
        {"pid": None, "name": "vnstatd", "rss": 5476 * KIB, "command": "/usr/sbin/vnstatd -n", "shared": None}]


def test_ps_without_rss_column_says_so():
    with pytest.raises(ParseError, match="no RSS column"):
        tp.parse_process_listing("  PID TTY          TIME CMD\n17359 pts/30   00:00:00 ps\n", "ps.txt")


# ----------------------------------------------------------------------------- OOM killer

def test_oom_report_from_syslog_with_task_table():
    reports = tp.parse_oom_reports(read("linux-parseoom-clamd-oom/messages"))
    assert len(reports) == 1
    report = reports[0]
    assert report["time"] is None  # syslog stamps carry no year
    assert report["killed"] == {"pid": 517, "name": "clamd", "rss": 1689296 * KIB}
    clamd = [t for t in report["tasks"] if t["name"] == "clamd"]
    assert clamd == [{"pid": 517, "name": "clamd", "rss": 422324 * 4096}]
    assert len(report["tasks"]) == 35


def test_oom_report_with_elided_rows_and_dmesg_t_time():
    reports = tp.parse_oom_reports(read("linux-yugabyte-oom/messages.txt"))
    assert reports[0]["killed"]["name"] == "postgres"
    assert [t["name"] for t in reports[0]["tasks"]] == ["yb-tserver", "postgres", "postgres"]
    # A `dmesg -T` line carries its year: the time is known (the inducer/relate #1383 form).
    text = ("[Mon Dec  8 17:51:31 2025] [  pid  ]   uid  tgid total_vm      rss name\n"
            "[Mon Dec  8 17:51:31 2025] [    375]     0   375    14010     2008 systemd-journal\n")
    assert tp.parse_oom_reports(text)[0]["time"] == "2025-12-08T17:51:31Z"


def test_oom_without_report_is_an_error():
    with pytest.raises(ParseError, match="no OOM-killer report"):
        tp.parse_oom_reports("nothing here\n", "dmesg.txt")


# ----------------------------------------------------------------------------- Windows

def test_event_2004_plain_event_viewer_copy():
    events = tp.parse_event_2004(read("win-mikelag-event2004-store/event-2004.txt"))
    assert events == [{"time": None, "processes": [
        {"name": "store.exe", "pid": 7580, "bytes": 11282399232},
        {"name": "MSExchangeMailboxAssistants.exe", "pid": 21200, "bytes": 590950400},
        {"name": "w3wp.exe", "pid": 21092, "bytes": 562757632}]}]


def test_event_2004_with_spaced_thousands_and_a_date_line():
    # Event Viewer's copy on a machine whose locale groups digits with spaces (a 2023 report).
    text = ("Date:          12/27/2023 12:17:15\nEvent ID:      2004\nDescription:\n"
            "Windows successfully diagnosed a low virtual memory condition. The following programs consumed "
            "the most virtual memory:\n\nexplorer.exe (30876) consumed 3685 900 288 bytes,\n\n"
            "vmmemWSL (11284) consumed 941  436 928 bytes,\n\nand mms_mini.exe (8608) consumed 902 995 968 bytes.\n")
    events = tp.parse_event_2004(text)
    assert events[0]["time"] == "2023-12-27T12:17:15Z"
    assert events[0]["processes"][0] == {"name": "explorer.exe", "pid": 30876, "bytes": 3685900288}
    assert events[0]["processes"][2]["name"] == "mms_mini.exe"


def test_systeminfo_and_ver():
    text = ("OS Name:                   Microsoft Windows Server 2016 Standard\n"
            "OS Version:                10.0.14393 N/A Build 14393\n"
            "System Type:               x64-based PC\n"
            "Total Physical Memory:     4,095 MB\n"
            "Available Physical Memory: 1,024 MB\n"
            "Virtual Memory: Max Size:  4,799 MB\n"
            "Virtual Memory: In Use:    3,798 MB\n")
    info = tp.parse_systeminfo(text)
    assert info["version"] == "10.0.14393" and info["build"] == "14393"
    assert info["ram_bytes"] == 4095 * MIB and info["available_bytes"] == 1024 * MIB
    assert info["commit_limit"] == 4799 * MIB and info["commit_used"] == 3798 * MIB
    ver = tp.parse_systeminfo("\nMicrosoft Windows [Version 10.0.17763.1234]\n")
    assert ver["version"] == "10.0.17763" and ver["build"] == "17763"
    with pytest.raises(ParseError):
        tp.parse_systeminfo("hello\n", "si.txt")


# ----------------------------------------------------------------------------- recognising by content

@pytest.mark.parametrize("rel, kinds", [
    ("linux-newbetuts-free-old-layout/free.txt", ["free"]),
    ("linux-toofishes-slabtop-ext4/slabtop.txt", ["slabtop"]),
    ("linux-hugepages-java-grep/meminfo-huge.txt", ["meminfo_partial"]),
    ("linux-pritunl-top/top.txt", ["processes"]),
    ("linux-ssdb-top-and-free/issue-40.txt", ["free", "processes"]),
    ("linux-parseoom-clamd-oom/messages", ["oom"]),
    ("linux-supertuna-meminfo-slabtop-rnd11/console.txt", ["slabtop", "meminfo_partial"]),
    ("win-mikelag-event2004-store/event-2004.txt", ["event_2004"]),
])
def test_sniffed_by_content(rel, kinds):
    assert [kind for kind, _text, _line in sections(read(rel))] == kinds


# ----------------------------------------------------------------------------- fuzz

PARSERS = [tp.parse_free, tp.parse_slabtop, tp.parse_meminfo_lines, tp.parse_process_listing,
           tp.parse_oom_reports, tp.parse_event_2004, tp.parse_systeminfo]
SEEDS = [read(rel) for rel in ("linux-newbetuts-free-old-layout/free.txt", "linux-pritunl-top/top.txt",
                               "linux-supertuna-slabtop-rnd07/slabtop.txt", "win-mikelag-event2004-store/event-2004.txt")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PARSERS), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_any_text_parses_or_raises_parse_error(parser, text):
    try:
        parser(text, source="fuzz")
    except ParseError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PARSERS), st.sampled_from(SEEDS), st.integers(0, 2000), st.integers(0, 40),
       st.text(alphabet="0123456789 .,:-/()[]KMGkmgi\n\tabcMemSwap%", max_size=30))
def test_damaged_real_captures_parse_or_raise_parse_error(parser, seed, at, cut, insert):
    at = min(at, len(seed))
    try:
        parser(seed[:at] + insert + seed[at + cut:], source="fuzz")
    except ParseError:
        pass

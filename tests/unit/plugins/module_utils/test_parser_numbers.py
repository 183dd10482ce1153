"""Numbers in host data and captures: a 400-digit value, Arabic-Indic digits or a key given twice are
refused where they are read, naming the file and the line, instead of overflowing the ledger later or
reading a wrong size (int() and \\d accept every script's digits)."""

import os

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.module_utils.errors import MAX_NUMBER, ParseError
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import sos_parsers as sp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import windows_parsers as wp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SETS = os.path.join(ROOT, "fixtures", "captures", "sets")
SAMPLES = os.path.join(ROOT, "fixtures", "captures", "samples")
HUGE = "9" * 400
ARABIC = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660"  # Arabic-Indic 1234567890


def _meminfo_lines():
    with open(os.path.join(SETS, "sos-debian12-vm-deleted-tmpfs", "proc", "meminfo")) as handle:
        return handle.read().splitlines()


def _with_line(lines, index, line):
    lines = list(lines)
    lines[index] = line
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("value, message", [
    (HUGE, "value of MemFree is out of range"),
    ("9223372036854775807", "value of MemFree is out of range"),  # fits 64 bits, not once in bytes
    (ARABIC, "value of MemFree is written in non-ASCII digits"),
])
def test_meminfo_number_out_of_range_or_foreign_names_the_line(value, message):
    lines = _meminfo_lines()
    assert lines[1].startswith("MemFree:")
    with pytest.raises(ParseError) as err:
        lp.parse_meminfo(_with_line(lines, 1, "MemFree:        %s kB" % value), source="proc/meminfo")
    assert str(err.value).startswith("proc/meminfo line 2: " + message)


def test_meminfo_key_given_twice_is_refused():
    lines = _meminfo_lines()
    text = "\n".join(lines + ["MemFree:        1 kB"]) + "\n"
    with pytest.raises(ParseError) as err:
        lp.parse_meminfo(text, source="proc/meminfo")
    assert str(err.value).startswith("proc/meminfo line %d: MemFree appears twice" % (len(lines) + 1))


def test_largest_real_values_still_parse():
    lines = _meminfo_lines()
    fields = lp.parse_meminfo(_with_line(lines, 1, "MemFree:        %d kB" % (MAX_NUMBER // 1024)))
    assert fields["MemFree"] == (MAX_NUMBER // 1024) * 1024


@pytest.mark.parametrize("parser, text", [
    (lp.parse_vmstat, "nr_free_pages %s\n" % HUGE),
    (lp.parse_vmstat, "nr_free_pages %s\n" % ARABIC),
    (lp.parse_slabinfo, "slabinfo - version: 2.1\nkmalloc-64 1 %s 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n" % HUGE),
    (lp.parse_slabinfo, "slabinfo - version: 2.1\nkmalloc-64 1 4611686018427387904 64 64 1 : tunables 0 0 0 : "
                        "slabdata 1 1 0\n"),
    (lp.parse_smaps_rollup, "Rss: %s kB\nPss: 1 kB\n" % HUGE),
    (lp.parse_status, "Name:\tx\nPid:\t%s\nVmRSS:\t1 kB\n" % ARABIC),
    (lp.parse_vmmemctl, "target:  %s pages\ncurrent: 1 pages\n" % HUGE),
    (lp.parse_toolbox_balloon, "%s MB\n" % ARABIC),
])
def test_linux_parsers_refuse_numbers_out_of_range_or_foreign(parser, text):
    with pytest.raises(ParseError) as err:
        parser(text, source="f")
    assert str(err.value).startswith("f line ")


@pytest.mark.parametrize("parser, text, line", [
    (sp.parse_ps, "USER PID %%CPU %%MEM VSZ RSS TTY STAT START TIME COMMAND\n"
                  "root %s 0.0 0.0 1 1 ? S 10:00 0:00 /sbin/init\n" % ARABIC, 2),
    (sp.parse_ps, "USER PID %%CPU %%MEM VSZ RSS TTY STAT START TIME COMMAND\n"
                  "root 1 0.0 0.0 1 %s ? S 10:00 0:00 /sbin/init\n" % HUGE, 2),
    (sp.parse_df, "Filesystem 1K-blocks Used Available Use%% Mounted on\ntmpfs %s 1 1 1%% /run\n" % HUGE, 2),
    (sp.parse_date_utc, "Mon Nov 23 13:06:17 UTC %s\n" % ARABIC[:4], 1),
])
def test_sos_parsers_refuse_numbers_out_of_range_or_foreign(parser, text, line):
    with pytest.raises(ParseError) as err:
        parser(text, source="f")
    assert str(err.value).startswith("f line %d: " % line)


@pytest.mark.parametrize("rel, parser", [
    ("poolmon/snapshot-n-intel-mfd.log", wp.parse_poolmon),
    ("windbg/vm-seed001-xp-excessive-nonpaged.txt", wp.parse_vm),
    ("windbg/poolused-msdocs-sort-paged.txt", wp.parse_poolused),
    ("windbg/memusage-seed001.txt", wp.parse_memusage),
])
@pytest.mark.parametrize("bad, message", [(HUGE, "a number of 40"), (ARABIC, "non-ASCII digit")])
def test_windows_parsers_refuse_numbers_out_of_range_or_foreign(rel, parser, bad, message):
    with open(os.path.join(SAMPLES, rel), encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    index = max(i for i, line in enumerate(lines) if any(c.isdigit() for c in line))
    digits = [i for i, c in enumerate(lines[index]) if c.isdigit()]
    lines[index] = lines[index][:digits[-1]] + bad + lines[index][digits[-1] + 1:]
    with pytest.raises(ParseError) as err:
        parser("\n".join(lines) + "\n", source="f")
    assert str(err.value).startswith("f line %d: %s" % (index + 1, message))

"""sosreport command output (ps, lsof, df, date) captured on the build machine; see the fixture README."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import sos_parsers as sp
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SOS = os.path.join(ROOT, "fixtures", "captures", "sets", "sos-debian12-vm-deleted-tmpfs", "sos_commands")
FILES = {
    "ps": "process/ps_auxwwwm",
    "lsof": "process/lsof_M_-n_-l_-c",
    "df": "filesys/df_-al_-x_autofs",
    "date": "date/date_--utc",
}


def read(key):
    with open(os.path.join(SOS, FILES[key]), encoding="utf-8") as handle:
        return handle.read()


def test_ps_auxwwwm_skips_threads_and_kernel_threads():
    rows = sp.parse_ps(read("ps"), "ps_auxwwwm")
    assert rows == [{"pid": 26686, "name": "python3", "rss": 14940 * 1024, "vsz": 17904 * 1024}]


def test_lsof_finds_the_deleted_tmpfs_file_with_its_size():
    rows = sp.parse_lsof(read("lsof"), "lsof")
    deleted = [r for r in rows if r["deleted"]]
    assert deleted == [{"command": "memleak-h", "pid": 26686, "fd": "3r", "type": "REG", "size": 201326592,
                        "path": "/tmp/memleak-sos-tmpfs/cache.dat", "deleted": True}]
    pipe = next(r for r in rows if r["fd"] == "251w")
    assert pipe["size"] is None and pipe["type"] == "FIFO"  # "0t0" is an offset, not a size
    assert len(rows) == 30


def test_df_tmpfs_usage():
    rows = sp.parse_df(read("df"), "df")
    mine = next(r for r in rows if r["mount"] == "/tmp/memleak-sos-tmpfs")
    assert (mine["size"], mine["used"]) == (262144 * 1024, 196608 * 1024)


def test_df_mount_point_with_space_and_wrapped_filesystem_name():
    text = ("Filesystem     1K-blocks  Used Available Use% Mounted on\n"
            "/dev/mapper/vg_very_long_name-lv_root\n"
            "               1000    10       990   1% /\n"
            "tmpfs              64     4        60   7% /tmp/memleak test\n")
    rows = sp.parse_df(text, "df")
    assert rows[0]["filesystem"] == "/dev/mapper/vg_very_long_name-lv_root" and rows[0]["mount"] == "/"
    assert rows[1]["mount"] == "/tmp/memleak test" and rows[1]["used"] == 4096


SYSCTL = os.path.join(ROOT, "fixtures", "captures", "samples", "sos", "sysctl_-a-nonroot-debian12.txt")


def test_sysctl_skips_permission_denied_lines_and_gives_the_memory_policy():
    with open(SYSCTL, encoding="utf-8") as handle:
        text = handle.read()
    warnings = []
    settings = sp.parse_sysctl(text, "sysctl_-a", warnings=warnings)
    assert len(settings) == 1293 and settings["kernel.hostname"] == "vm"
    assert settings["kernel.core_modes"] == "file\npipe\nsocket"  # one line per value in the output
    assert len(warnings) == 16 and warnings[0].startswith("sysctl_-a line ")
    assert "permission denied on key 'kernel.cad_pid'" in warnings[0]
    assert sp.sysctl_memory(settings) == {"vm.nr_hugepages": 0, "vm.nr_overcommit_hugepages": 0,
                                          "vm.overcommit_memory": 0, "vm.overcommit_ratio": 50,
                                          "vm.overcommit_kbytes": 0, "vm.min_free_kbytes": 67584}
    with pytest.raises(ParseError, match="no 'key = value' setting"):
        sp.parse_sysctl("sysctl: permission denied on key 'kernel.cad_pid'\n", "sysctl_-a")


def test_ps_names_are_whole_and_forest_art_is_not_a_name():
    text = ("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"
            "root 700 0.0 0.0 100 40 ? Ss 10:00 0:00 /usr/sbin/sshd -D\n"
            "root 800 0.0 0.0 100 50 ? Ss 10:00 0:00  \\_ sshd: root@pts/0\n"
            "root 801 0.0 0.0 100 60 ? Ss 10:00 0:00  |   \\_ -bash\n"
            "root 900 0.0 0.0 100 70 ? S 10:00 0:00 kondemand/0 --not-a-kernel-thread\n")
    assert [r["name"] for r in sp.parse_ps(text, "ps_auxfwww")] == ["sshd", "sshd:", "-bash", "kondemand/0"]


def test_date_utc():
    assert sp.parse_date_utc(read("date"), "date") == "2026-11-23T13:06:17Z"
    with pytest.raises(ParseError, match="UTC"):
        sp.parse_date_utc("Mon Nov 23 14:06:17 CET 2026\n", "date")


@pytest.mark.parametrize("key, text, line", [
    ("ps", "USER PID %CPU\nroot 1 0.0\n", 1),
    ("ps", None, 4),
    ("df", "Filesystem Size Used Avail Use% Mounted on\n", 1),
])
def test_unreadable_output_names_the_line(key, text, line):
    if text is None:
        lines = read(key).splitlines()
        lines[3] = "root     notapid  0.0  0.0  1 2 ? S 13:06 0:00 x"  # the only process row of the sample
        text = "\n".join(lines)
    parser = {"ps": sp.parse_ps, "lsof": sp.parse_lsof, "df": sp.parse_df}[key]
    with pytest.raises(ParseError) as err:
        parser(text, key)
    assert err.value.line == line and str(err.value).startswith("%s line %d: " % (key, line))


def test_one_bad_lsof_row_is_skipped_with_a_warning_and_the_rest_kept():
    lines = read("lsof").splitlines()
    lines[2] = lines[2][:20]
    warnings = []
    rows = sp.parse_lsof("\n".join(lines), "lsof", warnings=warnings)
    assert len(rows) == 29
    assert [w.split(":")[0] for w in warnings] == ["lsof line 3"]
    assert any(r["deleted"] and r["path"] == "/tmp/memleak-sos-tmpfs/cache.dat" for r in rows)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([sp.parse_ps, sp.parse_lsof, sp.parse_df, sp.parse_date_utc, sp.parse_sysctl]),
       st.sampled_from(sorted(FILES)), st.data())
def test_random_and_mutated_input_raises_only_parse_error(parser, key, data):
    text = read(key)
    if data.draw(st.booleans()):
        text = data.draw(st.text(max_size=300))
    else:
        for _edit in range(data.draw(st.integers(1, 5))):
            pos = data.draw(st.integers(0, len(text)))
            text = text[:pos] + data.draw(st.text(alphabet=" \n-0123456789abcXYZ()/", max_size=12)) + \
                text[pos + data.draw(st.integers(0, 30)):]
    try:
        parser(text, "fuzz")
    except ParseError as err:
        assert str(err).startswith("fuzz")

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pool maxima: the table of seed 002 (Russinovich) and Microsoft's published limits."""

import json
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.filter.pool_limits import FilterModule
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.pool_limits import (
    GiB,
    KiB,
    MiB,
    TiB,
    limits_for_snapshot,
    parse_boot_options,
    parse_version,
    pool_limits,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))),
                        "fixtures", "windows")
pool_limits_filter = FilterModule().filters()["pool_limits"]


@pytest.mark.parametrize("text,expected", [
    ("5.1.2600", (5, 1)),
    ("5.2.3790", (5, 2)),
    ("6.0.6002", (6, 0)),
    ("6.1.7601", (6, 1)),
    ("6.2.9200", (6, 2)),
    ("6.3.9600", (6, 3)),
    ("10.0.17763", (10, 0)),
    ("10.0", (10, 0)),
    ("Microsoft Windows Server 2008 R2 Enterprise", (6, 1)),
    ("Microsoft Windows Server 2012 R2 Standard", (6, 3)),
    ("Microsoft Windows Server 2012 Standard", (6, 2)),
    ("Microsoft Windows Server 2003 R2 Standard Edition", (5, 2)),
    ("Microsoft Windows XP Professional", (5, 1)),
    ("Microsoft Windows 7 Ultimate", (6, 1)),
    ("Microsoft Windows 8.1 Pro", (6, 3)),
    ("Microsoft Windows 10 Pro", (10, 0)),
    ("Microsoft Windows Server 2016 Standard", (10, 0)),
    ("2008 R2", (6, 1)),
    ("7", (6, 1)),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("bad", [None, "", "Ubuntu 22.04 LTS", "OS/2 Warp"])
def test_parse_version_rejects_non_windows(bad):
    with pytest.raises(ValueError):
        parse_version(bad)


def test_windows_2000_is_outside_the_tables():
    with pytest.raises(ValueError, match="outside the published pool limit tables"):
        pool_limits("5.0.2195", "x86", ram_bytes=GiB)


# ---- 32-bit XP / Server 2003 (seed 002: 128 MB at 512 MB RAM, 256 MB from 1 GB, 128 MB with /3GB)

def test_xp_2003_x86_nonpaged_follows_ram():
    assert pool_limits("5.1.2600", "x86", ram_bytes=512 * MiB)["nonpaged"] == 128 * MiB
    assert pool_limits("5.1.2600", "x86", ram_bytes=2 * GiB)["nonpaged"] == 256 * MiB
    between = pool_limits("5.1.2600", "x86", ram_bytes=768 * MiB)
    assert between["nonpaged"] == 192 * MiB and between["approximate"] is True


def test_xp_2003_x86_3gb_switch():
    limits = pool_limits("5.2.3790", "x86", ram_bytes=4 * GiB, user_va_mb=3072)
    assert limits["nonpaged"] == 128 * MiB
    assert "/3GB" in limits["basis"]["nonpaged"]


def test_xp_and_2003_paged_maxima_differ():
    assert pool_limits("5.1.2600", "x86", ram_bytes=2 * GiB)["paged"] == 491 * MiB
    assert pool_limits("5.2.3790", "x86", ram_bytes=2 * GiB)["paged"] == 650 * MiB


def test_seed_001_dump_fits_a_2003_x86_3gb_system():
    """!vm of seed 001: 3405680 KB of RAM and a NonPagedPool maximum of 127944 KB, under the 128 MB /3GB cap."""
    limits = pool_limits("5.2", "x86", ram_bytes=3405680 * KiB, user_va_mb=3072)
    assert 127944 * KiB <= limits["nonpaged"] == 128 * MiB
    assert pool_limits("5.2", "x86", ram_bytes=3405680 * KiB)["nonpaged"] == 256 * MiB


# ---- 64-bit XP / 2003: ~400 KB per MB of RAM up to 128 GB; paged = 4 x nonpaged up to 128 GB

def test_xp_2003_x64():
    limits = pool_limits("5.2.3790", "x64", ram_bytes=2 * GiB)
    assert limits["nonpaged"] == 800 * MiB
    assert limits["paged"] == 3200 * MiB
    huge = pool_limits("5.2.3790", "x64", ram_bytes=1024 * GiB)
    assert huge["nonpaged"] == 128 * GiB and huge["paged"] == 128 * GiB


# ---- Vista / 2008 / 7 / 2008 R2: ~75 % of RAM up to 2 GB (32-bit) or 128 GB (64-bit)

def test_vista_7_x86():
    limits = pool_limits("6.0.6002", "x86", ram_bytes=2 * GiB)
    assert limits["nonpaged"] == 1536 * MiB
    assert limits["paged"] == 2 * GiB
    assert pool_limits("6.1.7601", "x86", ram_bytes=4 * GiB)["nonpaged"] == 2 * GiB


def test_vista_7_x86_increaseuserva_shrinks_kernel_space():
    limits = pool_limits("6.1.7601", "x86", ram_bytes=4 * GiB, user_va_mb=3072)
    assert limits["nonpaged"] == GiB and limits["paged"] == GiB


def test_vista_7_x64():
    limits = pool_limits("6.1.7601", "x64", ram_bytes=8 * GiB, commit_limit=16 * GiB)
    assert limits["nonpaged"] == 6 * GiB
    assert limits["paged"] == 16 * GiB
    assert pool_limits("6.1.7601", "x64", ram_bytes=512 * GiB)["nonpaged"] == 128 * GiB
    assert pool_limits("6.1.7601", "x64", ram_bytes=512 * GiB)["paged"] == 128 * GiB


# ---- Windows 8 / 2012 and 8.1 / 2012 R2 and later (Microsoft's table)

def test_windows_8_2012_x64():
    limits = pool_limits("6.2.9200", "x64", ram_bytes=256 * GiB, commit_limit=512 * GiB)
    assert limits["nonpaged"] == 128 * GiB
    assert limits["paged"] == 384 * GiB


def test_windows_81_and_later_x64():
    limits = pool_limits("10.0.17763", "AMD64", ram_bytes=16 * GiB, commit_limit=20 * GiB)
    assert limits["nonpaged"] == 16 * GiB
    assert limits["paged"] == 20 * GiB
    assert limits["family"] == "win81_later" and limits["approximate"] is False
    big = pool_limits("6.3.9600", "x64", ram_bytes=24 * TiB, commit_limit=40 * TiB)
    assert big["nonpaged"] == 16 * TiB
    assert big["paged"] == int(15.5 * TiB)


def test_windows_10_x86():
    limits = pool_limits("10.0.19045", "x86", ram_bytes=4 * GiB, commit_limit=6 * GiB)
    assert limits["nonpaged"] == 2 * GiB
    assert limits["paged"] == 2 * GiB


def test_unknown_inputs_give_none_not_a_guess():
    limits = pool_limits("10.0.17763", "x64")
    assert limits["nonpaged"] is None and limits["paged"] is None
    assert "RAM unknown" in limits["basis"]["nonpaged"]
    assert "commit limit unknown" in limits["basis"]["paged"]


@pytest.mark.parametrize("arch", ["sparc", None])
def test_bad_arch(arch):
    with pytest.raises(ValueError):
        pool_limits("10.0", arch, ram_bytes=GiB)


def test_boot_options():
    assert parse_boot_options(" NOEXECUTE=OPTOUT  FASTDETECT 3GB") == 3072
    assert parse_boot_options("/fastdetect /3GB /USERVA=2900") == 2900
    assert parse_boot_options(" NOEXECUTE=OPTIN  INCREASEUSERVA=2560") == 2560
    assert parse_boot_options(" NOEXECUTE=OPTOUT  FASTDETECT") is None
    assert parse_boot_options(None) is None


def _fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


def test_limits_for_a_gathered_snapshot():
    snap = _fixture("seed000_vmware_vfil_vnet.json")
    limits = limits_for_snapshot(snap)
    assert limits["nonpaged"] == snap["os"]["ram_bytes"]
    assert limits["paged"] == snap["memory"]["commit_limit"]


# ---- the filter

def test_filter_with_version_string():
    result = pool_limits_filter("6.1.7601", arch="x64", ram_bytes=8 * GiB)
    assert result["nonpaged"] == 6 * GiB


def test_filter_with_snapshot():
    assert pool_limits_filter(_fixture("seed003_isa_afd_half_open.json"))["nonpaged"] == 256 * MiB


def test_filter_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="arch is required"):
        pool_limits_filter("10.0")
    with pytest.raises(AnsibleFilterError, match="not a Windows version"):
        pool_limits_filter("Debian 12", arch="x64")
    with pytest.raises(AnsibleFilterError, match="not of a Windows host"):
        pool_limits_filter({"os": {"family": "linux"}})
    with pytest.raises(AnsibleFilterError, match="no Windows version"):
        pool_limits_filter({"os": {"family": "windows", "arch": "x64"}})

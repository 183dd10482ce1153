"""Pending updates from a real `apt-get -s dist-upgrade` of a Debian 12 machine."""

import os

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation.package_updates import parse_apt_simulation

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "patch",
                       "apt-get-s-dist-upgrade-debian12.txt")


def fixture():
    with open(FIXTURE) as handle:
        return handle.read()


def test_counts_match_what_apt_says():
    text = fixture()
    result = parse_apt_simulation(text)
    # apt's own summary line of the same run
    assert "120 upgraded, 0 newly installed, 0 to remove and 0 not upgraded." in text
    assert result["pending"] == 120
    assert result["security"] == 74


def test_security_comes_from_the_origin():
    packages = dict((p["name"], p) for p in parse_apt_simulation(fixture())["packages"])
    assert packages["libgcrypt20"] == {
        "name": "libgcrypt20", "current": "1.10.1-3", "candidate": "1.10.1-3+deb12u1",
        "origins": ["Debian:12.15/oldstable", "Debian-Security:12/oldstable-security"], "arch": "amd64",
        "security": True}
    assert packages["bash"]["security"] is False and packages["bash"]["current"] == "5.2.15-2+b8"


def test_an_unknown_inst_line_names_its_line():
    with pytest.raises(ParseError, match="line 2"):
        parse_apt_simulation("Reading package lists...\nInst broken\n", "apt-get -s")


# ------------------------------------------------------------------ Windows installed updates
# The lines are the audit's own format (roles/patch_os/tasks/audit_windows.yml prints them), not a
# captured third-party output.

from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation.package_updates import (  # noqa: E402
    missing_updates, normalize_kb, parse_windows_hotfixes)
from ansible_collections.memleak.remediation.plugins.filter.windows_hotfixes import FilterModule  # noqa: E402
from ansible.errors import AnsibleFilterError  # noqa: E402

HOTFIXES = ("KB5034439\tUpdate\t2024-02-13\r\n"
            "KB5035857\tSecurity Update\t2024-03-12\r\n"
            "KB5031590\tUpdate\t\r\n"
            "File 1\tHotfix\t2009-07-14\r\n")


def test_installed_updates_with_newest_date():
    result = parse_windows_hotfixes(HOTFIXES)
    assert result["count"] == 4
    assert [u["id"] for u in result["updates"]] == ["KB5034439", "KB5035857", "KB5031590", None]
    assert result["updates"][3]["raw"] == "File 1"  # kept, not dropped: the count stays honest
    assert result["updates"][2]["installed_on"] is None
    assert result["newest"] == "2024-03-12T00:00:00Z"


def test_missing_required_updates_in_policy_order():
    installed = parse_windows_hotfixes(HOTFIXES)["updates"]
    assert missing_updates(installed, ["kb5036896", "5035857", "KB5034439", "KB5036896"]) == ["KB5036896"]
    assert missing_updates(installed, []) == []
    with pytest.raises(ParseError, match="'Patch Tuesday' is not a KB number"):
        missing_updates(installed, ["Patch Tuesday"])
    assert normalize_kb(" kb123456 ") == "KB123456"


def test_bad_lines_name_the_line():
    with pytest.raises(ParseError) as err:
        parse_windows_hotfixes("KB5034439\tUpdate\t2024-02-13\nKB5035857 Security Update 2024-03-12\n")
    assert err.value.line == 2 and "field(s)" in str(err.value)
    with pytest.raises(ParseError, match="not YYYY-MM-DD"):
        parse_windows_hotfixes("KB5034439\tUpdate\t13.02.2024\n")
    assert parse_windows_hotfixes("") == {"updates": [], "count": 0, "newest": None}


def test_windows_hotfixes_filter():
    flt = FilterModule().filters()["windows_hotfixes"]
    result = flt(HOTFIXES, required=["KB5036896"])
    assert result["missing"] == ["KB5036896"] and result["count"] == 4
    with pytest.raises(AnsibleFilterError, match="windows_hotfixes: .*not a KB number"):
        flt(HOTFIXES, required=["later"])
    with pytest.raises(AnsibleFilterError, match="input must be the text"):
        flt(None)

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

"""The apt_pending filter on a real `apt-get -s dist-upgrade` of a Debian 12 machine, rendered by Jinja as a play does."""

import os

import pytest
from ansible.errors import AnsibleFilterError
from jinja2 import Environment

from ansible_collections.memleak.remediation.plugins.filter.apt_pending import FilterModule

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "patch",
                       "apt-get-s-dist-upgrade-debian12.txt")
NOTHING = """Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
"""


def _filter():
    return FilterModule().filters()["apt_pending"]


def _render(template, **variables):
    env = Environment()
    env.filters["memleak.remediation.apt_pending"] = _filter()
    return env.from_string(template).render(**variables)


def test_the_documented_example_counts_what_apt_would_install():
    with open(FIXTURE) as handle:
        text = handle.read()
    # The example of the filter's EXAMPLES, on the real output (120 upgrades, 74 from Debian-Security).
    line = _render("{{ (simulation.stdout | memleak.remediation.apt_pending).security }} security updates pending",
                   simulation={"stdout": text})
    assert line == "74 security updates pending"
    result = _filter()(text)
    assert result["pending"] == 120 == len(result["packages"])
    assert set(result["packages"][0]) == {"name", "current", "candidate", "origins", "arch", "security"}


def test_nothing_pending():
    assert _filter()(NOTHING) == {"pending": 0, "security": 0, "packages": []}


@pytest.mark.parametrize("value, message", [
    (None, "apt_pending: input must be the text of apt-get -s, got NoneType"),
    (["Inst bash"], "apt_pending: input must be the text of apt-get -s, got list"),
    ("Reading package lists...\nInst broken\n", "apt_pending: .*line 2"),
])
def test_bad_input_is_a_filter_error_that_names_the_filter(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        _filter()(value)

"""The report filters: thin, documented, and clear about bad input."""

import inspect
import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.filter import (
    fleet_html, fleet_json, fleet_junit, fleet_stats, prometheus_textfile)

import fleet_fixture

PLUGINS = {"fleet_html": fleet_html, "fleet_json": fleet_json, "fleet_junit": fleet_junit,
           "fleet_stats": fleet_stats, "prometheus_textfile": prometheus_textfile}


def _filter(name):
    return PLUGINS[name].FilterModule().filters()[name]


@pytest.fixture(scope="module")
def hosts():
    return fleet_fixture.fleet(len(fleet_fixture.RECIPES))


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_documentation_names_the_filter_and_its_options(name):
    module = PLUGINS[name]
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["name"] == name
    yaml.safe_load(module.EXAMPLES)
    yaml.safe_load(module.RETURN)
    parameters = list(inspect.signature(_filter(name)).parameters)[1:]
    assert sorted(parameters) == sorted(o for o in doc["options"] if o != "_input")


def test_filters_render_the_fleet(hosts):
    diagnoses = [d for _s, d, _v in hosts]
    snapshots = dict((s["host"], s) for s, _d, _v in hosts)
    page = _filter("fleet_html")(diagnoses, snapshots=snapshots, missing={"x": "unreachable"}, title="Fleet A")
    assert "<title>Fleet A</title>" in page and page.count('<tr data-verdict=') == len(hosts) + 1
    summary = _filter("fleet_json")(diagnoses, missing={"x": "unreachable"}, generated_at="2024-05-02T08:00:00Z")
    assert summary["hosts_total"] == len(hosts) + 1
    json.dumps(summary)
    assert "<testsuites" in _filter("fleet_junit")(diagnoses, fail_on=["critical"])
    assert _filter("fleet_stats")(diagnoses)["memleak_hosts_total"] == len(hosts)
    snap, diag, _v = hosts[0]
    assert _filter("prometheus_textfile")(diag, snap, top="3").startswith("# HELP memleak_verdict ")


@pytest.mark.parametrize("name, args, kwargs, message", [
    ("fleet_html", ("nope",), {}, "fleet_html: input must be a list of memleak_diagnosis dicts"),
    ("fleet_html", ([],), {"snapshots": 3}, "'snapshots' must be a list"),
    ("fleet_json", ([],), {"missing": ["a"]}, "fleet_json: 'missing' must map host names to reasons"),
    ("fleet_junit", ([],), {"fail_on": "critical"}, "'fail_on' must be a list of severities"),
    ("fleet_junit", ([],), {"fail_on": ["fatal"]}, "fleet_junit: fail_on: unknown severity 'fatal'"),
    ("fleet_stats", ({"verdict": {}},), {}, "fleet_stats: input must be a list"),
    ("prometheus_textfile", ({"MemTotal": 1}, {}), {}, "input is not a memleak_diagnosis"),
    ("prometheus_textfile", ({"verdict": {}}, None), {}, "'snapshot' must be the host's memleak_snapshot"),
    ("prometheus_textfile", ({"verdict": {}}, {"schema": 1}), {"top": "many"}, "'top' must be an integer"),
])
def test_bad_input_is_an_ansible_error(name, args, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        _filter(name)(*args, **kwargs)

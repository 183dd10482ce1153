"""The report filters: thin, documented, and clear about bad input."""

import inspect
import json
import os
import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.filter import fleet, prometheus_textfile

import fleet_fixture

FLEET = ("fleet_html", "fleet_json", "fleet_junit", "fleet_stats", "fleet_summary")
PLUGINS = dict([(name, fleet) for name in FLEET] + [("prometheus_textfile", prometheus_textfile)])
FILTER_DIR = os.path.dirname(fleet.__file__)
# The two hosts (and one unreachable) the EXAMPLES of the fleet filters are written for.
EXAMPLE_FLEET = [
    {"schema": 1, "host": "web1", "verdict": {"id": "slab_growth", "severity": "warning", "summary": "dentry cache grows",
                                              "confidence": "suspected",
                                              "missing": [{"what": "samples over hours", "command": "run again hourly"}]},
     "culprit": {"kind": "slab_cache", "name": "dentry", "owner": None, "version": None},
     "ledger": [], "findings": [], "plan": []},
    {"schema": 1, "host": "web2", "verdict": {"id": "healthy", "severity": "ok", "summary": "No abnormal memory use.",
                                              "confidence": "likely", "missing": []},
     "culprit": {"kind": "none", "name": "", "owner": None, "version": None}, "ledger": [], "findings": [], "plan": []},
]


def _filter(name):
    return PLUGINS[name].FilterModule().filters()[name]


def _docs(name):
    """DOCUMENTATION, EXAMPLES and RETURN of a filter: its own YAML file, else the plugin's strings."""
    path = os.path.join(FILTER_DIR, name + ".yml")
    if os.path.exists(path):
        with open(path) as handle:
            data = yaml.safe_load(handle)
        return data["DOCUMENTATION"], yaml.safe_load(data["EXAMPLES"]), data["EXAMPLES"], data["RETURN"]
    module = PLUGINS[name]
    return (yaml.safe_load(module.DOCUMENTATION), yaml.safe_load(module.EXAMPLES), module.EXAMPLES,
            yaml.safe_load(module.RETURN))


def _example_result(name):
    """The text after '# =>' in a filter's EXAMPLES, the comment marks stripped."""
    text = _docs(name)[2]
    lines = text[text.index("# =>"):].splitlines()
    out = [lines[0].split("# =>", 1)[1].strip()]
    for line in lines[1:]:
        if not line.strip().startswith("#"):
            break
        out.append(re.sub(r"^\s*#(    )?", "", line).rstrip())
    return out


@pytest.fixture(scope="module")
def hosts():
    return fleet_fixture.fleet(len(fleet_fixture.RECIPES))


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_documentation_names_the_filter_and_its_options(name):
    doc, examples, text, _return = _docs(name)
    assert doc["name"] == name
    assert examples and "# =>" in text, "%s: EXAMPLES show their result" % name
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


def test_fleet_filters_have_one_yaml_doc_each():
    assert sorted(fleet.FilterModule().filters()) == sorted(FLEET)
    for name in FLEET:
        assert os.path.exists(os.path.join(FILTER_DIR, name + ".yml")), name


def test_fleet_stats_example_shows_the_real_result():
    shown = json.loads(" ".join(_example_result("fleet_stats")))
    assert _filter("fleet_stats")(EXAMPLE_FLEET, missing={"web3": "unreachable"}) == shown


def test_fleet_summary_example_shows_the_real_result():
    shown = _example_result("fleet_summary")
    text = _filter("fleet_summary")(EXAMPLE_FLEET, missing={"web3": "unreachable"})
    assert text.strip().splitlines() == shown

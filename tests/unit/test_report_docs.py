"""The report and AWX docs say what the code does: links resolve, example output is current."""

import json
import os
import re

import pytest

from ansible_collections.memleak.remediation.plugins.filter.leak_diagnosis import FilterModule
from ansible_collections.memleak.remediation.plugins.plugin_utils.report import metrics as report_metrics
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import verdict_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
OWN = ("reports.md", "awx.md", "guide-windows-nonpaged-pool-leak.md", "guide-afd-half-open.md", "README.md")
PLANNED = ()
GUIDES = (("guide-windows-nonpaged-pool-leak.md", "seed000_vmware_vfil_vnet.json"),
          ("guide-afd-half-open.md", "seed003_isa_afd_half_open.json"))


def _read(name):
    with open(os.path.join(DOCS, name)) as handle:
        return handle.read()


@pytest.mark.parametrize("name", OWN)
def test_relative_links_and_images_resolve(name):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(name)):
        if re.match(r"^[a-z]+:", target):
            continue
        assert os.path.exists(os.path.join(DOCS, target)), "%s links to missing %s" % (name, target)
    for path in re.findall(r"`((?:docs|tests|plugins|roles|playbooks|awx)/[\w./-]+)`", _read(name)):
        assert path in PLANNED or os.path.exists(os.path.join(ROOT, path)), "%s names missing %s" % (name, path)


@pytest.mark.parametrize("guide, fixture", GUIDES)
def test_guide_shows_the_current_output_of_the_filter(guide, fixture):
    with open(os.path.join(ROOT, "tests", "fixtures", "windows", fixture)) as handle:
        snapshot = json.load(handle)
    diagnosis = FilterModule().filters()["leak_diagnosis"](snapshot)
    text = _read(guide)
    assert verdict_line(diagnosis) in text, "regenerate the verdict line of %s" % guide
    for number, step in enumerate(diagnosis["plan"], 1):
        line = "%d. %s (%s): %s" % (number, step["step"], step["target"], step["reason"])
        assert line in text, "regenerate the plan of %s" % guide


def test_reports_doc_lists_every_metric_family():
    with open(os.path.join(ROOT, "tests", "fixtures", "windows", "seed000_vmware_vfil_vnet.json")) as handle:
        snapshot = json.load(handle)
    diagnosis = FilterModule().filters()["leak_diagnosis"](snapshot)
    families = set(re.findall(r"^# TYPE (\w+) gauge$", report_metrics.textfile(snapshot, diagnosis), re.M))
    assert len(families) > 10
    text = _read("reports.md")
    for family in families:
        assert "`%s`" % family in text or family in text, family

"""Text from a host (a process name any user sets with prctl, a capture's content) reaches the reports:
JUnit XML stays well-formed for a real XML parser, summary.md renders as the text it holds."""

import xml.etree.ElementTree as ET

from markdown_it import MarkdownIt

from ansible_collections.memleak.remediation.plugins.plugin_utils.report import formats as report_formats
from ansible_collections.memleak.remediation.plugins.plugin_utils.report import text as report_text

HOSTILE = "evil\x01\x07\x1b[31m\x0b\x0c\ufffe name <script>alert(1)</script> <img src=x onerror=alert(2)>" \
          "\r| injected | row |\r\n![t](http://attacker.example/t.png) `code` \\| & end"


def _diag(host, name):
    return {
        "schema": 1, "host": host,
        "verdict": {"id": "process_leak", "severity": "critical", "summary": "%s grows" % name},
        "culprit": {"kind": "process", "name": name, "owner": None, "version": None},
        "ledger": [],
        "findings": [{"id": "process_leak", "severity": "critical", "bytes": 1 << 30, "share": 0.5,
                      "subject": {"kind": "process", "name": name}, "evidence": ["process %s holds 1 GiB" % name]}],
        "plan": [{"step": "escalate", "reason": "owner of %s" % name, "target": name}],
    }


def test_junit_with_control_characters_parses_with_a_real_xml_parser():
    xml = report_formats.fleet_junit([_diag("web\x02", HOSTILE)], missing={"db\x00": HOSTILE})
    root = ET.fromstring(xml.encode("utf-8"))  # expat: XML 1.0 well-formedness, not only escaping
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["web\\x02", "db\\x00"]
    failure = cases[0].find("failure")
    assert "\\x07" in failure.get("message") and "<script>" in failure.get("message")
    assert "\\x01" in failure.text and "\\ufffe" in failure.text


def _render(markdown):
    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_summary_md_renders_hostile_text_as_text():
    markdown = report_text.fleet_summary([_diag("web01", HOSTILE)], missing={"db07": HOSTILE})
    html = _render(markdown)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "onerror" in html  # shown, not run
    rows = html.split("<tbody>")[1].split("</tbody>")[0].count("<tr>")
    assert rows == 2  # \r and | did not split or add rows
    assert "injected" in html.split("<tbody>")[1]
    for line in markdown.splitlines():
        assert "\r" not in line and "\x1b" not in line

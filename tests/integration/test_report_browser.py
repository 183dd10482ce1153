"""index.html in a real browser: headless Chromium driven through chromedriver (selenium).

A fleet of 53 hosts covering every verdict (tests/fleet_fixture.py: real captures,
real filters) plus one host that could not be diagnosed is rendered with the
fleet_html filter and opened from disk with every network feature of Chromium off.
The page must load without a console error, show one table row per host and a
chart per host, and its verdict filter must work. The page and a PNG screenshot
are kept in tests/output/ for people to look at.

Needs the Debian packages chromium and chromium-driver (make test installs them);
without them the test fails and says so, it is never skipped.
"""

import os
import re
import shutil
import tempfile

import pytest

import fleet_fixture
from ansible_collections.memleak.remediation.plugins.filter.fleet import FilterModule

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT = os.path.join(ROOT, "tests", "output", "report")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTS = 53
MISSING = {"db-unreachable-01": "unreachable: ssh: connect to host db-unreachable-01 port 22: No route to host"}


def _require_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("headless Chromium is not installed (%s missing): run `apt-get install -y chromium "
                    "chromium-driver` (make test installs them)" % ", ".join(missing), pytrace=False)
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("selenium is missing from the virtualenv: run `make venv` (tests/requirements.txt)",
                    pytrace=False)


@pytest.fixture(scope="module")
def report():
    hosts = fleet_fixture.fleet(HOSTS)
    verdicts = set(d["verdict"]["id"] for _s, d, _v in hosts)
    page = FilterModule().filters()["fleet_html"](
        [d for _s, d, _v in hosts], snapshots=[s for s, _d, _v in hosts], missing=MISSING,
        generated_at="2024-05-02T08:00:00Z")
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, "index.html")
    with open(path, "w") as handle:
        handle.write(page)
    return path, hosts, verdicts


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="memleak-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                "--disable-default-apps", "--user-data-dir=%s" % profile, "--window-size=1400,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_fleet_covers_every_verdict(report):
    _path, hosts, verdicts = report
    from ansible_collections.memleak.remediation.plugins.module_utils.schema import VERDICTS
    assert len(hosts) >= 50
    assert verdicts == set(VERDICTS), "fixture fleet misses %s" % sorted(set(VERDICTS) - verdicts)


def test_report_in_headless_chromium(report, browser):
    from selenium.webdriver.common.by import By

    path, hosts, verdicts = report
    browser.get("file://" + path)
    assert browser.title == "Memory diagnosis"

    # No console error or warning of the page itself (a failed fetch would show here too).
    logs = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert not logs, logs

    rows = browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")
    assert len(rows) == len(hosts) + len(MISSING)
    names = [row.find_element(By.CSS_SELECTOR, "td").text for row in rows]
    assert sorted(names) == sorted([s["host"] for s, _d, _v in hosts] + list(MISSING))
    assert rows[0].find_element(By.CSS_SELECTOR, "b.s").text == "critical"

    sections = browser.find_elements(By.CSS_SELECTOR, "section.host")
    assert len(sections) == len(hosts)
    ledgers = browser.find_elements(By.CSS_SELECTOR, "section.host svg.ledger rect")
    assert len(ledgers) >= len(hosts)
    trends = browser.find_elements(By.CSS_SELECTOR, "section.host svg.trend")
    with_history = sum(1 for s, _d, _v in hosts if len(s.get("samples") or []) >= 2)
    assert len(trends) == with_history > len(hosts) // 2
    # The charts are drawn: the first trend line has a real size on screen.
    line = browser.find_element(By.CSS_SELECTOR, "svg.trend polyline.ln")
    assert line.size["width"] > 100, line.size
    assert browser.find_elements(By.XPATH, "//*[local-name()='text' and normalize-space()='reboot']")

    # Numbers sit right-aligned under right-aligned headers; the biggest consumer is named in its
    # own column, beside the culprit.
    headers = browser.find_elements(By.CSS_SELECTOR, "#fleet thead th")
    labels = [h.text for h in headers]
    assert labels[2] == "culprit" and labels[4] == "biggest consumer", labels
    for column in (4, 5, 6):
        assert headers[column].value_of_css_property("text-align") == "right", labels[column]
        cell = rows[0].find_elements(By.CSS_SELECTOR, "td")[column]
        assert cell.value_of_css_property("text-align") == "right", labels[column]
    biggest = [row.find_elements(By.CSS_SELECTOR, "td")[4].text for row in rows[:len(hosts)]]
    assert all(re.match(r"^\S.* [0-9.]+ [KMGT]?i?B", text) for text in biggest), biggest
    # Trend charts start at zero: the lowest label of the y-axis reads 0 B.
    axis = browser.find_elements(By.CSS_SELECTOR, "svg.trend")[0].find_elements(By.CSS_SELECTOR, "text")
    assert "0 B" in [t.text for t in axis], [t.text for t in axis]

    # The verdict filter: one click shows only that verdict's rows and sections.
    target = "process_leak"
    expected = sum(1 for _s, d, _v in hosts if d["verdict"]["id"] == target)
    browser.find_element(By.CSS_SELECTOR, '#filters button[data-f="%s"]' % target).click()
    visible = [r for r in rows if r.is_displayed()]
    assert len(visible) == expected and all(r.get_attribute("data-verdict") == target for r in visible)
    assert browser.find_element(By.ID, "shown").text == str(expected)
    assert sum(1 for s in sections if s.is_displayed()) == expected
    browser.find_element(By.CSS_SELECTOR, '#filters button[data-f="problems"]').click()
    problems = sum(1 for _s, d, _v in hosts if d["verdict"]["severity"] in ("warning", "critical")) + len(MISSING)
    assert sum(1 for r in rows if r.is_displayed()) == problems
    browser.find_element(By.CSS_SELECTOR, '#filters button[data-f=""]').click()
    assert all(r.is_displayed() for r in rows)

    logs = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert not logs, logs

    # Artifact: the top of the page (table and filters), then one host section.
    shot = os.path.join(OUTPUT, "report-fleet.png")
    assert browser.save_screenshot(shot)
    assert os.path.getsize(shot) > 20000
    section = browser.find_element(By.CSS_SELECTOR, 'section.host[data-verdict="pool_leak"]')
    browser.execute_script("arguments[0].scrollIntoView()", section)
    assert section.screenshot(os.path.join(OUTPUT, "report-host-pool-leak.png"))
    section = browser.find_element(By.CSS_SELECTOR, 'section.host[data-verdict="process_leak"]')
    browser.execute_script("arguments[0].scrollIntoView()", section)
    assert section.screenshot(os.path.join(OUTPUT, "report-host-process-leak.png"))

"""Code and documents cite what a user has: files of this repository or public sources.

Not a design document outside the repository, not the raw field reports the project started from
(named as "seed NNN"): the scenario is named plainly instead. Tests may name their fixture files.
"""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = sorted(
    path for pattern in ("plugins/**/*", "roles/**/*", "playbooks/**/*", "docs/**/*.md", "benchmarks/**/*",
                         "meta/**/*", "changelogs/**/*", "README.md", "galaxy.yml")
    for path in glob.glob(os.path.join(ROOT, pattern), recursive=True)
    if os.path.isfile(path) and not path.endswith((".png", ".pyc")) and "__pycache__" not in path)
MISSING_SOURCES = re.compile(r"design\.md|design sections?\s+\d|\(design\b|\.\./shared/|shared/design|seeds?/0\d\d")
SEED_CASE = re.compile(r"\bseed(?: case)?\s+0\d\d\b|\bseed\s+\d{3}\b", re.I)
DOC_PATH = re.compile(r"(?<![/\w.-])(docs/[\w.-]+\.md)\b")


def _text(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _rel(path):
    return os.path.relpath(path, ROOT)


def test_there_is_something_to_check():
    assert len(SHIPPED) > 100
    assert os.path.join(ROOT, "docs", "architecture.md") in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=_rel)
def test_no_citation_of_a_file_users_do_not_have(path):
    text = _text(path)
    assert not MISSING_SOURCES.findall(text), "%s cites a document outside the repository" % _rel(path)
    assert not SEED_CASE.findall(text), "%s names a seed case instead of the scenario" % _rel(path)
    for doc in DOC_PATH.findall(text):
        assert os.path.exists(os.path.join(ROOT, doc)), "%s cites %s, which does not exist" % (_rel(path), doc)


@pytest.mark.parametrize("readme", sorted(glob.glob(os.path.join(ROOT, "roles", "*", "README.md"))), ids=_rel)
def test_role_readme_links_resolve(readme):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _text(readme)):
        assert os.path.exists(os.path.normpath(os.path.join(os.path.dirname(readme), target))), target

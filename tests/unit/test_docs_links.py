"""Every relative link of README.md and docs/*.md leads somewhere: the file exists and, when the link
names a heading (#anchor) of a Markdown file, that heading exists too."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = sorted([os.path.join(ROOT, "README.md")] + glob.glob(os.path.join(ROOT, "docs", "*.md")))

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target "title") and ![alt](target); reference definitions "[name]: target".
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)


def _prose(text):
    """The text without fenced blocks and inline code (their brackets are not links)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _links(text):
    prose = _prose(text)
    return INLINE_LINK.findall(prose) + REFERENCE_DEF.findall(prose)


def _anchors(path):
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, duplicates -1, -2."""
    with open(path, encoding="utf-8") as handle:
        text = FENCE.sub("", handle.read())
    seen = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else "%s-%d" % (slug, count))
    return anchors


def _broken(page):
    with open(page, encoding="utf-8") as handle:
        text = handle.read()
    broken = []
    for target in _links(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
            continue  # http:, https:, mailto: ...: not checked offline
        path, dummy, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(resolved):
            broken.append("%s: no such file" % target)
        elif anchor and resolved.endswith(".md") and anchor.lower() not in _anchors(resolved):
            broken.append("%s: no heading with this anchor" % target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[os.path.relpath(p, ROOT) for p in PAGES])
def test_relative_links_resolve(page):
    assert _broken(page) == []


def test_docs_index_lists_every_page():
    with open(os.path.join(ROOT, "docs", "README.md"), encoding="utf-8") as handle:
        listed = {target.partition("#")[0] for target in _links(handle.read())}
    pages = {os.path.basename(p) for p in PAGES if os.path.dirname(p).endswith("docs")} - {"README.md"}
    assert sorted(pages - listed) == []


def test_checker_finds_a_broken_link(tmp_path):
    (tmp_path / "other.md").write_text("# Gathering over WinRM\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#gathering-over-winrm) [gone](missing.md) [bad](other.md#nope)\n"
                    "```\n[in code](not-a-link.md)\n```\n`[inline](also-not.md)` [web](https://example.com)\n")
    assert _broken(str(page)) == ["missing.md: no such file", "other.md#nope: no heading with this anchor"]

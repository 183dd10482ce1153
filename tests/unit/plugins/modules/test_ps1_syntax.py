# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Syntax check of every PowerShell file in the tree with tree-sitter's PowerShell grammar.

No pwsh is available here (and ansible-test's validate-modules needs it for .ps1
modules), so this is the check that a .ps1 parses. A parse tree with an ERROR or
MISSING node fails the test, naming the file, line and text. A known false
positive of the grammar may be listed in KNOWN_FALSE_POSITIVES with the reason
it is valid PowerShell; an entry that no longer matches anything fails too, so
the list cannot rot.

Known grammar limitation, avoided rather than listed: tree-sitter-powershell
0.26 rejects a numeric literal with a multiplier suffix (1MB, 256KB) after a
binary operator or inside a method's argument list (``$x * 1MB``,
``[T]::F($a, 1MB)``), though PowerShell accepts both; the modules assign such
literals to a variable first (``$limit = 256MB``), which the grammar parses.
"""

import os
import re

import pytest

try:
    import tree_sitter as ts
    import tree_sitter_powershell as tsp
    IMPORT_ERROR = None
except ImportError as err:  # a failure, not a skip: tests/requirements.txt installs both
    ts = tsp = None
    IMPORT_ERROR = str(err)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SKIP_DIRS = {".git", ".venv", ".tmp", "output", "node_modules", "__pycache__"}

# (relative path, regex matching the offending line) -> why the line is valid PowerShell.
KNOWN_FALSE_POSITIVES = {}


def _powershell_files():
    found = []
    for base, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            if name.lower().endswith((".ps1", ".psm1", ".psd1")):
                found.append(os.path.relpath(os.path.join(base, name), ROOT))
    return found


def _parser():
    if IMPORT_ERROR:
        pytest.fail("tree-sitter with the PowerShell grammar is required (pip install -r tests/requirements.txt): %s"
                    % IMPORT_ERROR, pytrace=False)
    return ts.Parser(ts.Language(tsp.language()))


def _problems(source):
    tree = _parser().parse(source)
    lines = source.decode("utf-8", "replace").splitlines()
    stack = [tree.root_node]
    found = []
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row = node.start_point[0]
            found.append((row + 1, "MISSING %s" % node.type if node.is_missing else "ERROR",
                          lines[row] if row < len(lines) else ""))
        stack.extend(reversed(node.children))
    return sorted(set(found))


def _allowed(path, line_text):
    for (allowed_path, pattern), _reason in KNOWN_FALSE_POSITIVES.items():
        if allowed_path == path and re.search(pattern, line_text):
            return True
    return False


FILES = _powershell_files()


def test_there_are_powershell_files():
    assert "plugins/modules/win_pool_facts.ps1" in [f.replace(os.sep, "/") for f in FILES]


@pytest.mark.parametrize("path", FILES)
def test_powershell_parses(path):
    with open(os.path.join(ROOT, path), "rb") as handle:
        source = handle.read()
    problems = [p for p in _problems(source) if not _allowed(path.replace(os.sep, "/"), p[2])]
    assert not problems, "%s does not parse as PowerShell:\n%s" % (
        path, "\n".join("  line %d: %s: %s" % p for p in problems))


def test_known_false_positives_are_still_needed():
    for (path, pattern), reason in KNOWN_FALSE_POSITIVES.items():
        assert reason.strip(), "%s %s: a false positive needs a written reason" % (path, pattern)
        with open(os.path.join(ROOT, path), "rb") as handle:
            problems = _problems(handle.read())
        assert any(re.search(pattern, p[2]) for p in problems), (
            "%s: %r no longer produces a parse error; remove it from KNOWN_FALSE_POSITIVES" % (path, pattern))


@pytest.mark.parametrize("snippet", [
    b"if ($x { 'unclosed' }",
    b"$h = @{ a = 1\n",
    b"function f { param([string]$a) ",
    b"$x = [System.IO.File]::ReadAllText(",
])
def test_checker_catches_broken_powershell(snippet):
    assert _problems(snippet), "the grammar accepted broken PowerShell: %r" % snippet


def test_checker_accepts_module_idioms():
    source = (b"#AnsibleRequires -CSharpUtil Ansible.Basic\n"
              b"$spec = @{ options = @{ top = @{ type = 'int'; default = 20 } }; supports_check_mode = $true }\n"
              b"$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)\n"
              b"$limit = 256MB\n"
              b"try { Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop } "
              b"catch { $module.Warn(\"os: $($_.Exception.Message)\") }\n"
              b"$module.ExitJson()\n")
    assert _problems(source) == []

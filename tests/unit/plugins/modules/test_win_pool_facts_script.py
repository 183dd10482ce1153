# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What win_pool_facts.ps1 must keep doing that only PowerShell would show (no pwsh here).

PowerShell converts ``$null`` given to a .NET ``string`` parameter into ``""`` (the PowerShell language
specification, "Conversion to string": $null converts to the empty string; ``[NullString]::Value``
is the documented way to pass a real null). The C# side also maps "" to null
(TestCompactSampleEmptyBootIsNull); here the script is held to pass a true null.
"""

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PS1 = os.path.join(ROOT, "plugins", "modules", "win_pool_facts.ps1")
PY = os.path.join(ROOT, "plugins", "modules", "win_pool_facts.py")


def _script():
    with open(PS1, encoding="utf-8") as handle:
        return handle.read()


def test_boot_id_reaches_csharp_as_null_not_empty_string():
    text = _script()
    call = re.search(r"CompactSample\(\$meta\.collected_at, (\$\w+),", text)
    assert call, "the CompactSample call moved; keep this test in step"
    variable = call.group(1)
    assert variable != "$bootId", "$bootId may be $null, which PowerShell turns into \"\" for a string parameter"
    assert re.search(r"if \(\$null -eq %s\) \{ %s = \[NullString\]::Value \}" % (re.escape(variable), re.escape(variable)),
                     text), "%s must become [NullString]::Value when the boot time is unknown" % variable


def test_tcp_is_counted_without_one_object_per_connection():
    text = _script()
    assert "Get-NetTCPConnection" not in text
    assert "[MemLeak.TcpTable]::Query()" in text
    assert text.index("[MemLeak.TcpTable]::Query()") < text.index("netstat.exe -an"), "netstat is the last resort"


def test_driver_scan_reads_loaded_modules_first():
    text = _script()
    assert text.index("[MemLeak.ModuleList]::Query(") < text.index("-Recurse"), "the folder is only the fallback"
    assert "Unmatched(" in text and "strings + findstr" in text


def test_protected_tags_are_not_over_documented():
    namespace = {}
    with open(PY, encoding="utf-8") as handle:
        exec(compile(handle.read(), PY, "exec"), namespace)  # noqa: S102 - our own module file
    tags = " ".join(yaml.safe_load(namespace["RETURN"])["ansible_facts"]["contains"]["memleak_snapshot"]
                    ["contains"]["windows"]["contains"]["tags"]["description"])
    assert "expected false" in tags and "strips" in tags

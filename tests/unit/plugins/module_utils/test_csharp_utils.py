# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compile the collection's C# module utils with Mono and run their unit tests.

The utils are compiled the way Ansible's Add-CSharpType does on a Windows host
(lib/ansible/module_utils/powershell/Ansible.ModuleUtils.AddType.psm1): as a
library, optimised, with the WINDOWS and AMD64 (or X86) symbols defined,
warnings treated as errors, the references named by ``//AssemblyReference``
comments added, and the C# 5 language level of the csc.exe that Windows
PowerShell 5.1 uses. Every ``TestXxx`` method of tests/unit/plugins/module_utils/csharp/*.cs is one
pytest case. Missing Mono is a failure, not a skip: CI installs it
(Debian/Ubuntu packages mono-mcs and mono-runtime).
"""

import glob
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
UTILS_DIR = os.path.join(ROOT, "plugins", "module_utils")
TESTS_DIR = os.path.join(ROOT, "tests", "unit", "plugins", "module_utils", "csharp")
MODULES_DIR = os.path.join(ROOT, "plugins", "modules")
FIXTURES_DIR = os.path.join(ROOT, "tests", "fixtures")
NAMESPACE_PREFIX = "ansible_collections.memleak.remediation.plugins.module_utils."

UTILS = sorted(glob.glob(os.path.join(UTILS_DIR, "*.cs")))
TEST_SOURCES = sorted(glob.glob(os.path.join(TESTS_DIR, "*.cs")))

_ASSEMBLY_REF = re.compile(r"//\s*AssemblyReference\s+-(Name|Type)\s+([\w.]*)(?:\s+-CLR\s+(Core|Framework))?")
_TYPE_ACCEL = re.compile(r"//\s*TypeAccelerator\s+-Name\s+([\w.]*)\s+-TypeName\s+([\w.]*)")
_NAMESPACE = re.compile(r"^\s*namespace\s+([\w.]+)", re.MULTILINE)
_TEST_METHOD = re.compile(r"public\s+static\s+void\s+(Test\w+)\s*\(")

MISSING_MONO = ("Mono is required to compile and test the C# module utils but %s was not found on PATH. "
                "Install it with: apt-get install -y mono-mcs mono-runtime")


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(MISSING_MONO % name, pytrace=False)
    return path


def _references(sources):
    refs = []
    for source in sources:
        for kind, name, clr in _ASSEMBLY_REF.findall(_read(source)):
            if clr == "Core":
                continue
            if kind == "Type":
                pytest.fail("%s: //AssemblyReference -Type %s cannot be resolved outside Windows; "
                            "use -Name with the assembly file" % (source, name), pytrace=False)
            refs.append("-r:" + name)
    return refs


def _mcs(args, cwd):
    proc = subprocess.run([_tool("mcs")] + args, cwd=cwd, stdout=subprocess.PIPE, check=False,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    return proc.returncode, proc.stdout


def _compile_utils(outdir, arch_symbol):
    dll = os.path.join(outdir, "memleak_utils_%s.dll" % arch_symbol.lower())
    args = ["-target:library", "-langversion:5", "-optimize", "-warnaserror", "-nowarn:1610",
            "-define:WINDOWS;" + arch_symbol, "-r:System.dll", "-r:System.Core.dll", "-out:" + dll]
    args += _references(UTILS) + UTILS
    code, output = _mcs(args, outdir)
    assert code == 0, "mcs failed to compile the module utils (%s):\n%s" % (arch_symbol, output)
    return dll


@pytest.fixture(scope="module")
def csharp_build(tmp_path_factory):
    assert UTILS, "no C# module utils found under plugins/module_utils"
    assert TEST_SOURCES, "no C# test sources found under tests/unit/plugins/module_utils/csharp"
    mono = _tool("mono")
    outdir = str(tmp_path_factory.mktemp("csharp"))
    dll = _compile_utils(outdir, "AMD64")
    exe = os.path.join(outdir, "memleak_tests.exe")
    code, output = _mcs(["-target:exe", "-langversion:5", "-warnaserror", "-r:" + dll,
                         "-r:System.dll", "-r:System.Core.dll", "-out:" + exe] + TEST_SOURCES, outdir)
    assert code == 0, "mcs failed to compile the C# tests:\n%s" % output
    env = dict(os.environ, MEMLEAK_FIXTURES=FIXTURES_DIR)
    proc = subprocess.run([mono, exe], cwd=outdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False, env=env)
    results = {}
    for line in proc.stdout.splitlines():
        match = re.match(r"^(PASS|FAIL) (\w+)(?::\s*(.*))?$", line)
        if match:
            results[match.group(2)] = (match.group(1), match.group(3) or "")
    return {"mono": mono, "dll": dll, "exe": exe, "outdir": outdir, "results": results,
            "returncode": proc.returncode, "output": proc.stdout}


def _declared_tests():
    names = []
    for source in TEST_SOURCES:
        names += _TEST_METHOD.findall(_read(source))
    return names


@pytest.mark.parametrize("name", _declared_tests())
def test_csharp_unit(csharp_build, name):
    results = csharp_build["results"]
    assert name in results, "C# test %s did not run; runner output:\n%s" % (name, csharp_build["output"])
    status, message = results[name]
    assert status == "PASS", "%s: %s" % (name, message)


def test_csharp_runner_exit_code(csharp_build):
    assert csharp_build["returncode"] == 0, csharp_build["output"]


def test_utils_compile_for_x86(tmp_path):
    """Ansible defines X86 instead of AMD64 in a 32-bit PowerShell; the utils must compile there too."""
    _compile_utils(str(tmp_path), "X86")


@pytest.mark.parametrize("path", UTILS, ids=os.path.basename)
def test_namespace_is_the_file_path(path):
    namespaces = _NAMESPACE.findall(_read(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    assert namespaces == [NAMESPACE_PREFIX + stem], (
        "%s must declare exactly the namespace %s (Ansible loads collection C# utils by that name), found %s"
        % (path, NAMESPACE_PREFIX + stem, namespaces))


def test_type_accelerators_name_real_types(csharp_build):
    wanted = []
    for path in UTILS:
        text = _read(path)
        namespace = _NAMESPACE.findall(text)[0]
        wanted += ["%s.%s" % (namespace, match[1]) for match in _TYPE_ACCEL.findall(text)]
    assert wanted, "no //TypeAccelerator lines found"
    proc = subprocess.run([csharp_build["mono"], csharp_build["exe"], "--types"] + wanted, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


def test_powershell_modules_require_existing_utils():
    """Every '#AnsibleRequires -CSharpUtil' of a collection util names a .cs file that exists."""
    pattern = re.compile(r"^#AnsibleRequires\s+-CSharpUtil\s+(\S+)", re.MULTILINE | re.IGNORECASE)
    scripts = glob.glob(os.path.join(MODULES_DIR, "*.ps1"))
    assert scripts, "no PowerShell modules found"
    for script in scripts:
        for name in pattern.findall(_read(script)):
            if name.startswith("Ansible."):
                continue
            assert name.startswith(NAMESPACE_PREFIX), "%s: use the absolute util name, got %s" % (script, name)
            util = os.path.join(UTILS_DIR, name[len(NAMESPACE_PREFIX):] + ".cs")
            assert os.path.isfile(util), "%s requires %s, but %s does not exist" % (script, name, util)


def test_compact_sample_is_the_python_sample_byte_for_byte(csharp_build):
    """PoolTagSampler.CompactSample + HistoryStore.FormatLine give the line history.py would write for
    series.compact_sample of the same snapshot: same series names, outstanding counts mod 2**32, JSON."""
    from ansible_collections.memleak.remediation.plugins.module_utils.schema import new_snapshot
    from ansible_collections.memleak.remediation.plugins.module_utils.series import compact_sample

    proc = subprocess.run([csharp_build["mono"], csharp_build["exe"], "--compact-sample"], check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    snap = new_snapshot("APP-VM01", "2024-03-11T09:05:07Z", family="windows")
    snap["boot_id"] = "2024-03-04T01:12:40Z"
    snap["memory"].update(total=17179332608, available=389021696, free=54525952, used=17179332608 - 389021696,
                          commit_used=19818086400)
    snap["windows"]["pools"] = {"nonpaged": {"bytes": 16494066176, "limit": None},
                                "paged": {"bytes": 658505728, "resident": None, "limit": None}}

    def tag(name, pa, pf, pu, na, nf, nu):
        return {"tag": name, "paged_allocs": pa, "paged_frees": pf, "paged_bytes": pu,
                "nonpaged_allocs": na, "nonpaged_frees": nf, "nonpaged_bytes": nu}

    snap["windows"]["tags"] = [tag("VFil", 0, 0, 0, 40221000, 10103500, 9666076416),
                               tag("Irp ", 0, 0, 0, 5, 4294967290, 3145728),
                               tag('\\x01Ab"', 7, 3, 4096, 0, 0, 0)]
    expected = json.dumps(compact_sample(snap, top=3), sort_keys=True, separators=(",", ":")) + "\n"
    assert proc.stdout == expected
    assert '"tag.np_out:Irp ":11' in proc.stdout

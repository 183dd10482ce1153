"""plugins/module_utils is shipped to every host a module runs on: it holds what modules import
and nothing else (docs/architecture.md, "Where code lives")."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
MODULES = os.path.join(ROOT, "plugins", "modules")
PREFIX = "ansible_collections.memleak.remediation.plugins.module_utils."

_PY_IMPORT = re.compile(
    r"^\s*from ansible_collections\.memleak\.remediation\.plugins\.module_utils(?:\.(\w+))? import \(?([\w, ]*)",
    re.M)
_PS_REQUIRES = re.compile(r"^#AnsibleRequires -CSharpUtil (\S+)", re.M)
_CS_USING = re.compile(r"^using (ansible_collections\.memleak\.remediation\.plugins\.module_utils\.\w+);", re.M)


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _utils():
    return sorted(f for f in os.listdir(MODULE_UTILS) if f.endswith((".py", ".cs")) and f != "__init__.py")


def _imports(path):
    """module_utils file names that ``path`` imports (Python imports, C# requires and usings)."""
    text = _read(path)
    found = set()
    for module, names in _PY_IMPORT.findall(text):
        if module:
            found.add(module + ".py")
        else:
            found.update(n.split(" as ")[0].strip() + ".py" for n in names.split(",") if n.strip())
    for ref in _PS_REQUIRES.findall(text) + _CS_USING.findall(text):
        if ref.startswith(PREFIX):
            found.add(ref[len(PREFIX):] + ".cs")
    return found


def test_every_module_util_is_imported_by_a_module():
    todo = [os.path.join(MODULES, f) for f in os.listdir(MODULES) if f.endswith((".py", ".ps1"))]
    reached = set()
    while todo:
        for name in _imports(todo.pop()):
            assert name in _utils(), "a module imports %s, which plugins/module_utils lacks" % name
            if name not in reached:
                reached.add(name)
                todo.append(os.path.join(MODULE_UTILS, name))
    unused = sorted(set(_utils()) - reached)
    assert not unused, ("no module imports %s: controller code belongs in plugins/plugin_utils" % ", ".join(unused))


def test_module_utils_import_no_controller_code():
    for name in _utils():
        text = _read(os.path.join(MODULE_UTILS, name))
        assert "plugin_utils" not in re.sub(r"#.*|//.*|\"\"\"[\s\S]*?\"\"\"", "", text), (
            "%s imports controller code (plugin_utils); hosts do not get it" % name)

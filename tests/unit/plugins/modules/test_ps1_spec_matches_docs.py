# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``$spec`` of every PowerShell module against its ``.py`` DOCUMENTATION.

ansible-test's validate-modules does this comparison for .ps1 modules, but it needs pwsh, which
does not run here. This test parses the ``$spec = @{ options = @{ ... } }`` literal with
tree-sitter's PowerShell grammar and compares option names, types, defaults, ``required``,
``choices``, ``elements`` and ``no_log`` with the documented options (doc fragments merged the way
ansible-doc merges them). A spec written as anything but literals fails, naming the construct, so
the check cannot pass by not understanding the file.
"""

import glob
import os

import pytest
import yaml

try:
    import tree_sitter as ts
    import tree_sitter_powershell as tsp
    IMPORT_ERROR = None
except ImportError as err:  # a failure, not a skip: tests/requirements.txt installs both
    ts = tsp = None
    IMPORT_ERROR = str(err)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = os.path.join(ROOT, "plugins", "modules")
FRAGMENTS = os.path.join(ROOT, "plugins", "doc_fragments")
COMPARED = ("type", "default", "required", "choices", "elements", "no_log")
# Ansible.Basic's defaults when a key is absent (lib/ansible/module_utils/csharp/Ansible.Basic.cs)
SPEC_DEFAULTS = {"type": "str", "default": None, "required": False, "choices": None, "elements": None,
                 "no_log": False}


class SpecError(Exception):
    pass


def _parser():
    if IMPORT_ERROR:
        pytest.fail("tree-sitter with the PowerShell grammar is required (pip install -r tests/requirements.txt): %s"
                    % IMPORT_ERROR, pytrace=False)
    return ts.Parser(ts.Language(tsp.language()))


def _text(node, source):
    return source[node.start_byte:node.end_byte].decode("utf-8")


def _value(node, source):
    """Python value of a PowerShell literal expression node."""
    while node.type not in ("hash_literal_expression", "string_literal", "integer_literal", "real_literal",
                            "variable", "array_expression", "array_literal_expression") or (
            node.type == "array_literal_expression" and len(node.named_children) == 1):
        named = node.named_children
        if len(named) != 1:
            raise SpecError("not a literal: %r (line %d)" % (_text(node, source)[:60], node.start_point[0] + 1))
        node = named[0]
    text = _text(node, source)
    if node.type == "hash_literal_expression":
        body = [c for c in node.named_children if c.type == "hash_literal_body"]
        result = {}
        for entry in (body[0].named_children if body else []):
            if entry.type != "hash_entry":
                continue
            key = _text(entry.child_by_field_name("key") or entry.named_children[0], source).strip("'\"")
            result[key] = _value(entry.named_children[-1], source)
        return result
    if node.type == "string_literal":
        if text[0] == "'" or (text[0] == '"' and "$" not in text and "`" not in text):
            return text[1:-1]
        raise SpecError("expandable string in the spec: %s (line %d)" % (text, node.start_point[0] + 1))
    if node.type == "integer_literal":
        return int(text)
    if node.type == "real_literal":
        return float(text)
    if node.type == "variable":
        known = {"$true": True, "$false": False, "$null": None}
        if text.lower() in known:
            return known[text.lower()]
        raise SpecError("variable %s in the spec (line %d): only literals can be compared" % (text, node.start_point[0] + 1))
    if node.type == "array_expression":
        inner = [c for c in node.named_children if c.type == "statement_list"]
        if not inner:
            return []
        value = _value(inner[0], source)
        return value if isinstance(value, list) else [value]
    # array_literal_expression with several elements: 'a', 'b'
    return [_value(child, source) for child in node.named_children]


def _find_spec(node, source):
    if node.type == "assignment_expression" and _text(node.named_children[0], source).strip().lower() == "$spec":
        return _value(node.named_children[-1], source)
    for child in node.children:
        found = _find_spec(child, source)
        if found is not None:
            return found
    return None


def ps1_spec(source):
    tree = _parser().parse(source)
    spec = _find_spec(tree.root_node, source)
    if spec is None:
        raise SpecError("no '$spec = @{ ... }' assignment found")
    return spec


def _fragment_options(name):
    module_name, _sep, variable = name.partition(".")
    path = os.path.join(FRAGMENTS, module_name + ".py")
    namespace = {}
    with open(path, encoding="utf-8") as handle:
        exec(compile(handle.read(), path, "exec"), namespace)  # noqa: S102 - our own doc fragment
    return yaml.safe_load(getattr(namespace["ModuleDocFragment"], (variable or "DOCUMENTATION").upper())).get("options", {})


def documented_options(py_path):
    namespace = {}
    with open(py_path, encoding="utf-8") as handle:
        exec(compile(handle.read(), py_path, "exec"), namespace)  # noqa: S102 - our own module file
    doc = yaml.safe_load(namespace["DOCUMENTATION"])
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        if fragment.startswith("memleak.remediation."):
            for key, value in _fragment_options(fragment[len("memleak.remediation."):]).items():
                options.setdefault(key, value)
    return options


def _normal(option, defaults):
    return {key: option.get(key, defaults[key]) for key in COMPARED}


def compare(spec, documented):
    """List of differences between the $spec options and the documented options."""
    problems = []
    spec_options = spec.get("options", {})
    for name in sorted(set(spec_options) | set(documented)):
        if name not in documented:
            problems.append("%s: in $spec, not documented" % name)
            continue
        if name not in spec_options:
            problems.append("%s: documented, not in $spec" % name)
            continue
        have = _normal(spec_options[name], SPEC_DEFAULTS)
        doc_defaults = dict(SPEC_DEFAULTS)
        want = _normal(documented[name], doc_defaults)
        for key in COMPARED:
            a, b = have[key], want[key]
            if key == "default" and isinstance(a, (int, float)) and isinstance(b, (int, float)) \
                    and not isinstance(a, bool) and not isinstance(b, bool):
                same = float(a) == float(b)
            else:
                same = a == b
            if not same:
                problems.append("%s.%s: $spec has %r, DOCUMENTATION has %r" % (name, key, a, b))
    return problems


PS_MODULES = sorted(glob.glob(os.path.join(MODULES, "*.ps1")))


def test_there_is_a_powershell_module():
    assert os.path.join(MODULES, "win_pool_facts.ps1") in PS_MODULES


@pytest.mark.parametrize("ps1", PS_MODULES, ids=os.path.basename)
def test_spec_matches_documentation(ps1):
    py = ps1[:-len(".ps1")] + ".py"
    assert os.path.isfile(py), "%s has no documentation file %s" % (ps1, py)
    with open(ps1, "rb") as handle:
        spec = ps1_spec(handle.read())
    problems = compare(spec, documented_options(py))
    assert not problems, "%s and %s disagree:\n  %s" % (os.path.basename(ps1), os.path.basename(py), "\n  ".join(problems))


def test_win_pool_facts_spec_is_read():
    """The parse really reaches the options (a parser that returned {} would pass the comparison)."""
    with open(os.path.join(MODULES, "win_pool_facts.ps1"), "rb") as handle:
        spec = ps1_spec(handle.read())
    options = spec["options"]
    assert options["top"] == {"type": "int", "default": 20}
    assert options["history"] == {"type": "bool", "default": True}
    assert options["pooltag_file"] == {"type": "path"}
    assert spec["supports_check_mode"] is True


@pytest.mark.parametrize("change, expected", [
    (b"top = @{ type = 'int'; default = 20 }", "top.default: $spec has 21, DOCUMENTATION has 20"),
    (b"samples = @{ type = 'int'; default = 4 }", "samples.type: $spec has 'str', DOCUMENTATION has 'int'"),
    (b"host = @{ type = 'str' }", "host: documented, not in $spec"),
])
def test_a_mismatch_is_named(change, expected):
    with open(os.path.join(MODULES, "win_pool_facts.ps1"), "rb") as handle:
        source = handle.read()
    assert change in source
    broken = {
        b"top": b"top = @{ type = 'int'; default = 21 }",
        b"sam": b"samples = @{ default = 4 }",
        b"hos": b"",
    }[change[:3]]
    spec = ps1_spec(source.replace(change, broken))
    problems = compare(spec, documented_options(os.path.join(MODULES, "win_pool_facts.py")))
    assert expected in problems


def test_a_computed_spec_is_refused():
    with pytest.raises(SpecError, match=r"variable \$limit"):
        ps1_spec(b"$spec = @{ options = @{ top = @{ type = 'int'; default = $limit } } }\n")


def test_interval_is_one_type_in_both_gathering_modules():
    """The diagnose role passes one memleak_interval to meminfo_facts and to win_pool_facts."""
    with open(os.path.join(MODULES, "win_pool_facts.ps1"), "rb") as handle:
        windows = ps1_spec(handle.read())["options"]["interval"]
    linux = documented_options(os.path.join(MODULES, "meminfo_facts.py"))["interval"]
    assert windows["type"] == linux["type"] == "float"
    with open(os.path.join(MODULES, "meminfo_facts.py"), encoding="utf-8") as handle:
        assert 'interval=dict(type="float"' in handle.read()

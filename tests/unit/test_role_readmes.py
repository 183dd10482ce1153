"""Every role has a README that lists its variables, shows a play and says what check mode does."""

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.listdir(os.path.join(ROOT, "roles")))


def _read(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts)) as handle:
        return handle.read()


@pytest.mark.parametrize("role", ROLES)
def test_readme_lists_every_variable_of_every_entry_point(role):
    readme = _read(role, "README.md")
    specs = yaml.safe_load(_read(role, "meta", "argument_specs.yml"))["argument_specs"]
    for entry_point, spec in specs.items():
        section = readme.split("### Entry point `%s`" % entry_point, 1)
        assert len(section) == 2, "%s README: no section for entry point %s" % (role, entry_point)
        body = section[1].split("### Entry point", 1)[0]
        for name, option in (spec.get("options") or {}).items():
            row = re.search(r"^\| `%s` \| ([^|]+) \| ([^|]*) \|" % re.escape(name), body, re.M)
            assert row, "%s README, entry point %s: variable %s is missing" % (role, entry_point, name)
            assert row.group(1).startswith(option.get("type", "str")), "%s: %s has another type" % (role, name)


@pytest.mark.parametrize("role", ROLES)
def test_readme_has_an_example_play_and_says_what_check_mode_does(role):
    readme = _read(role, "README.md")
    assert "## Check mode" in readme
    plays = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    assert plays, "%s README has no example play" % role
    for text in plays:
        play = yaml.safe_load(text)
        assert any(("roles" in p and any("memleak.remediation.%s" % role in str(r) for r in p["roles"]))
                   or "memleak.remediation.%s" % role in str(p.get("tasks")) for p in play), role


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_documented(role):
    """A variable the role defaults is in its argument_specs (and so in its README)."""
    defaults = yaml.safe_load(_read(role, "defaults", "main.yml")) or {}
    specs = yaml.safe_load(_read(role, "meta", "argument_specs.yml"))["argument_specs"]
    documented = set()
    for spec in specs.values():
        documented.update((spec.get("options") or {}).keys())
    assert not set(defaults) - documented, "%s: defaults without documentation" % role

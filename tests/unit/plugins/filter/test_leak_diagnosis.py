"""The leak_diagnosis filter: thresholds as a dict or keywords, documented as they are."""

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.filter import leak_diagnosis as plugin
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import windows as windows_diagnosis
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo

SEED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "meminfo",
                    "centos7.4-3.10.0-693.el7-vmware.meminfo")
leak_diagnosis = plugin.FilterModule().filters()["leak_diagnosis"]


def seed():
    snap = schema.new_snapshot("db01", "2024-05-01T10:00:00Z")
    snap["os"]["kernel"] = "3.10.0-693.el7.x86_64"
    with open(SEED) as handle:
        snap["linux"]["meminfo"] = parse_meminfo(handle.read(), SEED)
    snap["virt"]["platform"] = "vmware"
    return snap


def test_positional_dict_like_the_role_and_keywords_which_win():
    assert leak_diagnosis(seed())["verdict"]["id"] == "unaccounted_kernel"
    assert leak_diagnosis(seed(), {"unaccounted_share": 0.7})["verdict"]["id"] == "healthy"
    assert leak_diagnosis(seed(), {"unaccounted_share": 0.7}, unaccounted_share=0.5)["verdict"]["id"] \
        == "unaccounted_kernel"
    assert leak_diagnosis(seed(), {})["verdict"]["id"] == "unaccounted_kernel"


def test_ledger_argument_is_passed_through():
    from ansible_collections.memleak.remediation.plugins.filter.memory_ledger import FilterModule
    entries = FilterModule().filters()["memory_ledger"](seed())
    assert leak_diagnosis(seed(), ledger=entries)["ledger"] == entries


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {"proces_share": 0.1}, "leak_diagnosis: unknown threshold 'proces_share'"),
    (("0.1",), {}, "leak_diagnosis: thresholds must be a dict, got str"),
    ((), {"process_share": 2}, "out of range"),
])
def test_bad_thresholds_are_ansible_errors(args, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        leak_diagnosis(seed(), *args, **kwargs)


def test_input_that_is_not_a_snapshot_is_an_ansible_error():
    with pytest.raises(AnsibleFilterError, match="leak_diagnosis: input is not a memleak_snapshot"):
        leak_diagnosis({"MemTotal": 8185937920})
    with pytest.raises(AnsibleFilterError, match="leak_diagnosis: snapshot of win1 holds no memory figure"):
        leak_diagnosis(schema.new_snapshot("win1", "2024-05-01T10:00:00Z", family="windows"))
    aix = schema.new_snapshot("aix1", "2024-05-01T10:00:00Z")
    aix["os"]["family"] = "aix"
    with pytest.raises(AnsibleFilterError, match="aix snapshot"):
        leak_diagnosis(aix)


def test_one_thresholds_dict_serves_linux_and_windows_hosts():
    fleet = {"unaccounted_share": 0.7, "pool_pressure_warning": 0.5}
    assert leak_diagnosis(seed(), fleet)["verdict"]["id"] == "healthy", "Linux reads its key, ignores the other"
    win = schema.new_snapshot("win1", "2024-05-01T10:00:00Z", family="windows")
    win["memory"].update(total=8 << 30, available=4 << 30)
    win["windows"]["pools"] = {"nonpaged": {"bytes": 600 << 20, "limit": 1 << 30},
                               "paged": {"bytes": 100 << 20, "resident": 80 << 20, "limit": 2 << 30}}
    assert leak_diagnosis(win)["verdict"]["id"] == "healthy"
    assert leak_diagnosis(win, fleet)["verdict"]["id"] == "pool_pressure", "Windows reads its key"
    with pytest.raises(AnsibleFilterError, match="leak_diagnosis: threshold pool_pressure_warning = 5 is out of range"):
        leak_diagnosis(win, pool_pressure_warning=5)
    with pytest.raises(AnsibleFilterError, match="leak_diagnosis: unknown threshold 'pool_pressure'"):
        leak_diagnosis(win, pool_pressure=0.5)


def test_documented_options_and_defaults_match_the_code():
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    documented = dict((name, spec.get("default")) for name, spec in doc["options"].items()
                      if name not in ("_input", "thresholds", "ledger"))
    assert not set(diagnosis.DEFAULTS) & set(windows_diagnosis.DEFAULTS), "Linux and Windows names must differ"
    code = dict(diagnosis.DEFAULTS)
    code.update(windows_diagnosis.DEFAULTS)
    assert documented == code
    kinds = dict((option[0], option[2]) for option in diagnosis.OPTIONS + windows_diagnosis.OPTIONS)
    for name, spec in doc["options"].items():
        if name in kinds:
            assert spec["type"] == ("float" if kinds[name] in ("share", "hours", "factor") else "int"), name
        if name in windows_diagnosis.DEFAULTS:
            text = " ".join(spec["description"]) if isinstance(spec["description"], list) else spec["description"]
            assert text.startswith("(Windows)"), name
    yaml.safe_load(plugin.EXAMPLES)
    yaml.safe_load(plugin.RETURN)

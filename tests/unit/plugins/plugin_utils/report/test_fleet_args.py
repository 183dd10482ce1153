"""fleet_args: the one input check of the fleet report filters, so that their errors read the same."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.fleet_args import check_fleet


@pytest.mark.parametrize("diagnoses, missing", [
    ([], None),
    ([{"host": "a"}], {}),
    (({"host": "a"}, {"host": "b"}), {"c": "unreachable"}),
])
def test_a_list_of_dicts_and_a_dict_of_reasons_pass(diagnoses, missing):
    assert check_fleet("fleet_x", diagnoses, missing) is None


@pytest.mark.parametrize("diagnoses", ["web1", {"host": "a"}, [{"host": "a"}, "b"], None, 3])
def test_anything_but_a_list_of_dicts_names_the_filter(diagnoses):
    with pytest.raises(AnsibleFilterError, match=r"^fleet_x: input must be a list of memleak_diagnosis dicts$"):
        check_fleet("fleet_x", diagnoses)


@pytest.mark.parametrize("missing", [["web3"], "web3", 1])
def test_missing_must_map_hosts_to_reasons(missing):
    with pytest.raises(AnsibleFilterError, match=r"^fleet_y: 'missing' must map host names to reasons$"):
        check_fleet("fleet_y", [], missing)

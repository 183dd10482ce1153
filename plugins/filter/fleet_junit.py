# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_junit
short_description: JUnit XML of memory diagnoses, unhealthy hosts as failures
version_added: 0.1.0
description:
  - "One test case per host (class name C(memleak.diagnose), name = host) so that a CI system shows the fleet as
    a test report. A host whose severity is in O(fail_on) is a failure (message C(verdict [severity]: summary),
    type = verdict id, text = culprit, numbers, plan and evidence); a host that could not be diagnosed is an
    error; the others pass with the same text as output."
options:
  _input:
    description: List of diagnoses as returned by P(memleak.remediation.leak_diagnosis#filter).
    type: list
    elements: dict
    required: true
  missing:
    description: Hosts without a diagnosis, mapped to the reason.
    type: dict
    default: {}
  fail_on:
    description: Severities that fail a host's test case.
    type: list
    elements: str
    choices: [ok, info, warning, critical]
    default: [warning, critical]
  generated_at:
    description: Time of the run, written as the test suite's C(timestamp).
    type: str
"""

EXAMPLES = r"""
- name: Write junit.xml for the CI system
  ansible.builtin.copy:
    content: "{{ diagnoses | memleak.remediation.fleet_junit(missing=not_diagnosed, fail_on=['critical']) }}"
    dest: /srv/reports/memleak/junit.xml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The XML document.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.fleet_args import check_fleet
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.formats import UNHEALTHY, fleet_junit


def _fleet_junit(diagnoses, missing=None, fail_on=None, generated_at=None):
    check_fleet("fleet_junit", diagnoses, missing)
    if fail_on is None:
        fail_on = UNHEALTHY
    elif isinstance(fail_on, str) or not is_sequence(fail_on):
        raise AnsibleFilterError("fleet_junit: 'fail_on' must be a list of severities")
    try:
        return fleet_junit(list(diagnoses), missing, fail_on=tuple(fail_on),
                           generated_at=str(generated_at) if generated_at else None)
    except ValueError as exc:
        raise AnsibleFilterError("fleet_junit: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"fleet_junit": _fleet_junit}

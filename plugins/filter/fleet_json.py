# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_json
short_description: Machine-readable fleet summary of memory diagnoses (summary.json)
version_added: 0.1.0
description:
  - "Returns the document the C(diagnose) role writes as C(summary.json). Its keys are stable (C(schema) 1):
    every key is always present, unknown values are null, and the counts list every verdict id and severity,
    zero included."
  - Hosts are in the order of the HTML report - most severe first, then the host that runs out of memory
    soonest, then the most bytes, then the name.
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
  generated_at:
    description: Time of the run, copied to C(generated_at).
    type: str
  report_dir:
    description: Where the reports were written, copied to C(report_dir).
    type: str
"""

EXAMPLES = r"""
- name: Write summary.json
  ansible.builtin.copy:
    content: "{{ diagnoses | memleak.remediation.fleet_json(missing=not_diagnosed) | to_nice_json(indent=2) }}\n"
    dest: /srv/reports/memleak/summary.json
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The summary.
  type: dict
  contains:
    schema:
      description: Always 1.
      type: int
    generated_at:
      description: The O(generated_at) option, or null.
      type: str
    report_dir:
      description: The O(report_dir) option, or null.
      type: str
    hosts_total:
      description: Hosts diagnosed plus hosts not diagnosed.
      type: int
    diagnosed:
      description: Hosts with a diagnosis.
      type: int
    not_diagnosed:
      description: Hosts without one.
      type: int
    counts:
      description: C(by_verdict) (every verdict id) and C(by_severity) (ok, info, warning, critical), zeros included.
      type: dict
    unhealthy:
      description: Hosts whose severity is warning or critical, most severe first.
      type: list
      elements: str
    hosts:
      description:
        - One entry per diagnosed host with C(host), C(verdict), C(severity), C(summary), C(culprit) (kind, name,
          owner, version), C(culprit_text), C(biggest_bytes), C(biggest_share), C(biggest_subject),
          C(biggest_text), C(growth_bytes_per_hour), C(growth_confidence), C(exhaustion_eta_hours), C(next_step),
          C(next_target), C(next_reason), C(next_text), C(findings) (count) and C(report) (the host's JSON file).
      type: list
      elements: dict
    not_diagnosed_hosts:
      description: C(host) and C(reason) of every host not diagnosed, by name.
      type: list
      elements: dict
"""

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.fleet_args import check_fleet
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.formats import fleet_json


def _fleet_json(diagnoses, missing=None, generated_at=None, report_dir=None):
    check_fleet("fleet_json", diagnoses, missing)
    return fleet_json(list(diagnoses), missing, generated_at=str(generated_at) if generated_at else None,
                      report_dir=str(report_dir) if report_dir else None)


class FilterModule(object):
    def filters(self):
        return {"fleet_json": _fleet_json}

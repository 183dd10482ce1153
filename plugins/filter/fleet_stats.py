# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_stats
short_description: Per-host verdicts and counts for AWX set_stats
version_added: 0.1.0
description:
  - The small dictionary the C(diagnose) role hands to M(ansible.builtin.set_stats), so that AWX / Automation
    Platform workflows and notifications can branch on the result (for example run the remediation template
    only when C(memleak_unhealthy) is not empty). Verdicts and counts only, no evidence, to keep job
    artifacts small.
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
"""

EXAMPLES = r"""
- name: Publish verdicts and counts to AWX workflows
  ansible.builtin.set_stats:
    data: "{{ diagnoses | memleak.remediation.fleet_stats(missing=not_diagnosed) }}"
    per_host: false
"""

RETURN = r"""
_value:
  description: The set_stats data.
  type: dict
  contains:
    memleak_verdicts:
      description: Host -> verdict id.
      type: dict
    memleak_severities:
      description: Host -> severity.
      type: dict
    memleak_counts:
      description: Verdict id -> number of hosts, every verdict id and C(not_diagnosed) present.
      type: dict
    memleak_severity_counts:
      description: Severity -> number of hosts (ok, info, warning, critical).
      type: dict
    memleak_unhealthy:
      description: Hosts with severity warning or critical, most severe first.
      type: list
      elements: str
    memleak_not_diagnosed:
      description: Host -> reason, for hosts that could not be diagnosed.
      type: dict
    memleak_hosts_total:
      description: All hosts, diagnosed or not.
      type: int
"""

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.fleet_args import check_fleet
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.formats import fleet_stats


def _fleet_stats(diagnoses, missing=None):
    check_fleet("fleet_stats", diagnoses, missing)
    return fleet_stats(list(diagnoses), missing)


class FilterModule(object):
    def filters(self):
        return {"fleet_stats": _fleet_stats}

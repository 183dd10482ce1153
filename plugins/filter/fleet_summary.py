# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_summary
short_description: Markdown fleet summary of memory diagnoses
version_added: 0.1.0
description:
  - Renders a table of diagnoses, most severe first, and lists every host that could not be diagnosed
    with the reason, so an unreachable host is reported and never silently dropped.
options:
  _input:
    description: List of diagnoses as returned by P(memleak.remediation.leak_diagnosis#filter).
    type: list
    elements: dict
    required: true
  missing:
    description: Hosts without a diagnosis, mapped to the reason (for example C(unreachable or failed)).
    type: dict
    default: {}
  report_dir:
    description: Where the per-host JSON files were written, mentioned at the end of the summary.
    type: str
  snapshots:
    description:
      - The matching C(memleak_snapshot) list (or a dict host -> snapshot); a diagnosis made without root
        then says it is partial and that C(--become) completes it.
    type: raw
"""

EXAMPLES = r"""
- name: Write the fleet summary
  ansible.builtin.copy:
    content: "{{ diagnoses | memleak.remediation.fleet_summary(missing={'web3': 'unreachable'}) }}"
    dest: /tmp/report/summary.md
    mode: "0644"
"""

RETURN = r"""
_value:
  description: Markdown text with one table row per host.
  type: str
"""

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.fleet_args import check_fleet
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import fleet_summary


def _fleet_summary(diagnoses, missing=None, report_dir=None, snapshots=None):
    check_fleet("fleet_summary", diagnoses, missing)
    return fleet_summary(list(diagnoses), missing, report_dir, snapshots)


class FilterModule(object):
    def filters(self):
        return {"fleet_summary": _fleet_summary}

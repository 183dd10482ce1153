# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_html
short_description: Self-contained HTML fleet report of memory diagnoses
version_added: 0.1.0
description:
  - "Renders one C(index.html) that works offline (no script, style or font is fetched): a fleet table sorted by
    severity (host, verdict, culprit, owner/version, biggest number, growth rate, time until memory runs out,
    next step), buttons that filter it by verdict, and one section per host with the memory ledger as a stacked
    bar and the culprit's series over time as a line chart with its limit and a break at every reboot."
  - The charts are SVG drawn on the controller; the only script is the verdict filter (without it every row
    stays visible).
  - Hosts that could not be diagnosed are listed with the reason.
options:
  _input:
    description: List of diagnoses as returned by P(memleak.remediation.leak_diagnosis#filter).
    type: list
    elements: dict
    required: true
  snapshots:
    description:
      - The matching snapshots (a list, or a dict keyed by host), for the trend charts and host facts.
      - Without them the page has the table, the ledger, the findings and the plan, but no trend.
    type: raw
  missing:
    description: Hosts without a diagnosis, mapped to the reason (for example C(unreachable)).
    type: dict
    default: {}
  title:
    description: Page title.
    type: str
    default: Memory diagnosis
  generated_at:
    description: Time shown in the page header, for example the start of the run in ISO 8601.
    type: str
"""

EXAMPLES = r"""
- name: Write the fleet page
  ansible.builtin.copy:
    content: "{{ diagnoses | memleak.remediation.fleet_html(snapshots=snapshots, missing={'web3': 'unreachable'}) }}"
    dest: /srv/reports/memleak/index.html
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The HTML document.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.fleet_args import check_fleet
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.html import render_index


def _fleet_html(diagnoses, snapshots=None, missing=None, title="Memory diagnosis", generated_at=None):
    check_fleet("fleet_html", diagnoses, missing)
    if snapshots is not None and not isinstance(snapshots, dict) and not is_sequence(snapshots):
        raise AnsibleFilterError("fleet_html: 'snapshots' must be a list of snapshots or a dict keyed by host")
    return render_index(list(diagnoses), snapshots, missing, title=str(title),
                        generated_at=str(generated_at) if generated_at else None)


class FilterModule(object):
    def filters(self):
        return {"fleet_html": _fleet_html}

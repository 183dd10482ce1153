# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: decision_line
short_description: One line per host from a remediation decision
version_added: 0.1.0
description:
  - "Renders a decision of P(memleak.remediation.next_step#filter) as the line the C(remediate) role prints:
    C(host: run STEP (target) [case]: reason), C(host: wait [case]: reason), C(host: close the case [case]: reason)
    or C(host: nothing to do: reason); in check mode C(would run) and C(would close)."
options:
  _input:
    description: A decision as returned by P(memleak.remediation.next_step#filter).
    type: dict
    required: true
  host:
    description: Host name to print.
    type: str
  check_mode:
    description: Say C(would run) / C(would close the case) instead of C(run) / C(close the case).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Print the decision of this host
  ansible.builtin.debug:
    msg: "{{ memleak_decision | memleak.remediation.decision_line(inventory_hostname, check_mode=ansible_check_mode) }}"
"""

RETURN = r"""
_value:
  description: "The line, for example C(db01: wait [unaccounted_kernel:kernel:unaccounted]: Observing patch_os of ...)."
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import decision_line


def _decision_line(decision, host=None, check_mode=False):
    if not isinstance(decision, dict) or "action" not in decision:
        raise AnsibleFilterError("decision_line: input is not a next_step decision (no 'action' key)")
    return decision_line(decision, host, bool(check_mode))


class FilterModule(object):
    def filters(self):
        return {"decision_line": _decision_line}

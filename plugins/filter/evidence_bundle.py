# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: evidence_bundle
short_description: The evidence an escalation sends, as one JSON-ready dict
version_added: 0.1.0
description:
  - Puts together what the owner of a case needs to act without asking back - the diagnosis with its findings
    and evidence lines, the host's recent samples, the OS, VMware Tools and balloon driver versions (and on
    Windows the driver files behind the pool tags), the remediation steps already tried for the case, the
    reason of the escalation and its idempotency key.
  - The bundle holds no credentials.
positional: _input, snapshot, ledger, decision
options:
  _input:
    description: The host's C(memleak_diagnosis).
    type: dict
    required: true
  snapshot:
    description: The host's C(memleak_snapshot).
    type: dict
    required: true
  ledger:
    description: The host's remediation ledger entries.
    type: list
    elements: dict
    required: true
  decision:
    description: The decision of P(memleak.remediation.next_step#filter) that escalates.
    type: dict
    required: true
  max_samples:
    description: The newest samples to include.
    type: int
    default: 200
"""

EXAMPLES = r"""
- name: Build the evidence of the escalation
  ansible.builtin.set_fact:
    bundle: "{{ memleak_diagnosis | memleak.remediation.evidence_bundle(memleak_snapshot, ledger.entries, decision) }}"
"""

RETURN = r"""
_value:
  description:
    - "C({schema: 1, kind: memleak.remediation/escalation, host, case, idempotency_key, opened_at, audience,
      reason, target, verdict, culprit, eta_hours, diagnosis, versions: {os, virt_platform, tools, balloon,
      drivers}, steps_tried, samples, collected_at, boot_id})."
    - C(audience) is C(virtualization owner) for balloon inflation, else the owner of the culprit.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation.elimination import evidence_bundle


def _evidence_bundle(diagnosis, snapshot, ledger, decision, max_samples=200):
    for name, value, kind in (("diagnosis", diagnosis, dict), ("snapshot", snapshot, dict),
                              ("ledger", ledger, list), ("decision", decision, dict)):
        if not isinstance(value, kind):
            raise AnsibleFilterError("evidence_bundle: %s must be a %s, got %s" % (
                name, kind.__name__, type(value).__name__))
    return evidence_bundle(diagnosis, snapshot, ledger, decision, int(max_samples))


class FilterModule(object):
    def filters(self):
        return {"evidence_bundle": _evidence_bundle}

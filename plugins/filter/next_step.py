# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: next_step
short_description: The one next remediation step of a host, from its diagnosis and remediation ledger
version_added: 0.1.0
description:
  - The elimination sequence of the collection (patch the OS, then VMware Tools, then escalate; restart only
    as a stop-gap), made stateful. It reads the diagnosis, the host's remediation ledger and its samples and
    returns exactly one step with the reason.
  - "A case is C(verdict:culprit kind:culprit name). Its sequence is the plan's C(patch_os),
    C(vmware_tools) and C(escalate) steps in plan order (the knowledge base orders the plan), C(escalate)
    last; O(options.vmware_guest) adds C(vmware_tools) after C(patch_os) for kernel-side culprits. Balloon
    inflation is escalated to the virtualization owner and nothing else."
  - The first step needs proven growth (O(options.require_growth)). A step is judged only when the samples
    after it cover O(options.observe_hours). Still growing leads to the next step, not growing closes the
    case (C(action=close)), anything less keeps observing (C(action=wait)).
  - "A restart is chosen before anything else when memory runs out sooner than O(options.restart_eta_hours),
    and only inside O(options.maintenance_windows), when O(options.protected) is false, with
    O(options.restart_budget) left, and not within O(options.observe_hours) of the previous restart. Wanted
    but not allowed, the case is escalated at once instead (C(restart_blocked) says why)."
  - Pure. The same input always gives the same decision; C(now) is an input, not the clock.
positional: _input, ledger
options:
  _input:
    description: The host's C(memleak_diagnosis) (with the knowledge base's C(kb) and plan order when present).
    type: dict
    required: true
  ledger:
    description: The host's remediation ledger entries (RV(memleak.remediation.remediation_ledger#module:entries)).
    type: list
    elements: dict
    default: []
  samples:
    description: The host's samples, C(memleak_snapshot.samples) (history and this run, compact form).
    type: list
    elements: dict
    default: []
  now:
    description: The time of the decision, ISO-8601 UTC, normally C(memleak_snapshot.collected_at); default the newest sample.
    type: str
  options:
    description: Options of the elimination.
    type: dict
    default: {}
    suboptions:
      observe_hours:
        description: Hours of new samples a step needs before it is judged.
        type: float
        default: 24
      min_samples:
        description: New samples a step needs before it is judged.
        type: int
        default: 4
      restart_eta_hours:
        description: A restart is a stop-gap only when memory runs out sooner than this.
        type: float
        default: 48
      maintenance_windows:
        description:
          - Windows (UTC) in which a restart may run, as C({days, start, end}) with C(days) a list of C(mon) ..
            C(sun) or C(daily), or as the string C(sat,sun 22:00-04:00). An end not after the start runs past
            midnight. Empty means a restart is never allowed.
        type: list
        elements: raw
        default: []
      protected:
        description: The host is on the protect list and is never restarted.
        type: bool
        default: false
      restart_budget:
        description: False when the fleet's share of restarts in this run is used up.
        type: bool
        default: true
      sequence:
        description: The elimination order for every case instead of the plan's, from C(patch_os), C(vmware_tools), C(escalate).
        type: list
        elements: str
      vmware_guest:
        description: The host is a VMware guest; C(vmware_tools) follows C(patch_os) for kernel-side culprits.
        type: bool
        default: false
      require_growth:
        description: Take the first step only when the diagnosis proved growth (never on a snapshot alone).
        type: bool
        default: true
      max_attempts:
        description: Tries of a failing step before the sequence moves on (escalation is retried every run).
        type: int
        default: 2
      host:
        description: Host name in the idempotency key; default the diagnosis' host.
        type: str
"""

EXAMPLES = r"""
- name: Decide the next step of this host
  ansible.builtin.set_fact:
    memleak_decision: >-
      {{ memleak_diagnosis | memleak.remediation.next_step(ledger.entries,
           samples=memleak_snapshot.samples, now=memleak_snapshot.collected_at,
           options={'maintenance_windows': ['sat,sun 22:00-04:00'], 'observe_hours': 24}) }}

- name: Say it
  ansible.builtin.debug:
    msg: "{{ memleak_decision.step }} ({{ memleak_decision.action }}): {{ memleak_decision.reason }}"
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    case:
      description: The case id, C(verdict:culprit kind:culprit name), or null when there is nothing to remediate.
      type: str
    step:
      description: C(none), C(patch_os), C(vmware_tools), C(restart) or C(escalate).
      type: str
    action:
      description: C(run) (do the step and record it), C(close) (record the case closed), C(wait) (observing, change nothing), C(none).
      type: str
    reason:
      description: One or two plain sentences that say why this step.
      type: str
    target:
      description: The plan's target of the step (for example the fixing version or the owner), or the host for a restart.
      type: str
    sequence:
      description: The steps of the case in order.
      type: list
      elements: str
    tried:
      description: The case's remediation ledger entries so far, C({step, t, result}).
      type: list
      elements: dict
    judged:
      description: How the last step was judged, C({state, samples, covered_hours, bytes_per_hour, reason}), or null.
      type: dict
    eta_hours:
      description: Hours until memory runs out at the current rate, or null.
      type: float
    series:
      description: The history series watched for the case.
      type: str
    idempotency_key:
      description: The key of the case's escalation; the same for every run of one case.
      type: str
    reboot_allowed:
      description: A reboot may run now (in a window, not protected, budget left).
      type: bool
    restart_blocked:
      description: Why a wanted restart may not run, or null.
      type: str
    opened_at:
      description: When the case was opened (its first ledger entry), or now.
      type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.module_utils.series import to_hours
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation.elimination import EliminationError, next_step


def _next_step(diagnosis, ledger=None, samples=None, now=None, options=None):
    for name, value in (("ledger", ledger), ("samples", samples)):
        if value is not None and not isinstance(value, list):
            raise AnsibleFilterError("next_step: %s must be a list, got %s" % (name, type(value).__name__))
    if now is not None and not isinstance(now, str):
        raise AnsibleFilterError("next_step: now must be an ISO-8601 time as text, got %s" % type(now).__name__)
    if now is not None:
        try:
            to_hours(now)
        except (TypeError, ValueError) as exc:
            raise AnsibleFilterError("next_step: now %r is not an ISO-8601 time: %s" % (now, exc))
    for index, sample in enumerate(samples or []):
        if isinstance(sample, dict) and "t" in sample:
            try:
                to_hours(sample["t"])
            except (TypeError, ValueError, AttributeError):
                raise AnsibleFilterError("next_step: samples[%d].t %r is not an ISO-8601 time" % (index, sample["t"]))
    try:
        return next_step(diagnosis, ledger or [], samples or [], now, options or {})
    except EliminationError as exc:
        raise AnsibleFilterError("next_step: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"next_step": _next_step}

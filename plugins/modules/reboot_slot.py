# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation; the work is done by the action plugin of the same name
# (plugins/action/reboot_slot.py), on the controller.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: reboot_slot
short_description: Claim one of the reboots a run may cause, whatever the strategy
version_added: "0.1.0"
description:
  - Counts the reboots the collection causes in one C(ansible-playbook) run (a stop-gap restart, a reboot after
    patching) and grants one to a host only while fewer than O(cap) are taken, so the fleet's share of reboots
    holds under C(strategy=free), any number of forks and C(serial) batches alike.
  - The count lives in one file of the run's controller temporary directory (C(ANSIBLE_LOCAL_TEMP), created by
    C(ansible-playbook) for this run and removed at its end), read and written under an exclusive lock, mode
    C(0600). Nothing runs on the host.
  - A host that already holds a slot in this run is granted again (the task may repeat).
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  cap:
    description: How many reboots this run may cause in all.
    type: int
    required: true
  host:
    description: The host that wants to reboot (normally C(inventory_hostname)).
    type: str
    required: true
  reason:
    description: Why it reboots.
    type: str
    required: true
    choices: [restart, patch_reboot]
  release:
    description: Give the host's slot back (the reboot turned out not to be needed).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
    details: The count is kept by the user that runs Ansible.
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Slots are counted in check mode too, so that the run shows which hosts would reboot.
  connection:
    support: none
  delegation:
    support: none
    details: The count is always kept on the controller; C(delegate_to) changes nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
    details: The task's host is not touched; the controller must be a POSIX system.
"""

EXAMPLES = r"""
- name: Claim a reboot slot (at most 10 % of the play's hosts)
  memleak.remediation.reboot_slot:
    cap: "{{ [1, (0.1 * ansible_play_hosts_all | length) | round(0, 'floor') | int] | max }}"
    host: "{{ inventory_hostname }}"
    reason: restart
  register: slot
"""

RETURN = r"""
granted:
  description: Whether the host may reboot.
  returned: always
  type: bool
  sample: true
cap:
  description: The cap the slot was claimed against.
  returned: always
  type: int
  sample: 1
used:
  description: Slots taken in this run after the claim.
  returned: always
  type: int
  sample: 1
holders:
  description: The hosts holding a slot in this run.
  returned: always
  type: list
  elements: str
  sample: [web01]
"""

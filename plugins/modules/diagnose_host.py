# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation; the work is done by the action plugin of the same name
# (plugins/action/diagnose_host.py): it runs the gather module on the host and the rest on the controller.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diagnose_host
short_description: Read a host's memory, diagnose it and write its report, in one task
version_added: "0.1.0"
description:
  - Gathers the host's memory snapshot with M(memleak.remediation.meminfo_facts) (Linux) or
    M(memleak.remediation.win_pool_facts) (Windows), chosen by the connection as P(ansible.builtin.gather_facts#module)
    chooses its fact modules, then diagnoses it and annotates the diagnosis from the knowledge base on the controller,
    with the same code as the P(memleak.remediation.leak_diagnosis#filter) and P(memleak.remediation.kb_annotate#filter)
    filters, and writes C(<report_dir>/<inventory_hostname>.json) on the controller with the same code as
    M(memleak.remediation.report_files).
  - Sets the facts C(memleak_snapshot) and C(memleak_diagnosis), as the module and the filters did, and any other fact
    the gather module returns (C(memleak_remediation_ledger) when C(module_defaults) give
    M(memleak.remediation.meminfo_facts) O(memleak.remediation.meminfo_facts#module:ledger=true), as the C(remediate)
    role does).
  - One task instead of one per step; Ansible's own cost per task on the controller is larger than the
    diagnosis. The C(diagnose) and C(remediate) roles use it; the module and the filters stay for plays
    that compose their own steps.
  - A host is Windows when its connection is WinRM or PSRP, or its shell is PowerShell or cmd (OpenSSH on
    Windows); O(os_family) overrides that.
  - The play's C(module_defaults) for the gather module apply to it (as for P(ansible.builtin.gather_facts#module)).
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  os_family:
    description: Which gather module runs; C(auto) decides by the connection.
    type: str
    choices: [auto, linux, windows]
    default: auto
  host:
    description: The name recorded in the snapshot. Default is the inventory host name.
    type: str
  top:
    description: Passed to the gather module (its default when omitted).
    type: int
  samples:
    description: Passed to the gather module; M(memleak.remediation.win_pool_facts) gets at least 2.
    type: int
  interval:
    description: Passed to the gather module.
    type: float
  history:
    description: Passed to the gather module.
    type: bool
  history_path:
    description: Passed to the gather module.
    type: str
  proc_root:
    description: Passed to M(memleak.remediation.meminfo_facts) (Linux only).
    type: str
  scan_drivers:
    description: Passed to M(memleak.remediation.win_pool_facts) (Windows only).
    type: int
  thresholds:
    description: Threshold overrides of P(memleak.remediation.leak_diagnosis#filter), keyed by its option names.
    type: dict
    default: {}
  kb_files:
    description: Your own knowledge base files, as for P(memleak.remediation.kb_annotate#filter).
    type: list
    elements: path
    default: []
  pooltag_file:
    description:
      - Microsoft's C(pooltag.txt) on the controller, as for P(memleak.remediation.kb_annotate#filter); also passed to
        M(memleak.remediation.win_pool_facts), which reads it on the host when the same path exists there.
    type: path
  report_dir:
    description:
      - Directory on the controller for C(<inventory_hostname>.json) (the snapshot and the diagnosis, as
        C(to_nice_json(indent=2))). Created when missing. No file is written when omitted.
      - Written also in check mode, like the C(diagnose) role's reports; the host is only read.
      - The task is changed when the report was written (an unchanged file is left alone) or the gather module
        changed the host (its history).
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The gather module runs in check mode (it reads the history and writes nothing on the host); the report
      is written on the controller.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: [posix, windows]
notes:
  - A host that cannot be reached fails the task (not unreachable), with the reason in RV(memleak_error), so that a
    C(rescue) keeps it for the fleet summary. A gather module that fails gives the same, starting C(failed:).
seealso:
  - module: memleak.remediation.meminfo_facts
  - module: memleak.remediation.win_pool_facts
  - module: memleak.remediation.report_files
"""

EXAMPLES = r"""
- name: Read, diagnose and report the host
  memleak.remediation.diagnose_host:
    report_dir: /srv/reports/memleak
    thresholds:
      process_share: 0.10

- name: The same in three steps, with the public module and filters
  block:
    - name: Read the host
      memleak.remediation.meminfo_facts:
    - name: Diagnose it
      ansible.builtin.set_fact:
        memleak_diagnosis: "{{ memleak_snapshot | memleak.remediation.leak_diagnosis({'process_share': 0.10})
                               | memleak.remediation.kb_annotate(snapshot=memleak_snapshot) }}"
    - name: Write the report
      memleak.remediation.report_files:
        dir: /srv/reports/memleak
        files:
          - name: "{{ inventory_hostname }}.json"
            content: "{{ {'memleak_snapshot': memleak_snapshot, 'memleak_diagnosis': memleak_diagnosis} | to_nice_json(indent=2) }}\n"
"""

RETURN = r"""
ansible_facts:
  description: The gather module's facts (C(memleak_snapshot), C(memleak_remediation_ledger) when asked for) and C(memleak_diagnosis).
  returned: success
  type: dict
module:
  description: The gather module chosen for the host (also when it could not be run).
  returned: always
  type: str
  sample: memleak.remediation.meminfo_facts
verdict_line:
  description: The host's line, as P(memleak.remediation.verdict_line#filter) renders it.
  returned: success
  type: str
report:
  description: The path of the host report on the controller.
  returned: when O(report_dir) is set
  type: str
  sample: /srv/reports/memleak/web01.json
history_path:
  description: The history file the gather module used on the host, as the module returns it.
  returned: when the module used a history
  type: str
  sample: /var/lib/memleak/history.jsonl
memleak_error:
  description: Why the host could not be read, starting C(unreachable:) or C(failed:).
  returned: when the host could not be read
  type: str
"""

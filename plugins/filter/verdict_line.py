# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: verdict_line
short_description: One line per host from a memory diagnosis
version_added: 0.1.0
description:
  - "Renders a C(memleak_diagnosis) as C(host: verdict [severity] | culprit | biggest number | next step),
    the line the C(diagnose) role prints for every host."
  - The biggest number is the bytes of the finding behind the verdict, with its share of RAM.
options:
  _input:
    description:
      - A diagnosis as returned by P(memleak.remediation.leak_diagnosis#filter), or a host's variables
        holding C(memleak_diagnosis) and C(memleak_snapshot) (C(hostvars[host])).
    type: dict
    required: true
  host:
    description: Host name to print; defaults to the diagnosis' own C(host).
    type: str
  snapshot:
    description:
      - "The host's C(memleak_snapshot); when parts of it were unreadable without root, the line ends with
        C(partial diagnosis (slabinfo unreadable without root): run with --become)."
    type: dict
"""

EXAMPLES = r"""
- name: Print the verdict of this host
  ansible.builtin.debug:
    msg: "{{ memleak_diagnosis | memleak.remediation.verdict_line }}"
"""

RETURN = r"""
_value:
  description: "The line, for example C(db01: unaccounted_kernel [warning] | kernel unaccounted | 5.1 GiB (66.5 % of RAM) | next: escalate)."
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import verdict_line


def _verdict_line(diagnosis, host=None, snapshot=None):
    if isinstance(diagnosis, Mapping) and "memleak_diagnosis" in diagnosis:
        snapshot = snapshot or diagnosis.get("memleak_snapshot")
        diagnosis = diagnosis["memleak_diagnosis"]
    if not isinstance(diagnosis, dict) or "verdict" not in diagnosis:
        raise AnsibleFilterError("verdict_line: input is not a memleak_diagnosis (no 'verdict' key)")
    if not isinstance(diagnosis["verdict"], dict):
        raise AnsibleFilterError("verdict_line: input is not a memleak_diagnosis (verdict is %s, not a dict)"
                                 % type(diagnosis["verdict"]).__name__)
    if host is not None and not isinstance(host, str):
        raise AnsibleFilterError("verdict_line: host must be a string, got %s" % type(host).__name__)
    return verdict_line(diagnosis, host, snapshot if isinstance(snapshot, dict) else None)


class FilterModule(object):
    def filters(self):
        return {"verdict_line": _verdict_line}

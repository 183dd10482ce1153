# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: apt_pending
short_description: Pending updates and security updates from an apt-get simulation
version_added: 0.1.0
description:
  - Reads the output of C(apt-get -s dist-upgrade) (or C(upgrade)), which changes nothing on the host, and lists
    every package apt would upgrade or install with its installed and candidate versions and origins.
  - An update counts as a security update when one of its origins is a security suite (C(bookworm-security),
    C(jammy-security), origin C(Debian-Security)).
positional: _input
options:
  _input:
    description: The standard output of C(apt-get -s dist-upgrade).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Simulate the upgrade (changes nothing)
  ansible.builtin.command: apt-get -s -o Debug::NoLocking=1 dist-upgrade
  register: simulation
  changed_when: false
  check_mode: false

- name: Count them
  ansible.builtin.debug:
    msg: "{{ (simulation.stdout | memleak.remediation.apt_pending).security }} security updates pending"
"""

RETURN = r"""
_value:
  description: C({pending, security, packages}); each package C({name, current, candidate, origins, arch, security}).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation.package_updates import parse_apt_simulation


def _apt_pending(text):
    if not isinstance(text, str):
        raise AnsibleFilterError("apt_pending: input must be the text of apt-get -s, got %s" % type(text).__name__)
    try:
        return parse_apt_simulation(text)
    except ParseError as exc:
        raise AnsibleFilterError("apt_pending: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"apt_pending": _apt_pending}

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: kb_annotate
short_description: Add what the knowledge base knows to a memory diagnosis
version_added: 0.1.0
description:
  - Looks up the subject of every finding of a C(memleak_diagnosis) (pool tags, slab caches, balloon drivers) in the
    collection's knowledge base, in the user's own knowledge base files (whose entries win) and, for pool tags that
    neither knows, in a C(pooltag.txt) the user points at.
  - Fills each known finding's C(kb) (C(id), C(title), C(fixed_in), C(reference)), the missing owner of the subject
    and of the culprit, and adds evidence lines that say what was compared (for example the installed VMware Tools
    version against the version that fixes a known issue).
  - Puts the plan in the order the knowledge calls for. A known issue whose fixed version is newer than the installed
    one comes first (a VMware Tools driver below C(fixed_in) gives C(vmware_tools) first); otherwise the entry's
    preferred step (an operating system component gives C(patch_os), a balloon driver an escalation to the
    virtualization owner); a pool tag nobody knows whose driver file comes from a third party gives an escalation to
    that vendor with the driver's file version. The diagnosis's own steps follow, without repeats.
  - The format of knowledge base files is described in the collection's C(docs/knowledge-base.md). Microsoft's
    C(pooltag.txt) is not shipped with the collection (it may not be redistributed); it comes with the Debugging
    Tools for Windows and the Windows Driver Kit.
positional: _input
options:
  _input:
    description: A C(memleak_diagnosis) (schema 1).
    type: dict
    required: true
  snapshot:
    description:
      - The C(memleak_snapshot) the diagnosis was made from. It supplies the VMware Tools version, the OS build or
        kernel and the driver files found for each pool tag; without it no version can be compared.
    type: dict
  kb_files:
    description:
      - Paths of the user's knowledge base files (YAML, same format as the collection's). Their entries win over the
        collection's; later files do not override earlier ones, the best match among all of them is used.
    type: list
    elements: path
    default: []
  pooltag_file:
    description:
      - Path of a C(pooltag.txt) (lines C(TAG - binary - description)). Used only for pool tags that no knowledge base
        entry describes, and to fill an entry's missing binary.
    type: path
  builtin:
    description: Whether to use the knowledge base that ships with the collection.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Annotate the diagnosis with the collection's knowledge base
  ansible.builtin.set_fact:
    memleak_diagnosis: "{{ memleak_diagnosis | memleak.remediation.kb_annotate(snapshot=memleak_snapshot) }}"

- name: With our own entries and Microsoft's pooltag.txt from the Debugging Tools
  ansible.builtin.set_fact:
    memleak_diagnosis: >-
      {{ memleak_diagnosis | memleak.remediation.kb_annotate(snapshot=memleak_snapshot,
         kb_files=[playbook_dir ~ '/files/our-kb.yml'],
         pooltag_file='/opt/debuggers/triage/pooltag.txt') }}
"""

RETURN = r"""
_value:
  description:
    - The diagnosis, a copy with C(findings[].kb), C(findings[].subject.owner), C(findings[].evidence),
      C(culprit.owner), C(culprit.version) and C(plan) completed from the knowledge base. Nothing else changes.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.host import HostDiagnosisError, kb_annotate


def _kb_annotate(diagnosis, snapshot=None, kb_files=None, pooltag_file=None, builtin=True):
    try:
        return kb_annotate(diagnosis, snapshot=snapshot, kb_files=kb_files, pooltag_file=pooltag_file, builtin=builtin)
    except HostDiagnosisError as exc:
        raise AnsibleFilterError("kb_annotate: %s" % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {"kb_annotate": _kb_annotate}

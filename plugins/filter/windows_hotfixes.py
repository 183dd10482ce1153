# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: windows_hotfixes
short_description: Installed Windows updates, and the required ones that are missing
version_added: 0.1.0
description:
  - Reads the lines the C(patch_os) audit prints on a Windows host, one per installed update
    (C(Win32_QuickFixEngineering) through C(Get-HotFix)) as C(HotFixID<TAB>Description<TAB>YYYY-MM-DD),
    and compares them with a list of required KB numbers (the audit's C(memleak_policy_required_updates)).
positional: _input
options:
  _input:
    description: The standard output of the audit's C(Get-HotFix) task.
    type: str
    required: true
  required:
    description: KB numbers that must be installed (C(KB5034439) or C(5034439)).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Which required updates are missing
  ansible.builtin.debug:
    msg: "{{ (hotfixes.stdout | memleak.remediation.windows_hotfixes(required=['KB5034439'])).missing }}"
"""

RETURN = r"""
_value:
  description:
    - C({updates, count, newest, missing}); each update C({id, raw, description, installed_on}).
    - C(id) is null for an entry that is not a KB number (C(raw) keeps it); C(newest) is the latest install date.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation.package_updates import (
    missing_updates, parse_windows_hotfixes)


def _windows_hotfixes(text, required=None):
    if not isinstance(text, str):
        raise AnsibleFilterError("windows_hotfixes: input must be the text of the Get-HotFix task, got %s"
                                 % type(text).__name__)
    try:
        result = parse_windows_hotfixes(text)
        result["missing"] = missing_updates(result["updates"], required or [])
    except ParseError as exc:
        raise AnsibleFilterError("windows_hotfixes: %s" % exc)
    return result


class FilterModule(object):
    def filters(self):
        return {"windows_hotfixes": _windows_hotfixes}

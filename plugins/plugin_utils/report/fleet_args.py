# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument checks every fleet report filter shares, so their errors read the same."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence


def check_fleet(name, diagnoses, missing=None):
    """Raise a filter error naming ``name`` unless diagnoses is a list of dicts and missing a dict."""
    if not is_sequence(diagnoses) or not all(isinstance(d, dict) for d in diagnoses):
        raise AnsibleFilterError("%s: input must be a list of memleak_diagnosis dicts" % name)
    if missing is not None and not isinstance(missing, dict):
        raise AnsibleFilterError("%s: 'missing' must map host names to reasons" % name)

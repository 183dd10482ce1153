# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: pool_limits
short_description: Maximum Windows paged and nonpaged pool for an OS version, architecture and RAM
version_added: 0.1.0
description:
  - Returns the largest size the Windows memory manager lets the nonpaged and the paged pool reach, in bytes.
  - "Windows XP / Server 2003 and Vista / 2008 / 7 / 2008 R2 follow Mark Russinovich's table in
    I(Pushing the Limits of Windows: Paged and Nonpaged Pool); Windows 8 / 2012 and 8.1 / 2012 R2 and
    later follow Microsoft's I(Memory Limits for Windows and Windows Server Releases)
    (64-bit 8.1 and later: nonpaged = min(RAM, 16 TB), paged = min(commit limit, 15.5 TB))."
  - The input is either a Windows version (C(10.0.17763), C(6.1), C(2012 R2), a product caption) or a whole
    C(memleak_snapshot), whose C(os.version), C(os.arch), C(os.ram_bytes), C(memory.commit_limit) and
    C(windows.boot_options) are used.
  - A limit that depends on an input that is not known (RAM, commit limit) is V(null).
options:
  _input:
    description: A Windows version or release name, or a C(memleak_snapshot) dict.
    type: raw
    required: true
  arch:
    description: Architecture (V(x86), V(x64), V(AMD64), V(32-bit), V(64-bit), V(ARM64)). Required with a version string.
    type: str
  ram_bytes:
    description: Physical memory visible to Windows, in bytes.
    type: int
  commit_limit:
    description: System commit limit in bytes (caps the paged pool from Vista on).
    type: int
  user_va_mb:
    description:
      - User address space in MB of a 32-bit system started with C(/3GB) (3072), C(/USERVA) or
        C(increaseuserva); shrinks the kernel address space the pools live in. Ignored on 64-bit.
    type: int
"""

EXAMPLES = r"""
- name: Limits of a 64-bit Windows Server 2019 with 16 GiB of RAM
  ansible.builtin.debug:
    msg: "{{ '10.0.17763' | memleak.remediation.pool_limits(arch='x64', ram_bytes=17179869184, commit_limit=21474836480) }}"

- name: How full is the nonpaged pool of a gathered host
  vars:
    __limits: "{{ ansible_facts.memleak_snapshot | memleak.remediation.pool_limits }}"
  ansible.builtin.debug:
    msg: "{{ (100 * ansible_facts.memleak_snapshot.windows.pools.nonpaged.bytes / __limits.nonpaged) | round(1) }} %"
"""

RETURN = r"""
_value:
  description: The limits and how they were derived.
  type: dict
  contains:
    nonpaged:
      description: Maximum nonpaged pool in bytes, or null when it depends on an unknown input.
      type: int
    paged:
      description: Maximum paged pool in bytes, or null when it depends on an unknown input.
      type: int
    family:
      description: Rule family, one of V(xp_2003), V(vista_7), V(win8_2012), V(win81_later).
      type: str
    bits:
      description: 32 or 64.
      type: int
    approximate:
      description: True when a rule is a rounded percentage or an interpolation.
      type: bool
    basis:
      description: One sentence per pool naming the rule applied.
      type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.pool_limits import (
    limits_for_snapshot,
    pool_limits,
)


def _pool_limits(_input, arch=None, ram_bytes=None, commit_limit=None, user_va_mb=None):
    try:
        if isinstance(_input, dict):
            for key in ("os", "memory", "windows"):
                if not isinstance(_input.get(key) or {}, dict):
                    raise AnsibleFilterError("pool_limits: input is not a memleak_snapshot (%s is %s, not a dict)"
                                             % (key, type(_input[key]).__name__))
            if (_input.get("os") or {}).get("family") not in (None, "windows"):
                raise AnsibleFilterError("pool_limits: the snapshot is not of a Windows host (os.family is %r)"
                                         % _input["os"].get("family"))
            return limits_for_snapshot(_input)
        if arch is None:
            raise AnsibleFilterError("pool_limits: arch is required when the input is a version string")
        return pool_limits(_input, arch, ram_bytes=ram_bytes, commit_limit=commit_limit, user_va_mb=user_va_mb)
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as err:
        raise AnsibleFilterError("pool_limits: input, arch, ram_bytes, commit_limit or user_va_mb of a wrong type or "
                                 "value: %s" % to_native(err))


class FilterModule(object):
    def filters(self):
        return {"pool_limits": _pool_limits}

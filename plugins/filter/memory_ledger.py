# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: memory_ledger
short_description: Where the memory of a Linux host is, category by category
version_added: 0.1.0
description:
  - Splits MemTotal of a Linux host into categories that never overlap (free, page cache, shared memory,
    anonymous memory, slab, kernel stacks, page tables, vmalloc, per-CPU, huge pages, zswap, zram, balloon)
    and C(unaccounted), the memory no kernel counter explains. The categories add up to MemTotal exactly.
  - Knows which /proc/meminfo counters overlap on the kernels that matter (3.10 to 6.x), for example that
    C(Cached) contains C(Shmem) and that C(VmallocUsed) meant address space before Linux 4.4.
    The formula is stated in the collection's C(docs/linux-ledger.md).
  - C(unaccounted) is never negative. When the counters add up to more than MemTotal the excess is trimmed
    and the C(unaccounted) description says by how much and why.
positional: _input, kernel
options:
  _input:
    description:
      - A C(memleak_snapshot) as returned by M(memleak.remediation.meminfo_facts), or the parsed
        /proc/meminfo of one (field name to bytes, C(HugePages_*) as counts).
    type: dict
    required: true
  kernel:
    description:
      - Kernel release such as C(3.10.0-693.el7.x86_64). Overrides the snapshot's C(os.kernel); needed to
        interpret C(VmallocUsed) when the input is a bare meminfo dict.
      - When unknown, the meaning of C(VmallocUsed) is taken from C(VmallocChunk) (non-zero only before 4.4).
    type: str
"""

EXAMPLES = r"""
- name: Show where the memory of this host is
  ansible.builtin.debug:
    msg: "{{ memleak_snapshot | memleak.remediation.memory_ledger }}"

- name: Bytes no kernel counter explains
  ansible.builtin.set_fact:
    unaccounted_bytes: >-
      {{ (memleak_snapshot | memleak.remediation.memory_ledger
          | selectattr('category', 'equalto', 'unaccounted') | first).bytes }}
"""

RETURN = r"""
_value:
  description:
    - One entry per category, always the same categories in the same order, summing to MemTotal.
    - C(category) is one of free, page_cache, shmem, anon, unevictable, slab_reclaimable, slab_unreclaimable,
      kernel_stack, page_tables, vmalloc, percpu, kernel_other, hugepages, zswap, zram, balloon, unaccounted.
    - C(bytes) is an integer number of bytes; C(description) names the meminfo fields and figures behind it.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import LedgerError, memory_ledger


def _memory_ledger(data, kernel=None):
    if kernel is not None and not isinstance(kernel, str):
        raise AnsibleFilterError("memory_ledger: 'kernel' must be a release string such as 3.10.0-693.el7.x86_64")
    try:
        return memory_ledger(data, kernel)
    except LedgerError as exc:
        raise AnsibleFilterError("memory_ledger: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"memory_ledger": _memory_ledger}

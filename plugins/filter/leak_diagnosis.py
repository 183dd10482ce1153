# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: leak_diagnosis
short_description: One memory verdict for a Linux or Windows host, with evidence and a plan
version_added: 0.1.0
description:
  - Turns a C(memleak_snapshot) (and its P(memleak.remediation.memory_ledger#filter)) into a
    C(memleak_diagnosis) (schema 1) with one verdict, the culprit, the ledger, the findings with the numbers
    behind them, and the next steps.
  - The snapshot's C(os.family) decides which diagnosis runs. Linux verdicts are C(healthy), C(page_cache),
    C(balloon_inflation), C(unaccounted_kernel), C(slab_growth), C(process_leak), C(shmem_tmpfs) and
    C(hugepages_reserved). Windows verdicts are C(healthy), C(pool_leak), C(pool_pressure), C(socket_exhaustion)
    and C(commit_exhaustion).
  - Every check that crosses its threshold adds a finding. The verdict is the finding with the highest
    severity and, among equals, the most bytes. Without an abnormal finding the verdict is C(page_cache)
    when "used" memory is mostly reclaimable cache, else C(healthy). Findings become C(critical) when
    MemAvailable is below O(critical_available_share) of MemTotal.
  - Thresholds are given as a dict (the first argument O(thresholds), as the C(diagnose) role does with
    C(memleak_thresholds)) or as keyword arguments; keyword arguments win. Shares are fractions of MemTotal
    between 0 and 1, sizes are bytes. A value must cross both the share and the size threshold.
  - One dict serves a mixed fleet; the Linux and Windows threshold names differ, each diagnosis reads its own
    and ignores the other's. A name that belongs to neither is an error.
  - "Growth comes from the snapshot's C(samples) (the host history kept by
    M(memleak.remediation.meminfo_facts) and in-run samples, current boot only): each finding gets C(growth)
    (bytes per hour, samples, span, confidence) and, when it grows significantly, C(exhaustion_eta_hours), the
    hours until MemAvailable is used up at that rate. A process, slab cache or unaccounted memory that grows
    significantly becomes a finding even while still small. With one sample the evidence says growth is
    unproven; a large process proven stable drops to C(info)."
  - "Windows (snapshots of M(memleak.remediation.win_pool_facts) or offline captures): C(pool_leak) is a pool
    tag whose outstanding allocations and bytes both grow significantly in the current boot (in-run samples
    and the host history), at least O(pool_leak_min_bytes_per_hour), with the hours until its pool is full;
    C(pool_pressure) a pool near its limit (reported, else the published maximum of the Windows release);
    C(socket_exhaustion) AFD / TCP tags dominating the pools while half-open or TimeWait connections are
    abnormal; C(commit_exhaustion) the commit charge near the commit limit. The verdict follows the Linux
    rule (most severe, then most bytes); a commit charge held by the kernel pools is explained by the pool
    finding and does not compete with it. The Windows memory ledger sums to RAM in the categories
    C(nonpaged_pool), C(paged_pool_resident), C(process_private), C(available) and C(other)
    (see docs/windows-pool-limits.md)."
positional: _input, thresholds
options:
  _input:
    description:
      - A C(memleak_snapshot) as returned by M(memleak.remediation.meminfo_facts) (Linux) or
        M(memleak.remediation.win_pool_facts) (Windows).
    type: dict
    required: true
  thresholds:
    description: Threshold overrides as a dict, keyed by the option names below.
    type: dict
    default: {}
  ledger:
    description:
      - The output of P(memleak.remediation.memory_ledger#filter) for this snapshot; computed when omitted.
      - For a Windows snapshot, a memory ledger that sums to its RAM; computed when omitted.
    type: list
    elements: dict
  unaccounted_share:
    description: Memory missing from every kernel counter is abnormal from this share of MemTotal.
    type: float
    default: 0.20
  unaccounted_min_bytes:
    description: Smallest unaccounted memory that is C(unaccounted_kernel) (512 MiB), together with O(unaccounted_share).
    type: int
    default: 536870912
  balloon_share:
    description: A balloon holding this share of the VM's memory is reported as C(balloon_inflation).
    type: float
    default: 0.10
  balloon_min_bytes:
    description: Smallest balloon reported as C(balloon_inflation) (256 MiB), together with O(balloon_share).
    type: int
    default: 268435456
  slab_cache_share:
    description: One slab cache holding this share of MemTotal is C(slab_growth).
    type: float
    default: 0.10
  slab_unreclaimable_share:
    description: SUnreclaim holding this share of MemTotal is C(slab_growth), also when slabinfo was not readable.
    type: float
    default: 0.20
  slab_min_bytes:
    description: Smallest slab cache or SUnreclaim that is C(slab_growth) (256 MiB), together with the slab shares.
    type: int
    default: 268435456
  process_share:
    description: One process holding this share of MemTotal (PSS, else RSS) is C(process_leak).
    type: float
    default: 0.25
  process_min_bytes:
    description: Smallest process that is C(process_leak) (256 MiB), together with O(process_share).
    type: int
    default: 268435456
  shmem_share:
    description: Shmem (tmpfs, /dev/shm, SysV shared memory, memfd) holding this share of MemTotal is C(shmem_tmpfs).
    type: float
    default: 0.20
  shmem_min_bytes:
    description: Smallest Shmem that is C(shmem_tmpfs) (256 MiB), together with O(shmem_share).
    type: int
    default: 268435456
  deleted_open_min_bytes:
    description: A deleted tmpfs file still open in a process is C(shmem_tmpfs) from this size (128 MiB).
    type: int
    default: 134217728
  hugepages_free_share:
    description: Share of the default-size huge page pool neither used nor reserved that is C(hugepages_reserved).
    type: float
    default: 0.50
  hugepages_min_bytes:
    description: Smallest unused huge page pool that is C(hugepages_reserved) (256 MiB), together with O(hugepages_free_share).
    type: int
    default: 268435456
  page_cache_used_share:
    description: MemTotal - MemFree above this share of MemTotal "looks used" (the C(page_cache) check).
    type: float
    default: 0.80
  page_cache_reclaimable_share:
    description: C(page_cache) when at least this share of that used memory is page cache or reclaimable slab.
    type: float
    default: 0.50
  critical_available_share:
    description: Abnormal findings become C(critical) when MemAvailable is below this share of MemTotal.
    type: float
    default: 0.05
  critical_eta_hours:
    description: A growing finding becomes C(critical) when memory runs out sooner than this many hours.
    type: float
    default: 72
  trend_min_samples:
    description: Samples of the current boot the trend needs before it calls a series growing or stable.
    type: int
    default: 4
  trend_min_span_hours:
    description:
      - Growth is proven (it may raise severity and give C(exhaustion_eta_hours)) only over at least this many hours
        of samples of the current boot. A shorter rise says "rising, not proven yet (N samples over M min)" and the
        finding's C(confidence) stays below C(proven).
      - A rise that already took a quarter of what the series could still take is proven sooner.
    type: float
    default: 6.0
  trend_noise_factor:
    description: Proven growth must rise this many times the scatter of its series around the fitted line.
    type: float
    default: 3.0
  trend_min_growth_share:
    description: Proven growth must add at least this share of what the series could still take (itself plus MemAvailable).
    type: float
    default: 0.005
  trend_eta_span_factor:
    description: No C(exhaustion_eta_hours) further ahead than this many times the observed span; the evidence says so instead.
    type: float
    default: 4.0
  dominance_share:
    description:
      - Without MemTotal (a lone C(slabtop) or process listing), one slab cache or process holding this share of all
        listed slab or process memory dominates it and becomes a finding (confidence C(likely)).
    type: float
    default: 0.5
  dominance_ratio:
    description: And it holds at least this many times the next largest one.
    type: float
    default: 3.0
  pool_pressure_warning:
    description: (Windows) A pool at this share of its limit is C(pool_pressure), severity warning.
    type: float
    default: 0.80
  pool_pressure_critical:
    description: (Windows) A pool at this share of its limit is C(pool_pressure), severity critical.
    type: float
    default: 0.95
  commit_warning:
    description: (Windows) A commit charge at this share of the commit limit is C(commit_exhaustion), severity warning.
    type: float
    default: 0.90
  commit_critical:
    description: (Windows) A commit charge at this share of the commit limit is C(commit_exhaustion), severity critical.
    type: float
    default: 0.97
  pool_leak_min_samples:
    description:
      - (Windows) Samples of the current boot a pool tag, pool or commit series needs before the trend calls it
        growing or stable. Four samples in a row that all rise are the fewest that reach O(pool_leak_alpha) 0.05.
    type: int
    default: 4
  pool_leak_alpha:
    description:
      - (Windows) One-sided Mann-Kendall p-value a pool series must stay below to count as growing. Looser than
        the Linux trend's 0.01 because in-run samples are few; a leak also needs its outstanding allocations
        and its bytes to grow, and at least O(pool_leak_min_bytes_per_hour).
    type: float
    default: 0.05
  pool_leak_min_bytes_per_hour:
    description: (Windows) Slowest growth of a pool tag's bytes (Theil-Sen slope) that is C(pool_leak) (1 MiB per hour).
    type: int
    default: 1048576
  pool_leak_critical_eta_hours:
    description: (Windows) A growing pool tag, pool or commit charge is critical when its limit is reached sooner than this.
    type: float
    default: 168
  socket_half_open_min:
    description: (Windows) Half-open TCP connections (SynReceived + SynSent) from which C(socket_exhaustion) is possible.
    type: int
    default: 500
  socket_time_wait_min:
    description: (Windows) TCP connections in TimeWait from which C(socket_exhaustion) is possible.
    type: int
    default: 8000
  socket_pool_share:
    description:
      - (Windows) AFD / TCP pool tags dominate the pools when they hold this share of paged + nonpaged pool, or
        when one of them is among the O(pool_top_tags) largest tags.
    type: float
    default: 0.30
  pool_top_tags:
    description: (Windows) How many of the largest pool tags count as dominating a pool and are named as evidence.
    type: int
    default: 3
  pool_leak_min_span_hours:
    description:
      - (Windows) A pool tag's growth is proven only over at least this many hours (its outstanding allocations and
        its bytes must both grow). A shorter rise (in-run samples, two poolmon screens) is a C(pool_leak) of
        confidence C(suspected), severity warning, without an ETA.
    type: float
    default: 3.0
  pool_dominance_share:
    description:
      - (Windows) One tag holding this share of its pool (a single poolmon screen or C(!poolused) is enough) is a
        C(pool_pressure) finding naming the tag, confidence C(likely).
    type: float
    default: 0.5
  pool_dominance_ratio:
    description: (Windows) And it holds at least this many times the next tag.
    type: float
    default: 3.0
  pool_dominance_min_bytes:
    description: (Windows) And at least this many bytes (64 MiB).
    type: int
    default: 67108864
  pool_dominance_pressure_share:
    description:
      - (Windows) A dominant tag is a warning when its pool is at this share of its limit, or when the limit is
        unknown; below it, info (named, but no pressure).
    type: float
    default: 0.5
"""

EXAMPLES = r"""
- name: Diagnose with the default thresholds
  ansible.builtin.set_fact:
    memleak_diagnosis: "{{ memleak_snapshot | memleak.remediation.leak_diagnosis }}"

- name: Report processes from 10 % of RAM and unaccounted memory from 10 %
  ansible.builtin.set_fact:
    memleak_diagnosis: "{{ memleak_snapshot | memleak.remediation.leak_diagnosis(process_share=0.10, unaccounted_share=0.10) }}"

- name: Windows hosts - call a pool near 70 % of its limit pressure
  ansible.builtin.set_fact:
    memleak_diagnosis: "{{ memleak_snapshot | memleak.remediation.leak_diagnosis(pool_pressure_warning=0.70) }}"

- name: Thresholds from a variable, as the diagnose role passes them
  ansible.builtin.set_fact:
    memleak_diagnosis: "{{ memleak_snapshot | memleak.remediation.leak_diagnosis(memleak_thresholds) }}"
"""

RETURN = r"""
_value:
  description: The diagnosis.
  type: dict
  contains:
    schema:
      description: Always 1.
      type: int
    host:
      description: The snapshot's host.
      type: str
    verdict:
      description:
        - C(id) (a verdict id), C(severity) (ok, info, warning, critical) and C(summary), one sentence.
        - C(confidence) (proven, likely, suspected) and C(missing), a list of C(what) / C(command), the captures
          that would settle what the evidence leaves unknown (see docs/data-contracts.md).
      type: dict
    culprit:
      description:
        - C(kind) (pool_tag, balloon, kernel, slab_cache, process, tmpfs, hugepages or none), C(name), C(owner),
          C(version).
        - For a pool tag, C(owner) is the driver file (and company) that contains the tag, or the owner the
          knowledge base gives, and C(version) the driver file's version.
      type: dict
    ledger:
      description: The memory ledger, summing to MemTotal (Linux) or to the RAM Windows sees (Windows).
      type: list
      elements: dict
    findings:
      description:
        - Each check over its threshold, most severe and largest first, with C(id), C(severity), C(subject),
          C(bytes), C(share) of MemTotal, C(evidence) lines with the figures, and C(growth),
          C(exhaustion_eta_hours), C(kb) (a known issue, or null), C(confidence) and C(missing) as for the verdict.
        - C(growth.proven) says whether the trend proves the growth; only proven growth gives an ETA or raises the
          severity.
      type: list
      elements: dict
    plan:
      description: Ordered next steps, each C(step) (none, patch_os, vmware_tools, restart, escalate), C(reason), C(target).
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.host import HostDiagnosisError, leak_diagnosis


def _leak_diagnosis(snapshot, thresholds=None, ledger=None, **overrides):
    try:
        return leak_diagnosis(snapshot, thresholds, ledger=ledger, **overrides)
    except HostDiagnosisError as exc:
        raise AnsibleFilterError("leak_diagnosis: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"leak_diagnosis": _leak_diagnosis}

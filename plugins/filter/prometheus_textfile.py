# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: prometheus_textfile
short_description: Prometheus textfile of a host's memory diagnosis
version_added: 0.1.0
description:
  - Renders a diagnosis and its snapshot as Prometheus text format 0.0.4 for the textfile collectors of
    node_exporter (C(--collector.textfile.directory)) and windows_exporter (C(textfile) collector). All
    metrics are gauges named C(memleak_*), without timestamps and without a host label (the scrape adds
    C(instance)).
  - "C(memleak_verdict{verdict}) is 1 for the current verdict and 0 for every other verdict id;
    C(memleak_diagnosis_info) carries verdict, severity, culprit, owner, version and next step as labels;
    C(memleak_severity) is 0 (ok) to 3 (critical); C(memleak_memory_bytes{kind}), C(memleak_ledger_bytes{category}),
    C(memleak_pool_bytes{pool}) and C(memleak_pool_limit_bytes{pool}) (Windows), C(memleak_series_bytes{series,kind,name})
    for the largest slab caches, processes, tmpfs mounts and pool tags, C(memleak_finding_bytes),
    C(memleak_finding_growth_bytes_per_hour) and C(memleak_finding_exhaustion_eta_hours) per finding,
    C(memleak_samples) and C(memleak_last_run_timestamp_seconds)."
options:
  _input:
    description: The host's diagnosis as returned by P(memleak.remediation.leak_diagnosis#filter).
    type: dict
    required: true
  snapshot:
    description: The host's snapshot (memory totals, pools, largest tables, samples).
    type: dict
    required: true
  top:
    description: How many entries of each table (slab caches, processes, tmpfs mounts, pool tags) are exported.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Write the textfile for node_exporter
  ansible.builtin.copy:
    content: "{{ memleak_diagnosis | memleak.remediation.prometheus_textfile(memleak_snapshot) }}"
    dest: /var/lib/node_exporter/textfile_collector/memleak.prom
    mode: "0644"
  # For a host whose verdict is pool_leak:
  # => # HELP memleak_verdict Verdict of the last memory diagnosis: 1 for the current verdict id, 0 for the others.
  #    # TYPE memleak_verdict gauge
  #    memleak_verdict{verdict="balloon_inflation"} 0
  #    ...
  #    memleak_verdict{verdict="pool_leak"} 1
  #    ... (then severity, memory, ledger, pool, tag and series families)
"""

RETURN = r"""
_value:
  description: The textfile, ending with a newline.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.metrics import textfile


def _prometheus_textfile(diagnosis, snapshot=None, top=10):
    if not isinstance(diagnosis, dict) or "verdict" not in diagnosis:
        raise AnsibleFilterError("prometheus_textfile: input is not a memleak_diagnosis (no 'verdict' key)")
    if not isinstance(snapshot, dict) or "schema" not in snapshot:
        raise AnsibleFilterError("prometheus_textfile: 'snapshot' must be the host's memleak_snapshot")
    try:
        top = int(top)
    except (TypeError, ValueError):
        raise AnsibleFilterError("prometheus_textfile: 'top' must be an integer, got %r" % (top,))
    if top < 0:
        raise AnsibleFilterError("prometheus_textfile: 'top' must be >= 0")
    return textfile(snapshot, diagnosis, top=top)


class FilterModule(object):
    def filters(self):
        return {"prometheus_textfile": _prometheus_textfile}

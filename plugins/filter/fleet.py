# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report filters: one list of diagnoses in, one report out.

Each filter is documented in its own YAML file next to this one (fleet_html.yml, fleet_json.yml,
fleet_junit.yml, fleet_stats.yml, fleet_summary.yml). They share the input check of
plugin_utils/report/fleet_args.py and render with plugin_utils/report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.fleet_args import check_fleet
from ansible_collections.memleak.remediation.plugins.plugin_utils.report import formats
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.html import render_index
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import fleet_summary as render_summary


def _text(value):
    return str(value) if value else None


def fleet_html(diagnoses, snapshots=None, missing=None, title="Memory diagnosis", generated_at=None):
    check_fleet("fleet_html", diagnoses, missing)
    if snapshots is not None and not isinstance(snapshots, dict) and not is_sequence(snapshots):
        raise AnsibleFilterError("fleet_html: 'snapshots' must be a list of snapshots or a dict keyed by host")
    return render_index(list(diagnoses), snapshots, missing, title=str(title), generated_at=_text(generated_at))


def fleet_json(diagnoses, missing=None, generated_at=None, report_dir=None):
    check_fleet("fleet_json", diagnoses, missing)
    return formats.fleet_json(list(diagnoses), missing, generated_at=_text(generated_at), report_dir=_text(report_dir))


def fleet_junit(diagnoses, missing=None, fail_on=None, generated_at=None):
    check_fleet("fleet_junit", diagnoses, missing)
    if fail_on is None:
        fail_on = formats.UNHEALTHY
    elif isinstance(fail_on, str) or not is_sequence(fail_on):
        raise AnsibleFilterError("fleet_junit: 'fail_on' must be a list of severities")
    try:
        return formats.fleet_junit(list(diagnoses), missing, fail_on=tuple(fail_on), generated_at=_text(generated_at))
    except ValueError as exc:
        raise AnsibleFilterError("fleet_junit: %s" % exc)


def fleet_stats(diagnoses, missing=None):
    check_fleet("fleet_stats", diagnoses, missing)
    return formats.fleet_stats(list(diagnoses), missing)


def fleet_summary(diagnoses, missing=None, report_dir=None, snapshots=None):
    check_fleet("fleet_summary", diagnoses, missing)
    return render_summary(list(diagnoses), missing, report_dir, snapshots)


class FilterModule(object):
    def filters(self):
        return {
            "fleet_html": fleet_html,
            "fleet_json": fleet_json,
            "fleet_junit": fleet_junit,
            "fleet_stats": fleet_stats,
            "fleet_summary": fleet_summary,
        }

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every filter answers a wrong-shape argument with an AnsibleFilterError naming the filter, never a raw
Python exception (a traceback in the user's play). Filters are enumerated through each file's
FilterModule().filters(), so the test follows the files as they are split or merged."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import inspect
import os

import pytest
from ansible.errors import AnsibleFilterError

FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")

# Values of every wrong shape a playbook can hand a filter by mistake.
WRONG = [None, 0, -1, 10 ** 400, 1.5, float("nan"), "", "x", "10.0.17763", [], [1, "a"], [None], {},
         {"os": None}, {"os": "x", "memory": 3, "host": []}, {"windows": "x"}, {"samples": "x"}, True,
         {"observe_hours": "x", "min_samples": [], "maintenance_windows": 5, "max_attempts": None},
         {"maintenance_windows": ["never"], "sequence": "patch_os", "restart_eta_hours": {}},
         [{"t": 5, "step": None}], [{"t": "x", "s": []}], {"verdict": 3, "culprit": "x", "kb": 1}]


def _filters():
    found = []
    for name in sorted(os.listdir(FILTER_DIR)):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        module = importlib.import_module("ansible_collections.memleak.remediation.plugins.filter." + name[:-3])
        for fname, func in sorted(module.FilterModule().filters().items()):
            found.append((fname, func))
    return found


FILTERS = _filters()


def _params(func):
    """(required positional names after the input, every named parameter after the input)."""
    params = list(inspect.signature(func).parameters.values())[1:]
    named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return [p.name for p in named if p.default is p.empty], [p.name for p in named]


def _call(fname, func, *args, **kwargs):
    """None when the call succeeds or fails as a filter should, else what went wrong."""
    try:
        func(*args, **kwargs)
    except AnsibleFilterError as exc:
        if fname not in str(exc):
            return "%s%r: the error does not name the filter: %s" % (fname, (args, kwargs), exc)
    except Exception as exc:  # noqa: BLE001 - the point of the test
        return "%s%r raised %s: %s" % (fname, (args, kwargs), type(exc).__name__, exc)
    return None


def test_every_filter_is_found():
    names = [n for n, _f in FILTERS]
    assert {"pool_limits", "next_step", "leak_diagnosis", "fleet_summary", "memory_ledger"} <= set(names)


@pytest.mark.parametrize("fname,func", FILTERS, ids=[n for n, _f in FILTERS])
def test_wrong_input_is_a_filter_error(fname, func):
    required, _names = _params(func)
    failures = [_call(fname, func, value, **dict((name, value) for name in required)) for value in WRONG]
    assert [f for f in failures if f] == []


@pytest.mark.parametrize("fname,func", FILTERS, ids=[n for n, _f in FILTERS])
def test_wrong_options_are_a_filter_error(fname, func):
    required, names = _params(func)
    failures = []
    for option in names:
        for value in WRONG:
            for good in ({}, {"verdict": {"state": "none"}, "host": "h", "samples": []}):
                kwargs = dict((name, {}) for name in required)
                kwargs[option] = value
                failures.append(_call(fname, func, good, **kwargs))
    assert [f for f in failures if f] == []

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Threshold options of the diagnoses: defaults merged with what the user gave, checked.

Both diagnoses (Linux and Windows) declare their options as a table of
``(name, default, kind, meaning)``; kinds are ``share`` (0..1), ``bytes`` and
``count`` (whole numbers >= 0), ``hours`` and ``factor`` (numbers >= 0). Values may come as
strings from extra vars.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def resolve(options, table, error):
    """Defaults of ``table`` overridden by ``options``; raises ``error`` naming the bad option."""
    merged = dict((option[0], option[1]) for option in table)
    if options is None:
        return merged
    if not isinstance(options, dict):
        raise error("options must be a dict of thresholds, got %s" % type(options).__name__)
    kinds = dict((option[0], option[2]) for option in table)
    for name, value in options.items():
        if name not in kinds:
            raise error("unknown threshold %r; known: %s" % (name, ", ".join(sorted(kinds))))
        if value is None:
            continue
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise error("threshold %s must be a number, got %r" % (name, value))
        if number < 0 or (kinds[name] == "share" and number > 1):
            raise error("threshold %s = %r is out of range (%s)" % (
                name, value, "0..1" if kinds[name] == "share" else ">= 0"))
        merged[name] = int(number) if kinds[name] in ("bytes", "count") else number
    return merged

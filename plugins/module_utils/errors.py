# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception parsers raise, so callers can name the bad file and line."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The largest magnitude a count or size may have once scaled to bytes: a signed 64-bit integer, what the
# Windows side (C# long), JSON readers and the float arithmetic of the diagnosis all hold. A larger
# number in a file is not a measurement: refused where it is read, naming the file and the line.
MAX_NUMBER = 2 ** 63 - 1
_ASCII_WHOLE = re.compile(r"[+-]?[0-9]+\Z")
# Decimal digits of any script but ASCII: int() and \d accept them ("١٢" is 12), no kernel or tool writes them.
FOREIGN_DIGIT = re.compile(r"(?![0-9])\d")


class ParseError(ValueError):
    """Input text that is not the format it claims to be.

    ``source`` is the file name (or a label such as ``/proc/meminfo``) and
    ``line`` the 1-based line number, when known; ``str()`` gives a message an
    administrator can act on without a traceback.
    """

    def __init__(self, message, source=None, line=None):
        self.message = message
        self.source = source
        self.line = line
        where = source or "input"
        if line is not None:
            where = "%s line %d" % (where, line)
        super(ParseError, self).__init__("%s: %s" % (where, message))


def whole_number(word, what, source=None, line=None, scale=1):
    """``int(word) * scale`` for a word of ASCII digits (optional sign) whose value fits MAX_NUMBER.

    ParseError naming ``what``, the file and the line otherwise: a non-ASCII digit or a
    number beyond 64 bits is not something a kernel or a tool writes.
    """
    text = word.strip() if isinstance(word, str) else ""
    if not _ASCII_WHOLE.match(text):
        if FOREIGN_DIGIT.search(text):
            raise ParseError("%s is written in non-ASCII digits (%r): not a number the kernel or a tool writes"
                             % (what, text[:40]), source, line)
        raise ParseError("%s is not a whole number: %r" % (what, (word if isinstance(word, str) else "")[:40]),
                         source, line)
    if len(text) > 40:
        raise ParseError("%s is out of range: %d digits (at most %d)" % (what, len(text.lstrip("+-")), MAX_NUMBER),
                         source, line)
    return in_range(int(text) * scale, what, source, line)


def in_range(value, what, source=None, line=None):
    """``value`` when its magnitude fits MAX_NUMBER, else ParseError naming ``what``, the file and the line."""
    if abs(value) > MAX_NUMBER:
        raise ParseError("%s is out of range: %d digits (at most %d)" % (what, len(str(abs(value))), MAX_NUMBER),
                         source, line)
    return value

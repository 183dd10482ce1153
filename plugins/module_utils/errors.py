# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception parsers raise, so callers can name the bad file and line."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


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

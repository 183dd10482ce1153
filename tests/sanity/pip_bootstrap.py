# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

``ansible-test sanity --venv`` creates each test's virtual environment without
pip, then runs a cached ``get_pip_<version>.py`` (fetched from the internet
when the cache is empty) to put pip into it. tests/sanity/run.sh copies this
file into that cache instead, so no code is downloaded at test time.

ansible-test runs it as ``__main__`` with the arguments it would give
get-pip, e.g. ``--disable-pip-version-check pip==24.2 --no-setuptools
--no-wheel``. This script installs the pip that Python ships with
(``ensurepip``, no network), then asks that pip to install the requested
packages; pip's own configuration (pip.conf) decides where they come from.
As with get-pip, nothing but pip is left behind when ``--no-setuptools`` is
given.
"""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys

__metaclass__ = type

# get-pip options that plain ``pip install`` does not know.
GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel')


def main():
    """Install pip into the running interpreter's environment, then the requested packages."""
    pip_args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]

    env = dict(os.environ)
    env.pop('GET_PIP', None)  # read by ansible-test's pip wrapper; must not leak into pip itself

    commands = [
        [sys.executable, '-m', 'ensurepip', '--default-pip'],
        [sys.executable, '-m', 'pip', 'install'] + pip_args,
    ]

    if '--no-setuptools' in sys.argv[1:]:
        # ensurepip of Python < 3.12 also installs setuptools; get-pip would not have.
        commands.append([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet', 'setuptools'])

    for command in commands:
        status = subprocess.call(command, env=env)

        if status != 0:
            sys.stderr.write('pip bootstrap failed (exit %d): %s\n' % (status, ' '.join(command)))
            sys.exit(status)


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation; the work is done by the action plugin of the same name
# (plugins/action/report_files.py), on the controller.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: report_files
short_description: Write report files into a directory on the controller
version_added: "0.1.0"
description:
  - Writes a set of files (the host report, the fleet summary, the fleet page...) into one directory on the
    Ansible controller, in the worker process that runs the task. No module is started and no connection is
    used, so a report costs no Python start-up on the controller and nothing on the host.
  - The files are always written on the controller, also when the task runs for a remote host; C(delegate_to)
    is not needed and changes nothing.
  - The directory is created with its missing parents (mode O(dir_mode)) when it does not exist; an existing
    directory is left as it is.
  - Each file is written atomically, through a temporary file in the same directory that is renamed over the
    old one, so a reader sees the old file or the new one, never a part of it. A file that already holds the
    content is not rewritten (its modification time stays); when only its mode differs, the mode is set.
  - The files are written as the user that runs Ansible; C(become) is ignored.
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  dir:
    description:
      - The directory on the controller. A relative path is relative to the directory C(ansible-playbook) was
        started in.
    type: path
    required: true
  dir_mode:
    description:
      - Mode of the directories created, as an octal string.
    type: raw
    default: "0755"
  files:
    description:
      - The files to write into O(dir).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The file name, a plain name without C(/), not C(.) or C(..), not empty and without a NUL byte. Each name
            may appear once.
        type: str
        required: true
      content:
        description:
          - The content, a string written as UTF-8 exactly as given (no newline is added).
          - Data must be rendered first, for example with P(ansible.builtin.to_nice_json#filter).
        type: raw
        required: true
      mode:
        description:
          - Mode of the file, as an octal string such as C("0644").
        type: raw
        default: "0644"
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
    details: The files are written as the user that runs Ansible.
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: In check mode nothing is created or written; RV(written) lists what would change. Tasks that must write
      their reports also in check mode set C(check_mode=false).
  connection:
    support: none
  delegation:
    support: none
    details: The files are always written on the controller; C(delegate_to) changes nothing.
  diff_mode:
    support: full
    details: Text files up to C(MAX_FILE_SIZE_FOR_DIFF) bytes show their content before and after; mode changes
      show the old and the new mode.
  platform:
    support: full
    platforms: all
    details: The task's host is not touched; the controller must be a POSIX system.
notes:
  - An entry with a bad name, a content that is not a string or a bad mode fails the task before anything is
    written, and the message names the entry (for example C(files[2] ('../x'))).
  - When a file cannot be written (permission denied, a directory in the way) the task fails with a message that
    names the path; the files written before it are listed in RV(written).
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the host report on the controller
  memleak.remediation.report_files:
    dir: "{{ memleak_report_dir }}"
    files:
      - name: "{{ inventory_hostname }}.json"
        content: "{{ {'memleak_diagnosis': memleak_diagnosis} | to_nice_json(indent=2) }}\n"
  check_mode: false

- name: Write several files at once, one of them only when asked for
  memleak.remediation.report_files:
    dir: /srv/reports/memleak
    files: "{{ __reports + (__junit if want_junit | bool else []) }}"
  vars:
    __reports:
      - name: summary.md
        content: "{{ fleet | memleak.remediation.fleet_summary }}"
      - name: private.md
        content: "{{ notes }}"
        mode: "0600"
    __junit:
      - name: junit.xml
        content: "{{ fleet | memleak.remediation.fleet_junit }}"
"""

RETURN = r"""
dir:
  description: The directory, as an absolute path.
  returned: success
  type: str
  sample: /home/ops/memleak-report
written:
  description:
    - The files whose content or mode changed, or in check mode would change. Empty when every file was already
      as given.
    - On failure, the files changed before the problem.
  returned: always
  type: list
  elements: str
  sample: [/home/ops/memleak-report/web01.json]
"""

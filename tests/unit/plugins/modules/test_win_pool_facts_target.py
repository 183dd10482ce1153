# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows integration target cannot run here (no Windows host); this keeps what it must prove
from silently eroding: a known kernel tag, tag sums against WMI's pool counters, a tag mapped to a real
file, a tag bound that follows the documented meaning of ``top``, and nothing left on the host."""

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TARGET = os.path.join(ROOT, "tests", "integration", "targets", "win_pool_facts", "tasks", "main.yml")


def _tasks():
    with open(TARGET, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    assert len(plays) == 1 and "block" in plays[0] and "always" in plays[0], "one block with an always clean-up"
    return plays[0]


def _asserts(tasks):
    found = []
    for task in tasks:
        if "ansible.builtin.assert" in task:
            found += [str(c) for c in task["ansible.builtin.assert"]["that"]]
    return found


def test_target_proves_what_a_healthy_host_shows():
    top = _tasks()
    conditions = _asserts(top["block"])
    assert "'Irp ' in __names or 'File' in __names" in conditions
    assert any("__wmi_paged" in c and "<=" in c for c in conditions)
    assert any("__wmi_nonpaged" in c and "<=" in c for c in conditions)
    assert "__hit_file.stat.exists" in conditions
    assert "__snap.windows.tags | length <= 3 * 10" in conditions
    assert not any("drivers | length > 0" in c for c in conditions), "passes when nothing matched"


def test_target_leaves_nothing_behind():
    top = _tasks()
    with open(TARGET, encoding="utf-8") as handle:
        text = handle.read()
    assert "ProgramData" not in text
    assert "Windows\\Temp" not in text
    gathers = [t["memleak.remediation.win_pool_facts"] for t in top["block"] if "memleak.remediation.win_pool_facts" in t]
    assert gathers and all(g.get("history") is False or "__tmp.path" in str(g.get("history_path")) for g in gathers), (
        "every run either keeps no history or writes it in the temporary folder")
    cleanup = top["always"][0]["ansible.windows.win_file"]
    assert cleanup == {"path": "{{ __tmp.path }}", "state": "absent"}


def test_top_documents_the_union():
    namespace = {}
    path = os.path.join(ROOT, "plugins", "modules", "win_pool_facts.py")
    with open(path, encoding="utf-8") as handle:
        exec(compile(handle.read(), path, "exec"), namespace)  # noqa: S102 - our own module file
    top = " ".join(yaml.safe_load(namespace["DOCUMENTATION"])["options"]["top"]["description"])
    assert "up to 3 x I(top) tags" in top

"""jsonl_file: the append-only JSON-lines store of the history and the remediation ledger."""

import json
import multiprocessing
import os
import stat

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import jsonl_file


def _check(obj, where):
    if not isinstance(obj, dict) or "n" not in obj:
        raise ValueError("%s: no 'n'" % where)
    return obj


def _keep_all(items):
    return items


def _keep_last(count):
    return lambda items: items[-count:]


def _lines(path):
    with open(path) as handle:
        return handle.read().splitlines()


def test_a_missing_file_holds_nothing(tmp_path):
    assert jsonl_file.read(str(tmp_path / "none.jsonl"), _check) == ([], [])


def test_append_creates_the_folder_and_writes_one_line_per_item(tmp_path):
    path = str(tmp_path / "state" / "memleak" / "history.jsonl")
    jsonl_file.append(path, {"n": 1}, _check, _keep_all)
    kept, warnings = jsonl_file.append(path, {"n": 2, "s": "é"}, _check, _keep_all)
    assert [i["n"] for i in kept] == [1, 2] and warnings == []
    assert [json.loads(line)["n"] for line in _lines(path)] == [1, 2]
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) & 0o007 == 0, "the folder is not world-readable"
    assert stat.S_IMODE(os.stat(path).st_mode) == jsonl_file.FILE_MODE
    assert jsonl_file.read(path, _check)[0][1]["s"] == "é"


def test_a_torn_or_foreign_line_is_skipped_with_its_line_number_and_dropped_by_the_next_append(tmp_path):
    path = str(tmp_path / "h.jsonl")
    with open(path, "w") as handle:
        handle.write('{"n": 1}\n{"n": 2, "t\n\n{"x": 3}\n')
    items, warnings = jsonl_file.read(path, _check)
    assert [i["n"] for i in items] == [1]
    assert warnings == ["%s line 2: not JSON (torn or corrupt), skipped" % path, "%s line 4: no 'n', skipped" % path]
    kept, warnings = jsonl_file.append(path, {"n": 5}, _check, _keep_all)
    assert [i["n"] for i in kept] == [1, 5] and len(warnings) == 2
    assert _lines(path) == ['{"n":1}', '{"n":5}'], "the file is rewritten without the bad lines"


def test_keep_bounds_the_file_through_a_rewrite(tmp_path):
    path = str(tmp_path / "h.jsonl")
    for n in range(6):
        kept, _w = jsonl_file.append(path, {"n": n}, _check, _keep_last(3))
    assert [i["n"] for i in kept] == [3, 4, 5]
    assert [json.loads(line)["n"] for line in _lines(path)] == [3, 4, 5]
    assert sorted(os.listdir(str(tmp_path))) == ["h.jsonl", "h.jsonl.lock"], "no temporary file is left behind"


def test_an_unreadable_file_raises_and_is_not_overwritten(tmp_path):
    path = str(tmp_path / "h.jsonl")
    os.mkdir(path)  # exists, but is not a readable file
    with pytest.raises(OSError):
        jsonl_file.read(path, _check)
    with pytest.raises(OSError):
        jsonl_file.append(path, {"n": 1}, _check, _keep_all)
    assert os.path.isdir(path)


def _append_many(path, start):
    for n in range(start, start + 50):
        jsonl_file.append(path, {"n": n}, _check, _keep_all)


def test_concurrent_appends_do_not_interleave_or_lose_lines(tmp_path):
    path = str(tmp_path / "h.jsonl")
    workers = [multiprocessing.Process(target=_append_many, args=(path, start)) for start in (0, 1000, 2000)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    items, warnings = jsonl_file.read(path, _check)
    assert warnings == []
    assert sorted(i["n"] for i in items) == sorted(list(range(0, 50)) + list(range(1000, 1050)) + list(range(2000, 2050)))

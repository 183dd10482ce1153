"""The capture corpus and `make eval`'s scoring: every capture has an expected row and a provenance row."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAPTURES = os.path.join(ROOT, "tests", "fixtures", "captures")
SPEC = importlib.util.spec_from_file_location("run_eval", os.path.join(ROOT, "tests", "eval", "run_eval.py"))
run_eval = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(run_eval)


def test_every_capture_folder_has_an_expected_verdict_and_every_row_a_folder():
    expected = run_eval.load_expected()
    folders = run_eval.capture_folders()
    assert set(expected) == set(folders)
    assert len([f for f in folders.values() if "/corpus/" in f]) >= 25


def test_every_corpus_capture_says_where_it_comes_from():
    with open(os.path.join(CAPTURES, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for name, path in run_eval.capture_folders().items():
        assert "`%s/`" % name in readme, name


def test_expected_verdicts_are_known_ids():
    from ansible_collections.memleak.remediation.plugins.module_utils.schema import VERDICTS
    for name, row in run_eval.load_expected().items():
        assert set(row["verdicts"]) <= set(VERDICTS), name


def test_score_takes_any_listed_verdict_and_checks_the_culprit():
    expected = {"a": {"verdicts": ["healthy", "page_cache"], "culprit": None},
                "b": {"verdicts": ["slab_growth"], "culprit": "kmalloc-rnd-07-8k"},
                "c": {"verdicts": ["process_leak"], "culprit": "clamd"},
                "d": {"verdicts": ["healthy"], "culprit": None}}
    results = {"a": ("page_cache", None, None), "b": ("slab_growth", "kmalloc-rnd-07-8k", None),
               "c": ("process_leak", "rspamd", None), "d": (None, None, "read, but cannot be diagnosed")}
    rows = dict((name, (ok, why)) for name, ok, why in run_eval.score(expected, results))
    assert rows["a"] == (True, "") and rows["b"] == (True, "")
    assert rows["c"] == (False, "culprit rspamd, expected clamd")
    assert rows["d"] == (False, "no verdict (read, but cannot be diagnosed)")
    table = run_eval.confusion(expected, results).splitlines()
    assert table[0].split()[-4:] == ["(none)", "page_cache", "process_leak", "slab_growth"]
    assert [line.split()[0] for line in table[1:]] == ["healthy", "page_cache", "process_leak", "slab_growth"]


def test_playbook_refusals_are_read_from_its_output():
    output = '        "linux-x: NOT ANALYSED: read, but cannot be diagnosed: no MemTotal",\n'
    assert run_eval.not_analysed(output) == {"linux-x": "read, but cannot be diagnosed: no MemTotal"}

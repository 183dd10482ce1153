"""report_writer: the files the report_files action writes on the controller, on a real file system."""

import os
import shutil
import stat
import tempfile

import pytest

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.writer import (
    ReportFilesError, parse_mode, write_files)

NOBODY = 65534


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _age(path, seconds=3600):
    """Move the file's times into the past, so a rewrite would show in st_mtime_ns."""
    info = os.stat(path)
    os.utime(path, ns=(info.st_atime_ns - seconds * 10 ** 9, info.st_mtime_ns - seconds * 10 ** 9))
    return os.stat(path)


def test_writes_the_files_with_their_modes_and_creates_the_directory(tmp_path):
    target = tmp_path / "a" / "report"
    old_umask = os.umask(0o077)  # the modes are exact whatever the umask
    try:
        result = write_files(str(target), [
            {"name": "web01.json", "content": '{\n  "x": "\u00e9"\n}\n'},
            {"name": "summary.md", "content": "no newline at the end", "mode": "0600"},
            {"name": "index.html", "content": "", "mode": 0o640},
        ])
    finally:
        os.umask(old_umask)
    assert result == {"changed": True, "dir": str(target),
                      "written": [str(target / n) for n in ("web01.json", "summary.md", "index.html")]}
    assert _read(str(target / "web01.json")) == b'{\n  "x": "\xc3\xa9"\n}\n'
    assert _read(str(target / "summary.md")) == b"no newline at the end"
    assert _read(str(target / "index.html")) == b""
    assert [_mode(str(target / n)) for n in ("web01.json", "summary.md", "index.html")] == [0o644, 0o600, 0o640]
    assert _mode(str(target)) == 0o755 and _mode(str(tmp_path / "a")) == 0o755
    assert sorted(os.listdir(str(target))) == ["index.html", "summary.md", "web01.json"], "temporary file left"


def test_existing_directory_keeps_its_mode(tmp_path):
    os.chmod(str(tmp_path), 0o700)
    result = write_files(str(tmp_path), [{"name": "a.json", "content": "{}\n"}])
    assert result["changed"] and _mode(str(tmp_path)) == 0o700


def test_a_changed_file_is_replaced_by_rename_not_rewritten_in_place(tmp_path):
    path = str(tmp_path / "web01.json")
    write_files(str(tmp_path), [{"name": "web01.json", "content": "old report\n"}])
    before = os.stat(path)
    with open(path, "rb") as reader:  # a reader that opened the old report keeps reading all of it
        result = write_files(str(tmp_path), [{"name": "web01.json", "content": "the new, longer report\n"}])
        assert reader.read() == b"old report\n"
    assert result["written"] == [path] and result["changed"]
    assert os.stat(path).st_ino != before.st_ino
    assert _read(path) == b"the new, longer report\n"
    assert os.listdir(str(tmp_path)) == ["web01.json"]


def test_an_unchanged_file_is_not_rewritten(tmp_path):
    path = str(tmp_path / "summary.json")
    files = [{"name": "summary.json", "content": '{"hosts": []}\n'}]
    write_files(str(tmp_path), files)
    before = _age(path)
    result = write_files(str(tmp_path), files)
    after = os.stat(path)
    assert result == {"changed": False, "dir": str(tmp_path), "written": []}
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (before.st_ino, before.st_mtime_ns, before.st_ctime_ns)


def test_same_size_other_content_is_written(tmp_path):
    path = str(tmp_path / "a.txt")
    write_files(str(tmp_path), [{"name": "a.txt", "content": "abc\n"}])
    result = write_files(str(tmp_path), [{"name": "a.txt", "content": "abd\n"}])
    assert result["written"] == [path] and _read(path) == b"abd\n"


def test_only_the_mode_differs_the_mode_is_set_and_the_content_kept(tmp_path):
    path = str(tmp_path / "a.json")
    write_files(str(tmp_path), [{"name": "a.json", "content": "{}\n", "mode": "0600"}])
    before = _age(path)
    result = write_files(str(tmp_path), [{"name": "a.json", "content": "{}\n", "mode": "0644"}])
    after = os.stat(path)
    assert result["changed"] and result["written"] == [path]
    assert _mode(path) == 0o644
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("name, problem", [
    ("", "the file name is empty"),
    ("../escape.json", "a plain file name is needed, without '/'"),
    ("/etc/passwd", "a plain file name is needed, without '/'"),
    ("sub/web01.json", "a plain file name is needed, without '/'"),
    ("..", "not a file name"),
    (".", "not a file name"),
    ("web\x0001.json", "the file name contains a NUL byte"),
    (None, "the file name is empty"),
])
def test_a_bad_name_is_rejected_naming_the_entry_and_nothing_is_written(tmp_path, name, problem):
    target = tmp_path / "report"
    with pytest.raises(ReportFilesError) as error:
        write_files(str(target), [{"name": "good.json", "content": "{}\n"}, {"name": name, "content": "x"}])
    message = str(error.value)
    assert message.startswith("files[1]") and problem in message, message
    if name:
        assert repr(name) in message, message
    assert not target.exists(), "a bad entry must stop the task before anything is written"


def test_a_name_used_twice_is_rejected(tmp_path):
    with pytest.raises(ReportFilesError, match=r"files\[2\] \('a.json'\): the same name as files\[0\]"):
        write_files(str(tmp_path), [{"name": "a.json", "content": "1"}, {"name": "b.json", "content": "2"},
                                    {"name": "a.json", "content": "3"}])


@pytest.mark.parametrize("content, kind", [({"hosts": []}, "dict"), (["a"], "list"), (None, "nothing"), (42, "int")])
def test_content_must_be_a_string(tmp_path, content, kind):
    with pytest.raises(ReportFilesError) as error:
        write_files(str(tmp_path), [{"name": "summary.json", "content": content}])
    assert str(error.value) == ("files[0] ('summary.json'): content must be a string, got %s "
                                "(render data with to_nice_json first)" % kind)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("value, mode", [("0644", 0o644), ("644", 0o644), ("0o600", 0o600), (0o640, 0o640),
                                         ("0755", 0o755), (" 0600 ", 0o600)])
def test_parse_mode_reads_octal(value, mode):
    assert parse_mode(value, "files[0]") == mode


@pytest.mark.parametrize("value", ["u=rw", "0999", "", "1000000", True, None, -1, 0o10000])
def test_parse_mode_rejects_everything_else(value):
    with pytest.raises(ReportFilesError, match=r"^files\[3\] \('x'\): mode must be an octal string"):
        parse_mode(value, "files[3] ('x')")


def test_dir_that_is_a_file_or_below_a_file_is_refused(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(ReportFilesError) as error:
        write_files(str(plain), [{"name": "a.json", "content": "{}"}])
    assert str(error.value) == "%s exists and is not a directory" % plain
    with pytest.raises(ReportFilesError) as error:
        write_files(str(plain / "report"), [{"name": "a.json", "content": "{}"}])
    assert str(error.value) == "%s exists and is not a directory" % plain
    assert plain.read_text() == "x"


def test_a_directory_in_the_way_fails_naming_it_and_lists_what_was_written(tmp_path):
    (tmp_path / "b.json").mkdir()
    with pytest.raises(ReportFilesError) as error:
        write_files(str(tmp_path), [{"name": "a.json", "content": "{}"}, {"name": "b.json", "content": "{}"}])
    assert str(error.value) == "%s is a directory, not a file" % (tmp_path / "b.json")
    assert error.value.written == [str(tmp_path / "a.json")]


def test_a_symlink_is_replaced_by_the_file_and_its_target_left_alone(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("same\n")
    report = tmp_path / "report"
    report.mkdir()
    os.symlink(str(elsewhere), str(report / "a.txt"))
    result = write_files(str(report), [{"name": "a.txt", "content": "same\n"}])
    assert result["written"] == [str(report / "a.txt")]
    assert not os.path.islink(str(report / "a.txt")) and elsewhere.read_text() == "same\n"


def test_check_mode_creates_and_writes_nothing_and_says_what_would_change(tmp_path):
    target = tmp_path / "new" / "report"
    result = write_files(str(target), [{"name": "a.json", "content": "{}"}], check_mode=True)
    assert result == {"changed": True, "dir": str(target), "written": [str(target / "a.json")]}
    assert not (tmp_path / "new").exists()

    write_files(str(tmp_path), [{"name": "same.json", "content": "1\n"}, {"name": "other.json", "content": "1\n"},
                                {"name": "mode.json", "content": "1\n", "mode": "0600"}])
    before = {name: _age(str(tmp_path / name)) for name in ("same.json", "other.json", "mode.json")}
    result = write_files(str(tmp_path), [
        {"name": "same.json", "content": "1\n"}, {"name": "other.json", "content": "2\n"},
        {"name": "mode.json", "content": "1\n"}, {"name": "new.json", "content": "3\n"}], check_mode=True)
    assert result["changed"] and result["written"] == [str(tmp_path / n) for n in ("other.json", "mode.json", "new.json")]
    for name, info in before.items():
        now = os.stat(str(tmp_path / name))
        assert (now.st_ino, now.st_mtime_ns, now.st_mode) == (info.st_ino, info.st_mtime_ns, info.st_mode), name
    assert _read(str(tmp_path / "other.json")) == b"1\n"
    assert not (tmp_path / "new.json").exists()


def test_check_mode_with_nothing_to_change_reports_unchanged(tmp_path):
    write_files(str(tmp_path), [{"name": "a.json", "content": "{}"}])
    assert write_files(str(tmp_path), [{"name": "a.json", "content": "{}"}], check_mode=True)["changed"] is False


def test_diff_shows_text_before_and_after_and_skips_large_files(tmp_path):
    write_files(str(tmp_path), [{"name": "a.md", "content": "one\ntwo\n"}, {"name": "big.html", "content": "x" * 50},
                                {"name": "m.json", "content": "{}", "mode": "0600"}])
    result = write_files(str(tmp_path), [
        {"name": "a.md", "content": "one\nthree\n"}, {"name": "big.html", "content": "y" * 50},
        {"name": "m.json", "content": "{}"}, {"name": "new.txt", "content": "new\n"}],
        diff=True, max_diff_size=40)
    assert result["diff"] == [
        {"before_header": str(tmp_path / "a.md"), "after_header": str(tmp_path / "a.md"),
         "before": "one\ntwo\n", "after": "one\nthree\n"},
        {"before_header": str(tmp_path / "big.html"), "after_header": str(tmp_path / "big.html"),
         "dst_larger": 40, "src_larger": 40},
        {"before": {"path": str(tmp_path / "m.json"), "mode": "0600"},
         "after": {"path": str(tmp_path / "m.json"), "mode": "0644"}},
        {"before_header": "%s (absent)" % (tmp_path / "new.txt"), "after_header": str(tmp_path / "new.txt"),
         "before": "", "after": "new\n"},
    ]


def test_no_diff_key_without_diff_mode(tmp_path):
    assert "diff" not in write_files(str(tmp_path), [{"name": "a", "content": "1"}])


def _in_child_as_nobody(func):
    """Run func() in a forked child as uid/gid nobody; its ReportFilesError message, or 'no error'."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                func()
                message = "no error"
            except ReportFilesError as exc:
                message = str(exc)
            os.write(write_end, message.encode("utf-8"))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    dummy_pid, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the child failed"
    return b"".join(chunks).decode("utf-8")


@pytest.fixture
def shared_dir():
    """A directory every user may enter (pytest's tmp_path is private to its owner)."""
    path = tempfile.mkdtemp(prefix="memleak-report-writer-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _unwritable(func):
    """The ReportFilesError message of func() run by a user that may not write (root bypasses modes)."""
    if os.geteuid() == 0:
        return _in_child_as_nobody(func)
    try:
        func()
    except ReportFilesError as exc:
        return str(exc)
    return "no error"


def test_permission_denied_on_a_file_names_the_path(shared_dir):
    report = os.path.join(shared_dir, "report")
    os.mkdir(report)
    os.chmod(report, 0o555)
    message = _unwritable(lambda: write_files(report, [{"name": "web01.json", "content": "{}"}]))
    assert message == "cannot write %s: Permission denied" % os.path.join(report, "web01.json")
    assert os.listdir(report) == []


def test_permission_denied_on_the_directory_names_it(shared_dir):
    os.chmod(shared_dir, 0o555)
    report = os.path.join(shared_dir, "report")
    message = _unwritable(lambda: write_files(report, [{"name": "web01.json", "content": "{}"}]))
    assert message == "cannot create directory %s: Permission denied" % report
    os.chmod(shared_dir, 0o755)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_replaced_file_keeps_its_owner(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    os.chown(str(path), NOBODY, NOBODY)
    write_files(str(tmp_path), [{"name": "a.json", "content": "new"}])
    info = os.stat(str(path))
    assert (info.st_uid, info.st_gid) == (NOBODY, NOBODY) and path.read_text() == "new"

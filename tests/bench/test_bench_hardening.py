"""What a full disk, a second sweep, a killed writer and hostile records do to the results and reports."""

from __future__ import annotations

import errno
import json
import os
import warnings

import pytest
from record_helpers import append_raw, append_record

from resgraph import atomic
from resgraph import records as results_mod
from resgraph.atomic import atomic_path, write_bytes_atomic
from resgraph.bench.record import read_results as read_records
from resgraph.bench.report import write_report
from resgraph.errors import UsageError
from resgraph.records import writer as sweep_lock

ROW = {"spec_hash": "h", "backend": "eager", "device": "cpu", "batch": 1, "precision": "fp32", "status": "ok",
       "p50_ms": 1.0, "throughput": 1000.0, "threads": 1, "env": {"device_name": "cpu"}}


class FullDisk:
    """os.write that writes ``room`` bytes in all, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        self.room, self.real = room, os.write

    def __call__(self, fd: int, data: bytes) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = self.real(fd, bytes(data[: self.room]))
        self.room -= n
        return n


def test_a_full_disk_leaves_no_half_record_and_names_the_file(tmp_path, monkeypatch):
    out = tmp_path / "r.jsonl"
    append_record(out, {"spec": "a", **ROW})
    before = out.read_bytes()
    monkeypatch.setattr(results_mod.os, "write", FullDisk(room=20))
    with pytest.raises(OSError) as info:
        append_record(out, {"spec": "b", **ROW})
    assert info.value.filename == str(out) and info.value.errno == errno.ENOSPC
    assert out.read_bytes() == before  # rolled back to the whole first line


def test_atomic_outputs_on_a_full_disk_leave_nothing_and_name_the_users_path(tmp_path, monkeypatch):
    target = tmp_path / "results.csv"
    target.write_text("old\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/somewhere/.results.csv.resgraph-tmp-1-x/results.csv")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(OSError) as info:
        write_bytes_atomic(target, b"new\n")
    assert info.value.filename == str(target) and "No space left" in info.value.strerror
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_a_report_on_a_full_disk_writes_whole_files_or_none(tmp_path, monkeypatch):
    res = tmp_path / "r.jsonl"
    append_record(res, {"spec": "a", **ROW})
    real = atomic.os.replace
    calls = []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", second_fails)
    with pytest.raises(OSError) as info:
        write_report(res, tmp_path / "rep", plots=False)
    assert info.value.filename == str(tmp_path / "rep" / "results.csv")
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["results.md"]  # whole, and no stray temp


def test_a_temporary_folder_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    dead = 2**22 + 12345  # no such process
    litter = tmp_path / f".model.onnx.resgraph-tmp-{dead}-abcd"
    litter.mkdir()
    (litter / "model.onnx").write_bytes(b"half")
    alive = tmp_path / f".model.onnx.resgraph-tmp-{os.getpid()}-efgh"  # a live writer's: kept
    alive.mkdir()
    with atomic_path(tmp_path / "model.onnx") as tmp:
        tmp.write_bytes(b"whole")
    assert not litter.exists() and alive.exists() and (tmp_path / "model.onnx").read_bytes() == b"whole"


def test_a_second_sweep_on_one_results_file_is_refused(tmp_path):
    out = tmp_path / "r.jsonl"
    with sweep_lock(out):
        with pytest.raises(UsageError, match="another sweep is writing this results file"):
            with sweep_lock(out):
                pass
    with sweep_lock(out):  # released
        pass


def test_a_sweep_checks_its_file_before_measuring(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(OSError) as info:
        with sweep_lock(afile / "r.jsonl"):
            pass
    assert info.value.filename == str(afile) and "is a file, not a folder" in info.value.strerror

    class Usage:
        free = 1024

    monkeypatch.setattr(results_mod.shutil, "disk_usage", lambda p: Usage())
    with pytest.raises(OSError, match="nothing was measured"):
        with sweep_lock(tmp_path / "r.jsonl"):
            raise AssertionError("measured on a full disk")


@pytest.mark.parametrize("record, problem", [
    ({"spec": ["x"], "status": "ok", "backend": "eager", "batch": 1}, "spec: input should be a valid string"),
    ({"spec": "x", "status": "ok", "backend": "eager", "batch": 1, "env": "nope"}, "env: input should be a valid"),
    ({"spec": "x", "status": "ok", "backend": "eager"}, "batch: field required"),
    ({"spec": "x", "status": "done", "backend": "eager", "batch": 1}, "status: input should be"),
    ({"spec": "x\u001b[2J", "status": "ok", "backend": "eager", "batch": 1}, "must be printable text"),
    ({"spec": "x", "status": "ok", "backend": "eager", "batch": 1, "p50_ms": "fast"}, "p50_ms"),
])
def test_malformed_records_are_skipped_with_one_warning_naming_the_line(tmp_path, record, problem):
    res = tmp_path / "r.jsonl"
    append_record(res, {"spec": "good", **ROW})
    with res.open("a") as f:
        f.write(json.dumps(record) + "\n")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        recs = read_records(res)
        paths = write_report(res, tmp_path / "rep", plots=False)
    assert [r["spec"] for r in recs] == ["good"]
    assert any(f"{res}:2: skipping a malformed record" in str(x.message) and problem in str(x.message) for x in w)
    assert all(p.exists() for p in paths)


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(tmp_path):
    res = tmp_path / "r.jsonl"
    append_record(res, {"spec": "=HYPERLINK(\"http://x\")", **ROW})
    write_report(res, tmp_path / "rep", plots=False)
    csv_text = (tmp_path / "rep" / "results.csv").read_text()
    assert "'=HYPERLINK" in csv_text and "\n=HYPERLINK" not in csv_text and ",=HYPERLINK" not in csv_text


def test_the_demo_never_removes_another_sweeps_results(tmp_path):
    import fcntl

    from click.testing import CliRunner

    from resgraph.cli.main import main

    out = tmp_path / "d"
    out.mkdir()
    (out / "results.jsonl").write_text(json.dumps({"spec": "a", **ROW}) + "\n")
    fd = os.open(out / ".results.jsonl.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another sweep is writing it
    try:
        res = CliRunner().invoke(main, ["demo", "-o", str(out), "--network", "resnet20", "--backend", "eager",
                                        "--batch", "1", "--warmup", "1", "--iters", "3", "--min-time", "0"])
    finally:
        os.close(fd)
    assert res.exit_code == 2 and "another sweep is writing" in res.output
    assert (out / "results.jsonl").read_text().startswith('{"spec": "a"')


def test_a_pipe_is_no_results_file(tmp_path):
    pipe = tmp_path / "p.jsonl"
    os.mkfifo(pipe)
    with pytest.raises(UsageError, match="not a regular file"):
        read_records(pipe)
    with pytest.raises(UsageError, match="not a regular file"):
        with sweep_lock(pipe):
            pass


def test_no_control_character_from_a_record_reaches_the_report(tmp_path):
    res = tmp_path / "r.jsonl"
    append_raw(res, {"spec": "a", **ROW, "status": "failed", "reason": "boom\x1b[2J\x07", "unstable": "x\x1b]0;t\x07",
                     "env": {"device_name": "cpu\x1b[31m", "torch": "2\r\n"}})
    paths = write_report(res, tmp_path / "rep", plots=False)
    for p in paths:
        text = p.read_text()
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text, p
    assert "boom\\x1b[2J\\x07" in paths[0].read_text()


def test_hostile_results_lines_are_skipped_with_a_warning_each(tmp_path):
    res = tmp_path / "r.jsonl"
    good = json.dumps({"spec": "good", **ROW})
    lines = [good, "[" * 100_000 + "]" * 100_000, json.dumps({"spec": "big", **ROW, "batch": 10 ** 30}),
             json.dumps({"spec": "odd", **ROW, "env": {"device_name": ["a", 1]}}), "x" * (2 << 20)]
    res.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n\xff\xfe not utf-8\n")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        recs = read_records(res)
        write_report(res, tmp_path / "rep", plots=False)
    assert [r.spec for r in recs] == ["good", "odd"]  # the BOM does not hide the first record
    assert recs[1].env["device_name"] == "['a', 1]"  # kept as text, never a list where text is read
    text = " ".join(str(x.message) for x in w)
    assert f"{res}:2: skipping a line that is not valid JSON" in text and f"{res}:3: skipping a malformed" in text
    assert f"{res}:5: skipping a line of 2,097,153 characters" in text and f"{res}:6:" in text


def test_the_lock_is_the_files_not_its_spelling(tmp_path):
    real = tmp_path / "r.jsonl"
    (tmp_path / "link.jsonl").symlink_to(real)
    (tmp_path / "sub").mkdir()
    with sweep_lock(real):
        for other in (tmp_path / "link.jsonl", tmp_path / "sub" / ".." / "r.jsonl"):
            with pytest.raises(UsageError, match="another sweep is writing this results file"):
                with sweep_lock(other):
                    pass


def test_the_training_file_check_reads_through_the_bounded_reader(tmp_path):
    """report's look at the first record (training or bench?) is the one reader's: a deeply nested line is no record."""
    from click.testing import CliRunner

    from resgraph.cli.main import main
    from resgraph.train.records import is_train_file

    path = tmp_path / "r.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert not is_train_file(path)
    res = CliRunner().invoke(main, ["report", str(path), "-o", str(tmp_path / "rep")])
    assert res.exit_code == 2 and "no records to report" in res.output, res.output
    path.write_bytes(b'\xef\xbb\xbf{"record": "train_run"}\n')  # a BOM hides nothing
    assert is_train_file(path)

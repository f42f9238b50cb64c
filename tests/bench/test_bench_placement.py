"""Rows know where they were measured: host and device model are in the key; old records still load and resume."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from record_helpers import append_raw, append_record

from resgraph.bench import TimingConfig, format_table, plan, run_sweep
from resgraph.bench.comparison import SWEEP_COLUMNS
from resgraph.bench.env import device_name
from resgraph.bench.record import KEY_FIELDS, check_record, parse_record
from resgraph.bench.report import load_results, write_report
from resgraph.bench.row import ModelEntry
from resgraph.bench.toy import tiny_resnet

FAST = TimingConfig(warmup=1, iters=3, min_time_s=None)
SHAPE = (3, 32, 32)


def _entry():
    return ModelEntry("tiny", tiny_resnet, spec_hash="abc123", input_shape=SHAPE)


def _sweep(jobs, path, **kw):
    return run_sweep(jobs, path, timing=FAST, progress=False, roofline=False, threads=1, **kw)


def _old(rec) -> dict:
    """The record as resgraph wrote it before sweeps left the process (and before its schema had a version):
    no host, device model, slot, worker or schema_version."""
    return {k: v for k, v in rec.model_dump().items()
            if k not in ("host", "device_model", "slot", "worker", "attempts", "wall_s", "schema_version")}


def test_a_record_names_where_it_ran_and_its_key_says_so(tmp_path: Path) -> None:
    (rec,) = _sweep(plan([_entry()], ["eager"], [1]), tmp_path / "r.jsonl")
    assert rec["host"] == socket.gethostname() and rec["device_model"] == device_name("cpu")
    assert rec["slot"].startswith("cpus ") and rec["worker"] is None and rec["attempts"] == 1
    assert KEY_FIELDS[-2:] == ("host", "device_model")
    assert rec.key[-2:] == (rec["host"], rec["device_model"])
    old = _old(rec)
    assert check_record(old) is None and check_record(rec.model_dump()) is None
    parsed = parse_record(old)
    assert parsed.schema_version == 1 and parsed.host is None
    assert parsed.placement == (None, rec["env"]["device_name"])  # an old record's device model is its env's


def test_old_records_load_resume_and_report(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    rows = _sweep(plan([_entry()], ["eager", "folded"], [1]), tmp_path / "new.jsonl")
    for r in rows:
        append_raw(out, _old(r))
    # Old rows of this device model (and thread count) are done: resume measures only the new row.
    again = _sweep(plan([_entry()], ["eager", "folded", "channels_last"], [1]), out, resume=True)
    assert [r.get("host") for r in again] == [None, None, socket.gethostname()]
    assert len(load_results(out)) == 3
    paths = write_report(out, tmp_path / "rep", plots=False)
    md = paths[0].read_text()
    assert "Rows from 2 machines (host, device model): one table each" in md
    assert f"## host not recorded, {device_name('cpu')}" in md and f"## host {socket.gethostname()}," in md


def test_rows_of_two_hosts_are_never_one_table_or_one_row(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    (rec,) = _sweep(plan([_entry()], ["eager"], [1]), out)
    other = {**rec.model_dump(), "host": "gpu-node-7", "device_model": "NVIDIA H100 80GB HBM3", "p50_ms": 0.5}
    append_record(out, other)
    loaded = load_results(out)
    assert len(loaded) == 2  # same job, two machines: two rows, neither supersedes the other
    text = format_table(loaded, SWEEP_COLUMNS)
    assert text.startswith("rows from 2 machines (host, device model): one table each, never compared across")
    assert "[host gpu-node-7, NVIDIA H100 80GB HBM3]" in text and f"[host {rec['host']}, " in text
    # Resume here measures nothing: this host's row is done, whatever the other host did.
    again = _sweep(plan([_entry()], ["eager"], [1]), out, resume=True)
    assert again[0]["timestamp"] == rec["timestamp"]
    md = write_report(out, tmp_path / "rep", plots=False)[0].read_text()
    assert "## host gpu-node-7, NVIDIA H100 80GB HBM3" in md
    assert json.loads(out.read_text().splitlines()[-1])["host"] == "gpu-node-7"

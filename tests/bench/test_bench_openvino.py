"""The openvino backend: registration, fp32 and int8 rows against eager, hints, env, the peak engine, no extra."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from resgraph.bench.backends import backend_names, get_backend, prepare, unmet_requirement
from resgraph.bench.env import available_cpus
from resgraph.bench.row import Job, run_row
from resgraph.bench.timing import TimingConfig
from resgraph.cli.main import main
from resgraph.cli.measure import OV_HINTS
from resgraph.entries import spec_entry
from resgraph.spec import load_spec

FAST = TimingConfig(warmup=1, iters=3, min_time_s=0.0)
CLI_FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0", "--threads", "1", "--no-roofline", "--in-process"]
MISSING = unmet_requirement("openvino", "cpu", "int8")
needs_ov = pytest.mark.skipif(MISSING is not None, reason=f"{MISSING}")


@pytest.fixture(scope="module")
def resnet20():
    return spec_entry(load_spec("resnet20"))


def test_openvino_is_registered_with_its_precisions_hints_and_peaks():
    assert "openvino" in backend_names()
    b = get_backend("openvino")
    assert b.precisions == {"cpu": ("fp32", "bf16", "int8")}
    assert b.hints == OV_HINTS == ("latency", "throughput")  # the CLI's choices are the backend's
    assert b.peak_engine("fp32") == b.peak_engine("int8") == "openvino"
    assert b.requirements("fp32") == ("openvino",) and b.requirements("int8") == ("openvino", "nncf")
    assert "OpenVINO's CPU plugin runs fp32, bf16 and int8" in unmet_requirement("openvino", "cpu", "fp16")
    assert "runs on cpu" in unmet_requirement("openvino", "cuda", "fp32")


def test_the_hint_is_part_of_an_openvino_rows_key_and_ignored_elsewhere(resnet20):
    latency, throughput = Job(resnet20, "openvino"), Job(resnet20, "openvino", hint="throughput")
    assert latency.row_hint == "latency" and throughput.row_hint == "throughput"
    assert latency.key != throughput.key  # --resume never takes one for the other
    assert latency.key == Job(resnet20, "openvino", hint="latency").key  # the default, named or not
    assert throughput.label.endswith("/b1/throughput")
    eager = Job(resnet20, "eager", hint="throughput")
    assert eager.row_hint is None and eager.key == Job(resnet20, "eager").key


def test_without_the_extra_openvino_rows_are_skipped_naming_the_install(monkeypatch, tmp_path):
    real = importlib.util.find_spec

    def blocked(name, *args):  # openvino and nncf "not installed"
        return None if name.split(".")[0] in ("openvino", "nncf") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", blocked)
    reason = unmet_requirement("openvino", "cpu", "int8")
    assert reason == ("backend 'openvino' needs the package 'openvino', which is not installed "
                      "(pip install 'resgraph[openvino]')")
    out = tmp_path / "r.jsonl"
    res = CliRunner().invoke(main, ["bench", "resnet20", "--backend", "openvino,eager", "--out", str(out),
                                    *CLI_FAST])
    assert res.exit_code == 0, res.output
    rows = {r["backend"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["openvino"]["status"] == "skipped" and rows["openvino"]["reason"] == reason
    assert rows["eager"]["status"] == "ok"
    listing = CliRunner().invoke(main, ["backends"])
    assert "skipped: backend 'openvino' needs the package 'openvino'" in listing.output


def test_ov_hint_is_parsed_and_refused_in_one_line(tmp_path):
    out = tmp_path / "r.jsonl"
    bad = CliRunner().invoke(main, ["bench", "resnet20", "--backend", "openvino", "--ov-hint", "fastest",
                                    "--out", str(out)])
    assert bad.exit_code == 2 and "'fastest' is not one of 'latency', 'throughput'" in bad.output
    dry = CliRunner().invoke(main, ["bench", "resnet20", "--backend", "openvino,eager", "--batch", "1,8",
                                    "--ov-hint", "throughput", "--out", str(out), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "resnet20/openvino/fp32/b8/throughput" in dry.output and "resnet20/eager/fp32/b8 " in dry.output
    assert not out.exists()


@needs_ov
def test_fp32_row_matches_eager_and_records_what_openvino_reports(resnet20):
    import openvino as ov

    rec = run_row(Job(resnet20, "openvino", "cpu", 2), FAST, threads=1)
    assert rec.status == "ok", rec.reason
    assert rec.max_rel_err is not None and rec.max_rel_err <= 1e-4 and rec.hint == "latency"
    env = rec.env or {}
    assert env["openvino_device"] == ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
    assert env["openvino_hint"] == "LATENCY" and env["openvino_streams"] == "1"
    assert env["openvino_threads"] == "1" and env["openvino_precision"] == "f32" and env["openvino_requests"] == 1


@needs_ov
def test_throughput_hint_splits_the_batch_and_keeps_image_order(resnet20):
    threads = min(2, available_cpus()[0])
    rec = run_row(Job(resnet20, "openvino", "cpu", 4, hint="throughput"), FAST, threads=threads)
    assert rec.status == "ok", rec.reason  # per-image outputs in the wrong order would fail the check
    assert rec.hint == "throughput" and (rec.env or {})["openvino_hint"] == "THROUGHPUT"
    assert 4 % int((rec.env or {})["openvino_requests"]) == 0


@needs_ov
def test_int8_row_is_quantised_by_nncf_and_agrees_with_fp32(resnet20):
    rec = run_row(Job(resnet20, "openvino", "cpu", 2, "int8", calibration=3), FAST, threads=1)
    assert rec.status == "ok", rec.reason
    assert rec.calibration == 3 and rec.calibration_data == "random normal, 6 images (seed 1)"
    assert rec.check_images == 32 and rec.top1_agreement is not None and rec.top1_agreement >= 0.9
    assert rec.cosine is not None and 0.95 <= rec.cosine < 1  # really quantised: not fp32 in disguise
    assert Job(resnet20, "openvino", precision="int8").packages == ("openvino", "nncf")  # their versions recorded


@needs_ov
def test_a_broken_quantisation_is_a_mismatch_row(resnet20, monkeypatch):
    import resgraph.bench.openvino as ov_backend

    real = ov_backend.quantize
    # Calibrated on images 1000x too large: every activation's range is so wide its int8 steps erase the signal.
    monkeypatch.setattr(ov_backend, "quantize", lambda model, cal: real(model, [c * 1000 for c in cal]))
    rec = run_row(Job(resnet20, "openvino", "cpu", 2, "int8", calibration=2), FAST, threads=1)
    assert rec.status == "mismatch" and "agreement" in (rec.reason or ""), rec.reason
    assert rec.p50_ms is not None  # still timed: a mismatch is a measured row that cannot be trusted


@needs_ov
def test_bf16_runs_where_openvino_reports_it_else_skips_with_the_reason(resnet20):
    import openvino as ov

    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    reason = unmet_requirement("openvino", "cpu", "bf16")
    if "BF16" not in caps:
        assert reason is not None and "no bf16" in reason
        return
    assert reason is None
    rec = run_row(Job(resnet20, "openvino", "cpu", 1, "bf16"), FAST, threads=1)
    assert rec.status == "ok", rec.reason
    assert (rec.env or {})["openvino_precision"] == "bf16" and rec.max_rel_err is not None and rec.max_rel_err > 0


@needs_ov
def test_prepare_refuses_a_hint_the_backend_does_not_take(resnet20):
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="takes no hint 'throughput' \\(none\\)"):
        prepare("eager", resnet20.factory(), x, hint="throughput")


@needs_ov
def test_openvino_peak_engine_measures_fp32_and_int8_matmuls(tmp_path: Path):
    import openvino

    from resgraph.bench.roofline import measure_peak_gflops, peak_key

    fp32 = measure_peak_gflops("cpu", "fp32", n=256, min_time_s=0.05, engine="openvino")
    int8 = measure_peak_gflops("cpu", "int8", n=256, min_time_s=0.05, engine="openvino")
    assert fp32 > 0 and int8 > 0
    assert peak_key("cpu", 1, "int8", "openvino").endswith(f"|int8|openvino={openvino.__version__}")
    with pytest.raises(ValueError, match="fp32 and int8"):
        measure_peak_gflops("cpu", "bf16", n=64, engine="openvino")

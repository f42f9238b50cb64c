"""int8 rows: the precision table, the agreement check, both quantised backends, weights, data and resume keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from resgraph.bench.backends import backend_names, get_backend, prepare, unmet_requirement
from resgraph.bench.check import check_agreement
from resgraph.bench.record import KEY_FIELDS, read_results
from resgraph.bench.row import Job, run_row
from resgraph.bench.timing import TimingConfig
from resgraph.cli.main import main
from resgraph.entries import spec_entry
from resgraph.errors import UsageError
from resgraph.graph.analyze import DTYPE_BYTES
from resgraph.precision import PRECISIONS, get_precision, torch_dtype
from resgraph.spec import load_spec

FAST = TimingConfig(warmup=1, iters=3, min_time_s=0.0)
CLI_FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0", "--threads", "1", "--no-roofline"]
TINY = """\
name: tiny8
input: {channels: 1, size: 8}
stem: cifar
block: basic
shortcut: B
stages:
  - {blocks: 1, width: 8}
  - {blocks: 1, width: 16, stride: 2}
head: {classes: 10}
"""
needs_ort = pytest.mark.skipif(unmet_requirement("onnxruntime", "cpu", "int8") is not None,
                               reason=f"{unmet_requirement('onnxruntime', 'cpu', 'int8')}")
needs_pt2e = pytest.mark.skipif(unmet_requirement("inductor", "cpu", "int8") is not None,
                                reason=f"{unmet_requirement('inductor', 'cpu', 'int8')}")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_every_backend_precision_is_in_the_one_table():
    for name in backend_names():
        for precisions in get_backend(name).precisions.values():
            assert set(precisions) <= set(PRECISIONS), name
    assert DTYPE_BYTES == {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
    assert torch_dtype("half") is torch.float16 and torch_dtype("int8") is torch.int8
    with pytest.raises(UsageError, match="--precision: unknown precision 'fp8'; known: fp32, fp16, bf16, int8"):
        get_precision("fp8", "--precision")
    with pytest.raises(ValueError):  # library callers catch a ValueError
        get_precision("fp8")
    assert get_precision("int8").check == "agreement" and get_precision("int8").calibrated


def test_agreement_passes_a_faithful_output_and_names_what_a_broken_one_lost():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(40, 10, generator=g)
    good = check_agreement(ref + 0.01 * torch.randn(40, 10, generator=g), ref, "int8")
    assert good.ok and good.top1_agreement == 1.0 and good.cosine > 0.99 and good.images == 40
    bad = check_agreement(ref[torch.randperm(40, generator=g)], ref, "int8")  # right values, wrong images
    assert not bad.ok and "top-1 agreement" in bad.reason and "cosine" in bad.reason and "40 held-out" in bad.reason
    labels = ref.argmax(1)
    labels[:4] = (labels[:4] + 1) % 10  # fp32 gets 10 % wrong
    worse = ref.clone()
    worse[4:6] = worse[4:6].flip(1)  # two more wrong: 5 points worse, beyond the 1-point threshold
    r = check_agreement(worse, ref, "int8", labels)
    assert r.ref_test_error == pytest.approx(10.0) and r.test_error == pytest.approx(15.0)
    assert not r.ok and "test error 15.00 % vs fp32's 10.00 %" in r.reason
    with pytest.raises(ValueError, match="not checked by agreement"):
        check_agreement(ref, ref, "fp32")


def test_int8_needs_calibration_and_a_backend_that_runs_it(tiny):
    x = torch.randn(1, 1, 8, 8)
    model = spec_entry(load_spec(tiny)).factory()
    with pytest.raises(ValueError, match="calibrated"):
        prepare("onnxruntime", model, x, "cpu", "int8")
    assert "int8 runs on the onnxruntime, inductor and openvino backends" in unmet_requirement("eager", "cpu", "int8")


@pytest.mark.parametrize("backend", [pytest.param("onnxruntime", marks=needs_ort),
                                     pytest.param("inductor", marks=needs_pt2e)])
def test_int8_row_is_quantised_calibrated_and_agrees_with_fp32(backend, tiny):
    entry = spec_entry(load_spec(tiny))
    rec = run_row(Job(entry, backend, "cpu", 2, "int8", calibration=3), FAST, threads=1)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["calibration"] == 3 and rec["calibration_data"] == "random normal, 6 images (seed 1)"
    assert rec["check_images"] == 32 and rec["check_data"] == "random normal, 32 images (seed 2)"
    assert rec["top1_agreement"] >= 0.9 and rec["top5_overlap"] >= 0.8 and 0.95 <= rec["cosine"] <= 1
    assert rec["cosine"] < 1  # really quantised: not fp32 in disguise
    assert rec["max_rel_err"] is None and rec["test_error"] is None  # no data set: no test error


@needs_ort
def test_onnxruntime_int8_graph_holds_quantised_weights(tiny):
    import onnx

    from resgraph.lower.quantize import quantize_onnx, random_batches

    model = spec_entry(load_spec(tiny)).factory()
    proto = onnx.load_from_string(quantize_onnx(model, (1, 8, 8), random_batches(2, 1, (1, 8, 8), seed=1)))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    int8_weights = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(int8_weights) == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 7  # every conv
    scales = [t for t in proto.graph.initializer if t.name.endswith("_scale") and len(t.dims) == 1 and t.dims[0] > 1]
    assert scales  # per-channel: one scale per output channel


def _trained(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny net trained briefly on the bundled digits: its spec and state_dict."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    res = CliRunner().invoke(main, ["train", str(spec), "--data", "digits", "--steps", "40", "--threads", "1",
                                    "--out", str(tmp_path / "t.jsonl"), "--save-weights", str(tmp_path / "w")])
    assert res.exit_code == 0, res.output
    return tmp_path / "w" / "tiny8-seed0.yaml", tmp_path / "w" / "tiny8-seed0.pt"


@needs_ort
def test_trained_weights_and_data_give_both_test_errors_and_separate_resume_keys(tmp_path):
    spec, weights = _trained(tmp_path)
    out = tmp_path / "r.jsonl"
    args = ["bench", str(spec), "--backend", "onnxruntime", "--precision", "fp32,int8", "--out", str(out),
            "--calibration", "4", *CLI_FAST]
    res = CliRunner().invoke(main, [*args, "--weights", str(weights), "--data", "digits"])
    assert res.exit_code == 0, res.output
    fp32, int8 = (json.loads(line) for line in out.read_text().splitlines())
    assert fp32["weights"] == int8["weights"] and int8["weights"].startswith("tiny8-seed0.pt@")
    assert fp32["calibration"] is None and int8["calibration"] == 4 and int8["data"] == "digits"
    assert int8["calibration_data"] == "digits train split, 4 images (seed 1)"
    assert int8["check_data"].startswith("digits test split, ") and int8["check_images"] > 100
    assert int8["ref_test_error"] < 50 and abs(int8["test_error"] - int8["ref_test_error"]) <= 1.0
    # Random weights are another row: --resume measures them, never reuses the trained ones.
    res = CliRunner().invoke(main, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert "0 of 2 rows already in" in res.output
    rows = read_results(out)
    assert len({r.key for r in rows}) == 4 and "weights" in KEY_FIELDS
    assert rows[-1]["weights"] is None and rows[-1]["test_error"] is None


def test_weights_that_do_not_fit_are_one_line_usage_errors(tmp_path):
    w = tmp_path / "r20.pt"
    assert CliRunner().invoke(main, ["lower", "resnet20", "--state-dict", str(w)]).exit_code == 0
    for cmd in (["bench", "resnet32"], ["compare", "resnet32"], ["lower", "resnet32"]):
        res = CliRunner().invoke(main, [*cmd, "--weights", str(w)])
        assert res.exit_code == 2, res.output
        assert res.output == f"{w}: keys do not match resnet32: 72 missing (e.g. layer1.3.bn1.bias)\n"
    sd = torch.load(w, weights_only=True)
    sd["fc.weight"] = torch.zeros(3, 64)
    torch.save(sd, w)
    res = CliRunner().invoke(main, ["bench", "resnet20", "--weights", str(w)])
    assert res.exit_code == 2 and res.output == f"{w}: fc.weight: shape (3, 64) does not match resnet20's (10, 64)\n"
    res = CliRunner().invoke(main, ["bench", "resnet20", "--data", "digits"])
    assert res.exit_code == 2 and "--data digits: its images are 1x8x8 but resnet20 takes 3x32x32" in res.output


def test_lower_loads_weights(tmp_path):
    w = tmp_path / "r20.pt"
    assert CliRunner().invoke(main, ["lower", "resnet20", "--seed", "3", "--state-dict", str(w)]).exit_code == 0
    again = tmp_path / "again.pt"
    res = CliRunner().invoke(main, ["lower", "resnet20", "--weights", str(w), "--state-dict", str(again)])
    assert res.exit_code == 0 and f"weights from {w}" in res.output
    a, b = torch.load(w, weights_only=True), torch.load(again, weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


@needs_pt2e
def test_a_module_calling_one_relu_in_several_places_is_unshared_and_quantises():
    from resgraph.bench.toy import tiny_resnet
    from resgraph.lower.quantize import quantize_pt2e, random_batches, unshare_modules

    model, x = tiny_resnet(), torch.randn(2, 3, 32, 32)
    unshared = unshare_modules(model)
    assert sum(isinstance(m, torch.nn.ReLU) for m in unshared.modules()) == 3  # one per call
    assert sum(isinstance(m, torch.nn.ReLU) for m in model.modules()) == 1  # the caller's module untouched
    with torch.no_grad():
        assert torch.equal(unshared(x), model(x))
        q = quantize_pt2e(model, x, random_batches(2, 2, (3, 32, 32), seed=1))  # torchao refuses the shared ReLU
        assert torch.nn.functional.cosine_similarity(q(x), model(x)).min() > 0.99
    assert unshare_modules(unshared) is unshared  # nothing shared: returned as is


def test_int8_peak_is_measured_through_the_rows_engine(tmp_path, monkeypatch):
    from resgraph.bench import roofline

    assert get_backend("onnxruntime").peak_engine("int8") == "onnxruntime"
    assert get_backend("inductor").peak_engine("int8") == "torch"
    assert get_backend("onnxruntime").peak_engine("fp32") == "torch"
    for engine in ("torch", *(["onnxruntime"] if unmet_requirement("onnxruntime", "cpu", "int8") is None else [])):
        assert 0.1 < roofline.measure_peak_gflops("cpu", "int8", n=256, min_time_s=0.05, engine=engine) < 1e6
    with pytest.raises(ValueError, match="int8 on the CPU only"):
        roofline.measure_peak_gflops("cpu", "fp32", n=64, engine="onnxruntime")
    calls = []
    monkeypatch.setattr(roofline, "measure_peak_gflops",
                        lambda device, precision, engine="torch": calls.append(engine) or 7.0)
    path = tmp_path / "peak.json"
    roofline.peak_gflops("cpu", 2, "int8", cache_path=path, engine="onnxruntime")
    roofline.peak_gflops("cpu", 2, "int8", cache_path=path)
    assert calls == ["onnxruntime", "torch"] and len(json.loads(path.read_text())) == 2  # one cache entry each

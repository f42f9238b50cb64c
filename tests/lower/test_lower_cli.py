"""`resgraph lower` and `resgraph export`: output, files written, one-line errors with exit 2."""

from __future__ import annotations

import re

import pytest
import torch
import torchvision
from click.testing import CliRunner

from resgraph.cli.main import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_lower_summary():
    r = run("lower", "resnet18")
    assert r.exit_code == 0, r.output
    assert r.output == ("resnet18: torch.fx.GraphModule, 71 fx nodes, 122 tensors, 11,689,512 parameters; "
                        "(N, 3, 224, 224) -> (N, 1000)\n")


def test_lower_code_prints_the_generated_forward():
    r = run("lower", "resnet20", "--code")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0] == "def forward(self, x):"
    assert "    layer1_0_add = layer1_0_bn2.add_(relu);  layer1_0_bn2 = relu = None" in lines
    assert any("resgraph_lower_ops_shortcut_a(layer1_2_relu2, c_in = 16, c_out = 32, stride = 2)" in ln
               for ln in lines)
    assert lines[-1].strip() == "return fc"


def test_lower_fold_bn_code_has_no_bn():
    r = run("lower", "resnet18", "--code", "--fold-bn")
    assert r.exit_code == 0 and "bn" not in r.output


def test_lower_state_dict_loads_into_torchvision(tmp_path):
    path = tmp_path / "w" / "resnet18.pt"
    r = run("lower", "resnet18", "--seed", "3", "--state-dict", str(path))
    assert r.exit_code == 0 and f"wrote {path}" in r.output
    tv = torchvision.models.resnet18()
    tv.load_state_dict(torch.load(path, weights_only=True), strict=True)
    assert [p.name for p in path.parent.iterdir()] == ["resnet18.pt"]  # no temporary left behind


def test_export_onnx_reports_the_measured_error(tmp_path):
    path = tmp_path / "resnet20.onnx"
    r = run("export", "resnet20", "--onnx", str(path), "--batch-range", "1,2,4")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {path} (1.1 MB, opset ")
    # The rule as the check applies it: absolute up to outputs of magnitude 1, relative to the largest above.
    m = re.fullmatch(r"wrote .* \(1\.1 MB, opset (\d+), dynamic batch\); ONNX Runtime vs PyTorch at batch 1, 2: "
                     r"max abs error \S+ \(relative \S+\), within 1e-4 x max\(1, largest \|output\| (\S+)\) = "
                     r"(\S+)\n", r.stdout)
    assert m, r.stdout
    onnx = pytest.importorskip("onnx", reason="needs the onnx extra")
    assert int(m[1]) == next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx"))
    assert float(m[3]) == pytest.approx(1e-4 * max(1.0, float(m[2])), rel=0.06)  # both printed to 2-3 digits
    assert path.is_file()


def test_export_with_weights_file(tmp_path):
    weights = tmp_path / "r20.pt"
    assert run("lower", "resnet20", "--state-dict", str(weights)).exit_code == 0
    r = run("export", "resnet20", "--onnx", str(tmp_path / "a.onnx"), "--weights", str(weights))
    assert r.exit_code == 0, r.output
    r = run("export", "resnet32", "--onnx", str(tmp_path / "b.onnx"), "--weights", str(weights))
    assert r.exit_code == 2
    assert r.output.startswith(f"{weights}: keys do not match resnet32: 72 missing (e.g. layer1.3.bn1.bias)")


@pytest.mark.parametrize(("args", "message"), [
    (["resnet20"], "export: nothing to do: give --onnx PATH and/or --tensorrt PATH\n"),
    (["resnet20", "--onnx", "x.onnx", "--batch-range", "4,2,8"],
     "--batch-range: expected 1 <= MIN <= OPT <= MAX (received '4,2,8')\n"),
    (["resnet20", "--onnx", "x.onnx", "--batch-range", "1,2"],
     "--batch-range: expected MIN,OPT,MAX, three integers (received '1,2')\n"),
    (["resnet20", "--onnx", "x.onnx", "--precision", "fp16"],
     "export: --precision fp16 applies to --tensorrt only; the ONNX file is float32\n"),
])
def test_export_usage_errors_are_one_line_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("export", *args)
    assert r.exit_code == 2 and r.output == message
    assert list(tmp_path.iterdir()) == []


def test_export_tensorrt_without_cuda_is_one_line_exit_2(tmp_path):
    from resgraph.lower.export import tensorrt_missing

    why = tensorrt_missing()
    if why is None:
        pytest.skip("CUDA and torch_tensorrt are present")
    r = run("export", "resnet20", "--tensorrt", str(tmp_path / "x.ep"), "--onnx", str(tmp_path / "x.onnx"))
    assert r.exit_code == 2
    assert r.output == f"export --tensorrt needs CUDA and torch_tensorrt: {why}\n"
    assert list(tmp_path.iterdir()) == []  # refused before writing the ONNX file


def test_lower_unknown_spec_is_exit_2():
    r = run("lower", "resnet19")
    assert r.exit_code == 2 and len(r.output.splitlines()) == 1


@pytest.mark.parametrize("name, out", [("resnetv2_50", "(N, 3, 224, 224) -> (N, 1000)"),
                                       ("preact_resnet164", "(N, 3, 32, 32) -> (N, 10)"),
                                       ("seresnet50", "(N, 3, 224, 224) -> (N, 1000)")])
def test_lower_summarises_every_layout(name, out):
    run = CliRunner().invoke(main, ["lower", name])
    assert run.exit_code == 0, run.output
    assert out in run.output


def test_a_pre_activation_classifier_starts_as_timms():
    from resgraph.lower import build_model

    fc = build_model("resnetv2_50", seed=0).get_submodule("head.fc")
    assert abs(fc.weight.detach().std().item() - 0.01) < 1e-3 and not fc.bias.detach().any()


def test_onnx_files_record_the_spec_and_where_the_weights_came_from(tmp_path):
    onnx = pytest.importorskip("onnx", reason="needs the onnx extra")
    path = tmp_path / "r.onnx"
    r = CliRunner().invoke(main, ["export", "resnet20", "--onnx", str(path), "--seed", "7"])
    assert r.exit_code == 0, r.output
    assert "resnet20: weights random (seed 7)" in r.stderr
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    from resgraph.entries import spec_hash
    from resgraph.spec import load_spec

    assert props == {"resgraph.spec": "resnet20", "resgraph.spec_hash": spec_hash(load_spec("resnet20")),
                     "resgraph.weights": "random, seed 7"}

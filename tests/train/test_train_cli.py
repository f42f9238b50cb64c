"""resgraph train / probe / report from the command line: one-line errors with exit 2, files written."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from resgraph.cli import main

pytest.importorskip("sklearn")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line_error(result, *needles: str, after_start: bool = False) -> str:
    """The error is one line, and (unless it struck after training began) the only output."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 or after_start, result.output
    lines = lines[-1:]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_unknown_data_name():
    one_line_error(run("train", "resnet20", "--data", "mnist"), "unknown dataset 'mnist'", "digits", "cifar10:PATH")


def test_missing_dataset_paths(tmp_path):
    missing = tmp_path / "nowhere"
    one_line_error(run("train", "resnet20", "--data", f"cifar10:{missing}"), str(missing), "no such folder")
    one_line_error(run("train", "resnet20", "--data", f"folder:{missing}"), str(missing), "no such folder")
    one_line_error(run("train", "resnet20", "--data", "cifar10"), "cifar10 needs a path")


def test_malformed_cifar_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (folder / name).write_bytes(pickle.dumps({"data": [1, 2, 3]}))  # right names, wrong contents
    one_line_error(run("train", "resnet20", "--data", f"cifar10:{folder}"), str(folder), "not a CIFAR-10 python batch")


def test_cifar_batch_sizes_are_checked_before_hashing(tmp_path):
    """A 20 GB sparse data_batch_1 is refused by its size at once (torchvision's MD5 check read it for minutes)."""
    import time

    from resgraph.data import CIFAR_SIZES

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, size in CIFAR_SIZES.items():
        with open(folder / name, "wb") as f:
            f.truncate(20 * 2**30 if name == "data_batch_1" else size)  # sparse: no disk used
    t0 = time.perf_counter()
    one_line_error(run("train", "resnet20", "--data", f"cifar10:{folder}"), str(folder),
                   "data_batch_1 is 21,474,836,480 bytes, the published file 31,035,704")
    assert time.perf_counter() - t0 < 5
    with open(folder / "data_batch_1", "wb") as f:  # the right sizes, the wrong bytes: torchvision's MD5 says so
        f.truncate(CIFAR_SIZES["data_batch_1"])
    one_line_error(run("train", "resnet20", "--data", f"cifar10:{folder}"), "not a CIFAR-10 python batch folder")


def test_image_folder_trains_and_a_broken_image_is_one_line(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for c, colour in enumerate(("red", "blue")):
            (tmp_path / split / f"c{c}").mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (40, 30 + i), colour).save(tmp_path / split / f"c{c}" / f"{i}.png")
    spec = tmp_path / "s.yaml"
    spec.write_text("extends: resnet20\nname: two\ninput: {size: 16}\nhead: {classes: 2}\n")
    out = tmp_path / "r.jsonl"
    ok = run("train", str(spec), "--data", f"folder:{tmp_path}", "--steps", "2", "--batch", "4", "--out", str(out))
    assert ok.exit_code == 0, ok.output
    assert "two" in ok.output and out.exists()
    (tmp_path / "train" / "c0" / "0.png").write_bytes(b"not a png")
    bad = run("train", str(spec), "--data", f"folder:{tmp_path}", "--steps", "2", "--batch", "8", "--out", str(out))
    one_line_error(bad, "0.png", "not an image PIL can read", after_start=True)


def test_mismatched_input_names_both_and_fit_input_fixes_it(tmp_path):
    one_line_error(run("train", "resnet20", "--data", "digits", "--out", str(tmp_path / "r.jsonl")),
                   "resnet20: input 3x32x32 but digits images are 1x8x8", "--fit-input")
    assert not (tmp_path / "r.jsonl").exists()


def test_steps_and_epochs_exclude_each_other():
    one_line_error(run("train", "resnet20", "--steps", "3", "--epochs", "1"), "--steps and --epochs")


def test_train_then_report_draws_fig6(tmp_path):
    out = tmp_path / "r.jsonl"
    r = run("train", "resnet20", "plain20", "--data", "digits", "--fit-input", "--epochs", "0.5", "--batch", "64",
            "--seed", "0,1", "--out", str(out), "--threads", "1")
    assert r.exit_code == 0, r.output
    assert "resnet20" in r.output and "plain20" in r.output and "±" in r.output
    rep = run("report", str(out), "-o", str(tmp_path / "rep"))
    assert rep.exit_code == 0, rep.output
    names = {Path(p).name for p in rep.output.split()}
    assert {"training.md", "training.csv", "training-curves.png", "training-curves.svg"} <= names
    md = (tmp_path / "rep" / "training.md").read_text()
    assert "| resnet20 | 20 |" in md and "| plain20 | 20 |" in md


def test_probe_a_20_layer_pair(tmp_path):
    r = run("probe", "resnet20", "plain20", "--batch", "8", "--pairs", "2", "-o", str(tmp_path), "--threads", "1")
    assert r.exit_code == 0, r.output
    rows = (tmp_path / "probe.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 9  # header, then one row per block of each network
    for row in rows[1:]:
        values = [float(v) for v in row.split(",")[-3:]]
        assert all(math.isfinite(v) for v in values), row
    assert (tmp_path / "probe.png").stat().st_size > 0


def test_probe_of_a_plain_stack_shows_shattering_and_explosion():
    """The paper's and Balduzzi's point, at initialisation: deep plain gradients explode and decorrelate."""
    from resgraph.bench.env import fixed_threads
    from resgraph.graph import compile_spec
    from resgraph.lower import build_model
    from resgraph.spec import load_spec
    from resgraph.train.probe import probe_blocks

    out = {}
    with fixed_threads(1):  # two threads on two shared cores can be many times slower than one
        for name in ("resnet56", "plain56"):
            g = compile_spec(load_spec(name))
            out[name] = probe_blocks(build_model(g, seed=0), g, (3, 32, 32), 10, batch=8, pairs=2)
    plain, res = out["plain56"], out["resnet56"]
    assert plain[0]["grad_norm"] > 100 * plain[-1]["grad_norm"]  # explodes toward the input
    assert res[0]["grad_norm"] < 100 * res[-1]["grad_norm"]
    assert abs(plain[13]["grad_corr"]) < 0.2 < res[13]["grad_corr"]  # halfway: white noise vs still correlated


@pytest.mark.parametrize("args", [["--epochs", "inf"], ["--epochs", "nan"], ["--lr", "nan"], ["--lr", "inf"],
                                  ["--weight-decay", "nan"], ["--seed", "18446744073709"], ["--seed", "-1"]])
def test_numbers_that_are_not_numbers(args):
    one_line_error(run("train", "resnet20", "--fit-input", *args), args[0])


def test_report_keeps_recipes_apart(tmp_path):
    out = tmp_path / "r.jsonl"
    for lr in ("0.1", "0.01"):
        r = run("train", "resnet20", "--fit-input", "--steps", "3", "--batch", "64", "--lr", lr, "--out", str(out),
                "--threads", "1")
        assert r.exit_code == 0, r.output
    rep = run("report", str(out), "-o", str(tmp_path / "rep"), "--no-plots")
    assert rep.exit_code == 0, rep.output
    md = (tmp_path / "rep" / "training.md").read_text()
    assert "| resnet20 lr=0.1 |" in md and "| resnet20 lr=0.01 |" in md


def test_training_csv_quotes_a_formula_like_name(tmp_path):
    """training.csv goes through the bench report's CSV writer: a name a spreadsheet would run is quoted."""
    spec = tmp_path / "f.yaml"
    spec.write_text("extends: resnet20\nname: '=1+1'\n")
    out = tmp_path / "r.jsonl"
    r = run("train", str(spec), "--fit-input", "--steps", "2", "--batch", "64", "--out", str(out), "--threads", "1")
    assert r.exit_code == 0, r.output
    assert run("report", str(out), "-o", str(tmp_path / "rep"), "--no-plots").exit_code == 0
    assert "\n'=1+1," in (tmp_path / "rep" / "training.csv").read_text()

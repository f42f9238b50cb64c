"""Files resgraph reads besides specs: FIFOs refused without opening them, weights checked tensor by tensor."""

from __future__ import annotations

import os
import threading

import pytest
from click.testing import CliRunner

from resgraph.cli.main import main


def _no_hang(fn, *args):
    """Run ``fn`` in a thread; fail instead of hanging if it blocks on the FIFO."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["out"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test's thread
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "blocked on a FIFO"
    if "exc" in box:
        raise box["exc"]  # type: ignore[misc]
    return box["out"]


def test_a_fifo_as_weights_is_one_line(tmp_path):
    fifo = tmp_path / "w.pt"
    os.mkfifo(fifo)
    res = _no_hang(CliRunner().invoke, main, ["lower", "resnet20", "--weights", str(fifo)])
    assert res.exit_code == 2 and f"{fifo}: is a FIFO, not a state_dict file" in res.output


def test_a_fifo_as_checkpoint_is_refused(tmp_path):
    import torch

    from resgraph.errors import UsageError
    from resgraph.lower import build_model
    from resgraph.train.checkpoint import load_checkpoint

    fifo = tmp_path / "c.pt"
    os.mkfifo(fifo)
    model = build_model("resnet20", seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    with pytest.raises(UsageError, match="is a FIFO, not a training checkpoint; remove it"):
        _no_hang(lambda: load_checkpoint(fifo, "run", model, opt, sched, steps=10))


def test_a_fifo_among_images_names_it(tmp_path):
    from PIL import Image

    from resgraph.data import DataError, load_data

    for split in ("train", "val"):
        (tmp_path / split / "cat").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / split / "cat" / "a.png")
    os.mkfifo(tmp_path / "train" / "cat" / "b.jpg")
    with pytest.raises((DataError, OSError), match=r"b\.jpg: is a FIFO, not an image$"):
        _no_hang(load_data, f"folder:{tmp_path}")


@pytest.mark.parametrize("change, message", [
    (lambda t: t.half(), "dtype float16, resnet20's is float32 (not cast silently"),
    (lambda t: t.to(torch_int64()), "dtype int64, resnet20's is float32"),
    (lambda t: t.to_sparse(), "a sparse_coo tensor; resnet20 needs dense ones"),
    (lambda t: t.to("meta"), "a meta-device tensor holds no values"),
    (lambda t: t * float("nan"), "holds NaN or infinite values"),
])
def test_weights_are_checked_tensor_by_tensor_before_any_work(tmp_path, change, message):
    import torch

    from resgraph.lower import build_model

    sd = build_model("resnet20", seed=0).state_dict()
    sd["conv1.weight"] = change(sd["conv1.weight"])
    path = tmp_path / "w.pt"
    torch.save(sd, path)
    res = CliRunner().invoke(main, ["lower", "resnet20", "--weights", str(path)])
    assert res.exit_code == 2 and f"{path}: conv1.weight: {message}" in res.output, res.output


def torch_int64():
    import torch

    return torch.int64


def _full_disk_under(monkeypatch, part: str) -> None:
    """ENOSPC from every flush of a file whose path contains ``part`` (as a full disk reports it), others untouched."""
    import errno

    real = os.fsync

    def fsync(fd: int) -> None:
        if part in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("where", ["weights", "checkpoint"])
def test_a_full_disk_during_train_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, where):
    pytest.importorskip("sklearn")
    weights = tmp_path / "w"
    _full_disk_under(monkeypatch, str(weights) if where == "weights" else ".checkpoints")
    args = ["train", "resnet20", "--fit-input", "--steps", "4", "--batch", "32", "--eval-every", "2", "--out",
            str(tmp_path / "t.jsonl"), *(["--save-weights", str(weights)] if where == "weights" else [])]
    res = CliRunner().invoke(main, args)
    name = "resnet20-seed0.pt" if where == "weights" else ".pt"
    last = res.output.strip().splitlines()[-1]
    assert res.exit_code == 2 and last.endswith(f"{name}: No space left on device"), res.output
    assert "internal error" not in res.output
    left = [p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".pt", ".yaml")]
    assert left == [] and not [p for p in tmp_path.rglob("*resgraph-tmp*")], left


def test_lower_state_dict_on_a_full_disk(tmp_path, monkeypatch):
    _full_disk_under(monkeypatch, "sd.pt")
    res = CliRunner().invoke(main, ["lower", "resnet20", "--state-dict", str(tmp_path / "sd.pt")])
    assert res.exit_code == 2 and f"{tmp_path / 'sd.pt'}: No space left on device" in res.output, res.output
    assert list(tmp_path.iterdir()) == []


def _image_tree(root, make):
    from PIL import Image

    for split in ("train", "val"):
        (root / split / "cat").mkdir(parents=True)
        Image.new("RGB", (40, 30), "red").save(root / split / "cat" / "a.png")
    make(root / "train" / "cat")
    return root


def test_link_loops_in_an_image_folder_are_walked_once(tmp_path):
    from resgraph.data import load_data, walk_once

    def loops(cat):
        for name in ("l1", "l2", "l3", "l4"):  # four links to '.': os.walk(followlinks=True) went 4^40 deep
            os.symlink(".", cat / name)
        os.symlink("..", cat / "up")

    _image_tree(tmp_path, loops)
    data = _no_hang(load_data, f"folder:{tmp_path}", (16, 16))
    assert [s for s, _ in data.train.ds.samples] == [str(tmp_path / "train" / "cat" / "a.png")]
    assert walk_once(str(tmp_path / "val")) == [str(tmp_path / "val" / "cat" / "a.png")]


@pytest.mark.parametrize("size, message", [
    ((10000, 10000), "big.png: 10000x10000 is 100,000,000 pixels, over the 16,777,216 resgraph decodes for a 16x16 "
                     "input; scale the images down first"),
    ((60000, 1), "big.png: 60000x1 would be resized to 960,000x16 for a 16x16 input, 64 times its pixels: too long and thin"),
    ((20000, 20000), "big.png: refused by PIL as a decompression bomb"),
])
def test_oversized_images_are_refused_before_decoding(tmp_path, size, message):
    """A 12 KB 10000x10000 PNG decoded to 1.26 GB; the header's size is checked first."""
    import resource
    import time

    from PIL import Image

    from resgraph.data import DataError, load_data

    def big(cat):
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # let the test write it
        try:
            Image.new("1", size).save(cat / "big.png")
        finally:
            Image.MAX_IMAGE_PIXELS = limit

    _image_tree(tmp_path, big)
    data = load_data(f"folder:{tmp_path}", (16, 16))
    i = next(i for i, (s, _) in enumerate(data.train.ds.samples) if s.endswith("big.png"))
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(DataError) as exc:
        data.train[i]
    assert message in str(exc.value) and "\n" not in str(exc.value), str(exc.value)
    assert time.perf_counter() - t0 < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing was decoded

"""Datasets by name, all offline: bundled ones (``digits``, ``synthetic``) and formats users keep on disk.

``digits`` is the 8x8 handwritten digits set that ships inside scikit-learn (1,797
images); ``synthetic`` is generated here, at CIFAR's geometry. ``cifar10:PATH`` reads
CIFAR-10's python batches and ``folder:PATH`` an ``ImageFolder`` tree, both with
torchvision's own loaders and ``download=False``: nothing is ever fetched. Every
failure is one :class:`DataError` line that names the path.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset

from resgraph.atomic import regular_file
from resgraph.errors import UsageError, printable

if TYPE_CHECKING:
    from torchvision.datasets import ImageFolder

__all__ = ["Data", "DataError", "ImageTensors", "data_names", "fetch", "load_data"]


class DataError(UsageError):
    """A dataset that is unknown, missing or malformed (exit 2)."""


class ImageTensors(Dataset):
    """Images kept in memory as one tensor (uint8 or float), normalised per batch as they are fetched.

    Keeping CIFAR-10 as uint8 costs 150 MB instead of 600 MB of floats; a batch is
    sliced and normalised in one vectorised step, not image by image.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                 scale: float = 1.0) -> None:
        self.images, self.labels = images, labels.long()
        self.mean, self.std, self.scale = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1), scale

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.batch(torch.tensor([i]))
        return x[0], int(y[0])

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``idx`` as normalised float32 NCHW, and their labels."""
        x = self.images[idx].float() * self.scale
        return (x - self.mean) / self.std, self.labels[idx]


@dataclass(frozen=True)
class Data:
    """A dataset split in two, with the geometry a spec's ``input`` and head must fit."""

    name: str  # as given: "digits", "synthetic", "cifar10:/path", "folder:/path"
    train: Dataset  # items: (image float32 CxHxW, normalised; label int)
    test: Dataset
    channels: int
    size: tuple[int, int]  # H, W
    classes: int

    @property
    def shape(self) -> str:
        return f"{self.channels}x{self.size[0]}x{self.size[1]}"


def fetch(ds: Dataset, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of ``ds``: vectorised for in-memory images, item by item (decoding files) otherwise."""
    if isinstance(ds, ImageTensors):
        return ds.batch(idx)
    items = [ds[int(i)] for i in idx]
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items], dtype=torch.long)


Loader = Callable[[str | None, tuple[int, int] | None], Data]
_LOADERS: dict[str, tuple[Loader, bool]] = {}  # name -> (loader, takes a path)


def register(name: str, *, path: bool = False) -> Callable[[Loader], Loader]:
    """Add a dataset name: ``@register("digits")``, or ``@register("cifar10", path=True)`` for ``cifar10:PATH``."""

    def add(fn: Loader) -> Loader:
        _LOADERS[name] = (fn, path)
        return fn

    return add


def data_names() -> list[str]:
    """Every accepted form, for help texts and errors: ``digits``, ``cifar10:PATH``, ..."""
    return [f"{n}:PATH" if p else n for n, (_, p) in _LOADERS.items()]


def load_data(name: str, size: tuple[int, int] | None = None) -> Data:
    """The dataset ``name`` (see :func:`data_names`); ``size`` is the image size formats that resize (folder) use."""
    kind, sep, path = name.partition(":")
    if kind not in _LOADERS:
        raise DataError(f"--data: unknown dataset {printable(name)!r}; expected one of {', '.join(data_names())}")
    loader, takes_path = _LOADERS[kind]
    if takes_path and not path:
        raise DataError(f"--data: {kind} needs a path: --data {kind}:PATH")
    if not takes_path and sep:
        raise DataError(f"--data: {kind} is bundled and takes no path (received {printable(name)!r})")
    return loader(path or None, size)


def _split(x: torch.Tensor, y: torch.Tensor, test_fraction: float) -> tuple[torch.Tensor, ...]:
    """A fixed stratified split (scikit-learn's), so every run and every user sees the same test set."""
    from sklearn.model_selection import train_test_split

    parts = train_test_split(x.numpy(), y.numpy(), test_size=test_fraction, random_state=0, stratify=y.numpy())
    return tuple(torch.from_numpy(p) for p in parts)


@register("digits")
def _digits(path: str | None, size: tuple[int, int] | None) -> Data:
    """scikit-learn's 8x8 digits: 1,797 grey images, 10 classes; 1,347 to train, 450 to test."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("--data digits: needs scikit-learn: pip install 'resgraph[train]'") from None
    d = load_digits()
    x = torch.from_numpy(d.images).float().unsqueeze(1)  # N, 1, 8, 8; values 0..16
    y = torch.from_numpy(d.target).long()
    x_tr, x_te, y_tr, y_te = _split(x, y, 0.25)
    mean, std = x_tr.mean().view(1), x_tr.std().view(1)
    return Data("digits", ImageTensors(x_tr, y_tr, mean, std), ImageTensors(x_te, y_te, mean, std), 1, (8, 8), 10)


SYNTHETIC_SEED = 20161  # the data never changes; training seeds only change the order it is seen in


@register("synthetic")
def _synthetic(path: str | None, size: tuple[int, int] | None) -> Data:
    """Generated at CIFAR's geometry (3x32x32, 10 classes, 4,000 + 1,000 images): oriented gratings in noise.

    The class is the grating's orientation (18 degrees apart); frequency, phase,
    colour and noise vary per image, so a network must learn orientation, not a template.
    """
    n, c, hw, classes = 5000, 3, 32, 10
    g = torch.Generator().manual_seed(SYNTHETIC_SEED)
    y = torch.arange(n) % classes
    theta = y.float() * math.pi / classes
    freq = 0.15 + 0.25 * torch.rand(n, generator=g)  # cycles per pixel
    phase = 2 * math.pi * torch.rand(n, generator=g)
    r = torch.arange(hw).float() - hw / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    along = xx[None] * torch.cos(theta)[:, None, None] + yy[None] * torch.sin(theta)[:, None, None]
    wave = torch.sin(2 * math.pi * freq[:, None, None] * along + phase[:, None, None])
    colour = 0.5 + torch.rand(n, c, generator=g)
    x = colour[:, :, None, None] * wave[:, None] + 0.8 * torch.randn(n, c, hw, hw, generator=g)
    x_tr, x_te, y_tr, y_te = _split(x, y, 0.2)
    mean, std = x_tr.mean(dim=(0, 2, 3)), x_tr.std(dim=(0, 2, 3))
    return Data("synthetic", ImageTensors(x_tr, y_tr, mean, std), ImageTensors(x_te, y_te, mean, std), c, (hw, hw),
                classes)


CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
# The published cifar-10-python.tar.gz's files, in bytes: checked before torchvision hashes them (its MD5 check
# read a 20 GB sparse file named data_batch_1 for minutes).
CIFAR_SIZES = {"data_batch_1": 31_035_704, "data_batch_2": 31_035_320, "data_batch_3": 31_035_999,
               "data_batch_4": 31_035_696, "data_batch_5": 31_035_623, "test_batch": 31_035_526, "batches.meta": 158}


@register("cifar10", path=True)
def _cifar10(path: str | None, size: tuple[int, int] | None) -> Data:
    """CIFAR-10's python batches: PATH is the ``cifar-10-batches-py`` folder or the folder holding it."""
    from torchvision.datasets import CIFAR10

    folder = _folder(path, "cifar10")
    root = folder.parent if folder.name == CIFAR10.base_folder else folder
    _check_cifar_sizes(root / CIFAR10.base_folder, folder)
    splits = []
    for train in (True, False):
        try:  # torchvision checks every batch file's MD5 before unpickling it
            ds = CIFAR10(str(root), train=train, download=False)
        except RuntimeError:
            raise DataError(f"{printable(str(folder))}: not a CIFAR-10 python batch folder (expected "
                            f"{CIFAR10.base_folder}/ with data_batch_1..5 and test_batch, unmodified)") from None
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{printable(str(folder))}: cannot read CIFAR-10 ({type(exc).__name__})") from None
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # N, 3, 32, 32 uint8
        splits.append(ImageTensors(images, torch.tensor(ds.targets), torch.tensor(CIFAR_MEAN),
                                   torch.tensor(CIFAR_STD), scale=1 / 255))
    return Data(f"cifar10:{folder}", splits[0], splits[1], 3, (32, 32), 10)


def _check_cifar_sizes(batches: Path, folder: Path) -> None:
    """Every batch file is a regular file of its published size, known before a byte of it is read."""
    expected = f"expected {batches.name}/ with data_batch_1..5 and test_batch, unmodified"
    for name, size in CIFAR_SIZES.items():
        file = batches / name
        try:
            st = os.stat(regular_file(file, "a CIFAR-10 batch file"))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise DataError(f"{printable(str(folder))}: not a CIFAR-10 python batch folder ({name} is missing; "
                                f"{expected})") from None
            raise DataError(f"{printable(str(file))}: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            what = "a folder" if stat.S_ISDIR(st.st_mode) else f"{st.st_size:,} bytes"
            raise DataError(f"{printable(str(folder))}: not a CIFAR-10 python batch folder ({name} is {what}, the "
                            f"published file {size:,}; {expected})")


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# The most pixels one image may hold decoded (a 10000x10000 PNG of 12 KB decoded to 1.26 GB): 4096x4096 at least,
# 64 times the input's for a large input; resized, 64 times the input's (a 60000x1 strip became 1,920,000x32).
MIN_PIXEL_CAP = 4096 * 4096
PIXELS_PER_INPUT_PIXEL = 64


def pixel_cap(hw: tuple[int, int]) -> int:
    """The most pixels resgraph decodes per image for an input of ``hw``."""
    return max(MIN_PIXEL_CAP, PIXELS_PER_INPUT_PIXEL * hw[0] * hw[1])


@register("folder", path=True)
def _image_folder(path: str | None, size: tuple[int, int] | None) -> Data:
    """An ``ImageFolder`` tree: PATH/train/CLASS/*.jpg and PATH/val (or test)/CLASS/*.jpg, RGB.

    Images are resized (shorter side) and centre-cropped to ``size`` (the spec's input;
    224x224 when none is given), as torchvision's ImageNet evaluation does. Each class folder
    is walked once (a folder reached again through a link is not walked again), and an image
    whose header promises more than :func:`pixel_cap` pixels, or a resize to over 64 times the
    input's, is refused before it is decoded.
    """
    from torchvision import transforms

    folder = _folder(path, "folder")
    test_dir = next((folder / n for n in ("val", "test") if (folder / n).is_dir()), None)
    if not (folder / "train").is_dir() or test_dir is None:
        raise DataError(f"{printable(str(folder))}: an image folder needs train/ and val/ (or test/) subfolders, "
                        "one folder per class in each")
    hw = size or (224, 224)
    tf = transforms.Compose([transforms.Resize(min(hw)), transforms.CenterCrop(hw), transforms.ToTensor(),
                             transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    load = functools.partial(_load_image, hw=hw)
    try:
        train, test = (_image_folder_class()(str(d), tf, loader=load, is_valid_file=_image_file)
                       for d in (folder / "train", test_dir))
    except (FileNotFoundError, OSError) as exc:  # a class folder without images, an unreadable folder
        if exc.filename and exc.strerror:  # one file: name it
            raise DataError(f"{printable(str(exc.filename))}: {exc.strerror}") from None
        raise DataError(
            f"{printable(str(folder))}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    if train.classes != test.classes:
        raise DataError(f"{printable(str(folder))}: train/ has classes {_few(train.classes)} but {test_dir.name}/ has "
                        f"{_few(test.classes)}; both need the same class folders")
    return Data(f"folder:{folder}", _Checked(train, folder), _Checked(test, folder), 3, hw, len(train.classes))


def _image_folder_class() -> type[ImageFolder]:
    """torchvision's ImageFolder, listing each class folder with :func:`walk_once` instead of ``os.walk``.

    ``os.walk(followlinks=True)`` follows every link again: two links to ``.`` in one class folder made its
    walk exponential (1.15 GB after 40 s and growing).
    """
    from torchvision.datasets import ImageFolder

    class _Once(ImageFolder):
        @staticmethod
        def make_dataset(directory: str | os.PathLike[str], class_to_idx: dict[str, int],
                         extensions: tuple[str, ...] | None = None, is_valid_file: Callable[[str], bool] | None = None,
                         allow_empty: bool = False) -> list[tuple[str, int]]:
            assert is_valid_file is not None  # resgraph always passes _image_file
            samples, empty = [], []
            for name in sorted(class_to_idx):
                found = [(p, class_to_idx[name]) for p in walk_once(os.path.join(directory, name)) if is_valid_file(p)]
                samples += found
                empty += [name] * (not found)
            if empty and not allow_empty:
                raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)}.")
            return samples

    return _Once


def walk_once(top: str) -> list[str]:
    """Every file under ``top`` (links followed), in ``os.walk``'s sorted order; each folder is listed once however
    many links lead to it, so a link loop ends the walk instead of repeating it."""
    seen: set[tuple[int, int]] = set()
    listed: list[tuple[str, list[str]]] = []
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:  # unreadable, or a link to nowhere: os.walk skips it too
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        files = []
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(e.path)
            else:
                files.append(e.name)
        listed.append((d, sorted(files)))
    return [os.path.join(d, f) for d, files in sorted(listed) for f in files]


def _load_image(path: str, hw: tuple[int, int]) -> Any:
    """The RGB image at ``path``, refused before decoding when its header promises more than the pixel cap."""
    from PIL import Image

    cap = pixel_cap(hw)
    try:
        with open(path, "rb") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, in one line
            img = Image.open(f)
            w, h = img.size
            if w * h > cap:
                raise DataError(f"{printable(path)}: {w}x{h} is {w * h:,} pixels, over the {cap:,} resgraph decodes "
                                f"for a {hw[0]}x{hw[1]} input; scale the images down first")
            scale = min(hw) / max(1, min(w, h))  # Resize(min(hw)) brings the shorter side to min(hw)
            rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
            if rw * rh > PIXELS_PER_INPUT_PIXEL * hw[0] * hw[1]:  # the crop would keep under 1/64 of it
                raise DataError(f"{printable(path)}: {w}x{h} would be resized to {rw:,}x{rh:,} for a {hw[0]}x{hw[1]} "
                                f"input, {PIXELS_PER_INPUT_PIXEL} times its pixels: too long and thin an image; "
                                "crop it first")
            return img.convert("RGB")
    except Image.DecompressionBombError as exc:  # PIL's own limit, checked as it reads the header
        raise DataError(f"{printable(path)}: refused by PIL as a decompression bomb ({str(exc).split('.')[0]}); "
                        "scale the images down first") from None


def _image_file(path: str) -> bool:
    """An image ImageFolder may take: an image extension, and a regular file (a FIFO named x.jpg would hang)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

    if not has_file_allowed_extension(path, IMG_EXTENSIONS):
        return False
    regular_file(Path(path), "an image")
    return True


class _Checked(Dataset):
    """An ImageFolder whose unreadable image is a one-line DataError naming the file, not PIL's traceback."""

    def __init__(self, ds: ImageFolder, folder: Path) -> None:
        self.ds, self.folder = ds, folder

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        try:
            return self.ds[i]
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises these for truncated or foreign files
            file = self.ds.samples[i][0]
            raise DataError(f"{printable(file)}: not an image PIL can read ({type(exc).__name__})") from None


def _folder(path: str | None, kind: str) -> Path:
    try:
        folder = Path(path or "").expanduser()
    except RuntimeError:  # ~user of no such user
        raise DataError(f"{printable(path or '')}: no such user's home folder (--data {kind}:PATH)") from None
    if not folder.exists():
        raise DataError(f"{printable(str(folder))}: no such folder (--data {kind}:PATH)")
    if not folder.is_dir():
        raise DataError(f"{printable(str(folder))}: is a file, not a folder (--data {kind}:PATH)")
    return folder


def _few(names: list[str]) -> str:
    return ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")

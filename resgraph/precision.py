"""One table of the precisions resgraph runs in: dtype, storage bytes, and how a row in it is checked.

Every other module (backends, the numerical check, the roofline, the graph's
memory figures, the lowering's casts, export and the CLI) reads this table;
adding a precision is one entry here and the backends that run it.

Two kinds of check: a floating precision is compared with fp32 eager by its
largest error relative to the output's scale (``"relative"``). int8 changes
every activation by up to half a quantisation step, so a max relative error
says nothing there; an int8 row is checked by whether it still gives the same
answers (``"agreement"``: top-1 agreement, top-5 overlap, cosine similarity of
the logits and, with a trained network and its data, the test error).

torch is not imported here: ``resgraph summary`` reads the byte sizes without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from resgraph.registry import UnknownNameError, add, lookup

if TYPE_CHECKING:
    import torch

__all__ = [
    "CALIBRATION_BATCHES",
    "Agreement",
    "Precision",
    "PrecisionError",
    "PRECISIONS",
    "get_precision",
    "precision_names",
    "torch_dtype",
]


PrecisionError = UnknownNameError  # the name this module always raised; one type for every registry


@dataclass(frozen=True)
class Agreement:
    """Least agreement an int8 row must keep with fp32 eager on the same held-out inputs."""

    top1: float        # fraction of images whose top-1 class is fp32's
    top5: float        # mean fraction of fp32's top-5 classes also in the row's top 5
    cosine: float      # smallest cosine similarity of one image's logits with fp32's
    test_error_pp: float  # most the test error may rise, in percentage points (trained weights and data only)


@dataclass(frozen=True)
class Precision:
    """A precision a row can run in."""

    name: str                     # "fp32", "bf16", "int8"
    dtype: str                    # torch's name of the dtype it stores tensors in
    bytes: int                    # bytes per element, for the graph's activation-memory figures
    check: Literal["relative", "agreement"]
    tolerance: float | None = None       # "relative": largest accepted max|out - ref| / max|ref|
    cuda_tolerance: float | None = None  # the same on CUDA, where it differs
    agreement: Agreement | None = None   # "agreement": the thresholds
    calibrated: bool = False      # needs calibration batches to build (static quantisation)
    aliases: tuple[str, ...] = ()  # other names `cast` accepts

    def tolerance_on(self, device: str) -> float | None:
        """The accepted relative error on a device ("cpu", "cuda:0")."""
        if self.cuda_tolerance is not None and device.startswith("cuda"):
            return self.cuda_tolerance
        return self.tolerance


# fp32 differs from the reference only by summation order and fused kernels
# (on CUDA cuDNN may run fp32 convolutions as TF32, the reference too); fp16
# keeps ~11 mantissa bits and bf16 ~8, and error grows with depth.
# int8 thresholds: measured on random-weight ResNet-20/50 with static per-channel
# quantisation (docs/results-cpu.md); a broken quantisation (wrong scale, a layer
# left unquantised in the wrong dtype) drops top-1 agreement to chance.
_TABLE = (
    Precision("fp32", "float32", 4, "relative", tolerance=1e-4, cuda_tolerance=2e-3, aliases=("float32",)),
    Precision("fp16", "float16", 2, "relative", tolerance=2e-2, aliases=("float16", "half")),
    Precision("bf16", "bfloat16", 2, "relative", tolerance=6e-2, aliases=("bfloat16",)),
    Precision("int8", "int8", 1, "agreement", agreement=Agreement(top1=0.9, top5=0.8, cosine=0.95, test_error_pp=1.0),
              calibrated=True),
)


def _index(precisions: tuple[Precision, ...]) -> tuple[dict[str, Precision], dict[str, Precision]]:
    """The table by name, and by name or alias (what ``torch_dtype`` reads); a name given twice is refused."""
    by_name: dict[str, Precision] = {}
    by_dtype_name: dict[str, Precision] = {}
    for p in precisions:
        add(by_name, "precision", p.name, p)
        for n in (p.name, *p.aliases):
            add(by_dtype_name, "precision name or alias", n, p)
    return by_name, by_dtype_name


PRECISIONS, _BY_DTYPE_NAME = _index(_TABLE)


# Default batches a calibrated precision's row is calibrated on (`--calibration`).
CALIBRATION_BATCHES = 16


def precision_names() -> list[str]:
    """Known precision names, in table order."""
    return list(PRECISIONS)


def get_precision(name: str, what: str = "precision") -> Precision:
    """The table's entry, or a one-line UnknownNameError naming the known ones (``what`` says where it came from)."""
    return lookup(PRECISIONS, "precision", name, what)


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a precision, or of one of its aliases ("half", "bfloat16")."""
    import torch

    key = name.lower() if isinstance(name, str) else name
    try:
        p = _BY_DTYPE_NAME[key]
    except (KeyError, TypeError):
        raise UnknownNameError("dtype", name, _BY_DTYPE_NAME) from None
    return getattr(torch, p.dtype)

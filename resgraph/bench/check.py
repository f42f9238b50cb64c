"""Numerical check of a backend's output against the fp32 eager reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["TOLERANCE", "CheckResult", "to_tensor", "check_output"]

# Largest accepted max|out - ref| / max|ref|, by precision. fp32 differs from the
# reference only by summation order and fused kernels; fp16 keeps ~11 mantissa
# bits and bf16 ~8, and error grows with depth, so they get looser bounds.
TOLERANCE: dict[str, float] = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 6e-2}
# cuDNN may run fp32 convolutions as TF32 (torch's default), on the reference too.
CUDA_FP32_TOLERANCE = 2e-3


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one comparison; `reason` says why it failed."""

    max_abs_err: float
    max_rel_err: float  # max_abs_err / max|ref|: scale-free, and defined where ref is ~0
    tolerance: float
    ok: bool
    reason: str | None = None


def tolerance_for(precision: str, device: str = "cpu") -> float:
    """The accepted relative error for a precision on a device."""
    if precision not in TOLERANCE:
        raise ValueError(f"unknown precision {precision!r}; expected one of {sorted(TOLERANCE)}")
    if precision == "fp32" and device.startswith("cuda"):
        return CUDA_FP32_TOLERANCE
    return TOLERANCE[precision]


def to_tensor(out: Any) -> torch.Tensor:
    """Turn a backend's output (tensor, numpy array, or a sequence whose first item is one) into fp32 CPU."""
    if isinstance(out, (list, tuple)):
        if not out:
            raise ValueError("backend returned an empty sequence")
        out = out[0]
    if isinstance(out, np.ndarray):
        out = torch.from_numpy(out)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"backend returned {type(out).__name__}, expected a tensor or numpy array")
    return out.detach().to("cpu", torch.float32).contiguous()


def check_output(out: Any, ref: torch.Tensor, precision: str, device: str = "cpu") -> CheckResult:
    """Compare one output with the reference; shape mismatch or non-finite values fail outright."""
    tol = tolerance_for(precision, device)
    got = to_tensor(out)
    want = ref.detach().to("cpu", torch.float32)
    if got.shape != want.shape:
        return CheckResult(float("inf"), float("inf"), tol, False, f"output shape {tuple(got.shape)} != reference {tuple(want.shape)}")
    if not bool(torch.isfinite(got).all()):
        return CheckResult(float("inf"), float("inf"), tol, False, "output has NaN or inf")
    abs_err = float((got - want).abs().max()) if got.numel() else 0.0
    scale = float(want.abs().max()) if want.numel() else 0.0
    rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else float("inf"))
    if rel_err > tol:
        reason = f"max rel err {rel_err:.3g} > {tol:g} ({precision}); max abs err {abs_err:.3g}"
        return CheckResult(abs_err, rel_err, tol, False, reason)
    return CheckResult(abs_err, rel_err, tol, True)

"""Numerical check of a backend's output against the fp32 eager reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from resgraph.precision import get_precision

__all__ = ["AgreementResult", "CheckResult", "to_tensor", "check_agreement", "check_output", "tolerance_for"]


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one comparison; `reason` says why it failed."""

    max_abs_err: float
    max_rel_err: float  # max_abs_err / max|ref|: scale-free, and defined where ref is ~0
    tolerance: float
    ok: bool
    reason: str | None = None


def tolerance_for(precision: str, device: str = "cpu") -> float:
    """The accepted relative error for a precision on a device (resgraph.precision's table)."""
    tol = get_precision(precision).tolerance_on(device)
    if tol is None:
        raise ValueError(f"precision {precision!r} is not checked by relative error (see resgraph.precision)")
    return tol


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
        return CheckResult(
            float("inf"), float("inf"), tol, False, f"output shape {tuple(got.shape)} != reference {tuple(want.shape)}"
        )
    if not bool(torch.isfinite(got).all()):
        return CheckResult(float("inf"), float("inf"), tol, False, "output has NaN or inf")
    abs_err = float((got - want).abs().max()) if got.numel() else 0.0
    scale = float(want.abs().max()) if want.numel() else 0.0
    rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else float("inf"))
    if rel_err > tol:
        reason = f"max rel err {rel_err:.3g} > {tol:g} ({precision}); max abs err {abs_err:.3g}"
        return CheckResult(abs_err, rel_err, tol, False, reason)
    return CheckResult(abs_err, rel_err, tol, True)


@dataclass(frozen=True)
class AgreementResult:
    """How closely a quantised row gives fp32 eager's answers on the same held-out images."""

    images: int
    top1_agreement: float  # fraction of images with fp32's top-1 class
    top5_overlap: float    # mean fraction of fp32's top-5 classes in the row's top 5
    cosine: float          # smallest per-image cosine similarity of the logits
    test_error: float | None = None      # the row's, in %, on the labelled images (trained weights only)
    ref_test_error: float | None = None  # fp32 eager's, same images
    ok: bool = True
    reason: str | None = None


def check_agreement(out: Any, ref: torch.Tensor, precision: str, labels: torch.Tensor | None = None) -> AgreementResult:
    """Compare a row's logits with fp32 eager's, image by image, against the precision's thresholds.

    ``out`` and ``ref`` are (images, classes); ``labels`` (images,) adds the test error of
    both, and a rise beyond the table's percentage points fails the row too.
    """
    rule = get_precision(precision).agreement
    if rule is None:
        raise ValueError(f"precision {precision!r} is not checked by agreement (see resgraph.precision)")
    got, want = to_tensor(out), ref.detach().to("cpu", torch.float32)
    n = want.shape[0]
    if got.shape != want.shape:
        return AgreementResult(n, 0.0, 0.0, 0.0, ok=False, reason=f"output shape {tuple(got.shape)} != reference "
                                                                 f"{tuple(want.shape)}")
    if not bool(torch.isfinite(got).all()):
        return AgreementResult(n, 0.0, 0.0, 0.0, ok=False, reason="output has NaN or inf")
    k = min(5, want.shape[1])
    top1 = float((got.argmax(1) == want.argmax(1)).float().mean())
    a, b = got.topk(k, 1).indices, want.topk(k, 1).indices
    top5 = float((a.unsqueeze(2) == b.unsqueeze(1)).any(2).float().mean())
    cosine = min(1.0, float(torch.nn.functional.cosine_similarity(got, want, dim=1).min()))  # rounding: 1 + 1e-7
    err = ref_err = None
    if labels is not None:
        err = 100.0 * float((got.argmax(1) != labels).float().mean())
        ref_err = 100.0 * float((want.argmax(1) != labels).float().mean())
    problems = [f"top-1 agreement {top1:.3f} < {rule.top1:g}" if top1 < rule.top1 else "",
                f"top-5 overlap {top5:.3f} < {rule.top5:g}" if top5 < rule.top5 else "",
                f"cosine {cosine:.4f} < {rule.cosine:g}" if cosine < rule.cosine else "",
                f"test error {err:.2f} % vs fp32's {ref_err:.2f} % (more than {rule.test_error_pp:g} points worse)"
                if err is not None and ref_err is not None and err - ref_err > rule.test_error_pp else ""]
    reason = "; ".join(p for p in problems if p)
    return AgreementResult(n, top1, top5, cosine, err, ref_err, not reason,
                           f"{reason} ({precision}, {n} held-out images)" if reason else None)

"""Trained weights for a lowered module: a state_dict file checked strictly against the spec's network.

A file is read once (``torch.load`` with ``weights_only``), checked key for key
and shape for shape against the network the spec lowers to, and refused with
one line naming the first missing or unexpected key or mismatched shape. Key
names are torchvision's (timm's for its variants), so a torchvision or timm
state_dict of the same network loads, and so does one written by
``resgraph train --save-weights`` or ``resgraph lower --state-dict``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import nn

from resgraph.atomic import regular_file
from resgraph.errors import UsageError

if TYPE_CHECKING:
    import torch.fx as fx

M = TypeVar("M", bound=nn.Module)

__all__ = ["read_state_dict", "check_state_dict", "tensor_problem", "load_weights", "weights_id", "model_with_weights"]


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a state_dict file, or a one-line UsageError naming the file."""
    path = Path(path)
    try:
        regular_file(path, "a state_dict file")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such weights file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a state_dict file") from None
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        raise UsageError(f"{path}: not a state_dict file torch.load can read ({type(exc).__name__})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UsageError(f"{path}: expected a state_dict (a dict of tensors), got a {type(sd).__name__}"
                         + (" with values that are not tensors" if isinstance(sd, dict) else ""))
    return sd


def check_state_dict(sd: dict[str, Any], model: nn.Module, path: str | os.PathLike[str], name: str) -> None:
    """Refuse ``sd`` for ``model`` (network ``name``) unless keys, shapes, dtypes and layout match exactly and every
    value is finite: before any work, so a bad file is one line, never a crash in lowering or a silent NaN."""
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(sd)), sorted(set(sd) - set(expected))
    if missing or unexpected:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
        parts += [f"{len(unexpected)} unexpected (e.g. {unexpected[0]})"] if unexpected else []
        raise UsageError(f"{path}: keys do not match {name}: {', '.join(parts)}")
    bad = next((k for k, v in sd.items() if tuple(v.shape) != tuple(expected[k].shape)), None)
    if bad is not None:
        raise UsageError(f"{path}: {bad}: shape {tuple(sd[bad].shape)} does not match "
                         f"{name}'s {tuple(expected[bad].shape)}")
    for k, v in sd.items():
        why = tensor_problem(v, expected[k], name)
        if why:
            raise UsageError(f"{path}: {k}: {why}")


def tensor_problem(v: Any, want: torch.Tensor, name: str) -> str | None:
    """Why tensor ``v`` cannot stand for ``want`` (network ``name``'s): layout, device, dtype, shape or a
    NaN/inf value; None when it can. The one check of tensors read from a file (weights, checkpoints)."""
    if not isinstance(v, torch.Tensor):
        return f"a {type(v).__name__}, not a tensor"
    if v.layout != torch.strided:
        return f"a {str(v.layout).replace('torch.', '')} tensor; {name} needs dense ones"
    if v.device.type == "meta":
        return "a meta-device tensor holds no values"
    if v.dtype != want.dtype:
        cast = (" (not cast silently: convert the file first, e.g. {k: v.float() for k, v in sd.items()})"
                if v.dtype.is_floating_point and want.dtype.is_floating_point else "")
        return f"dtype {str(v.dtype).replace('torch.', '')}, {name}'s is {str(want.dtype).replace('torch.', '')}{cast}"
    if tuple(v.shape) != tuple(want.shape):
        return f"shape {tuple(v.shape)} does not match {name}'s {tuple(want.shape)}"
    if v.dtype.is_floating_point and not bool(torch.isfinite(v).all()):
        return "holds NaN or infinite values"
    return None


def load_weights(model: M, sd: dict[str, torch.Tensor]) -> M:
    """``model`` (built on any device, meta included) holding copies of ``sd``'s tensors, in eval mode."""
    model.load_state_dict({k: v.clone() for k, v in sd.items()}, strict=True, assign=True)
    return model.eval()


def weights_id(path: str | os.PathLike[str]) -> str:
    """``file.pt@<sha256 prefix>``: names the file for people and its content for --resume."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f"{Path(path).name}@{digest.hexdigest()[:12]}"


def model_with_weights(graph: Any, weights: str | os.PathLike[str] | None, seed: int | None = 0) -> fx.GraphModule:
    """The lowered module of ``graph`` (a compiled spec), with ``weights`` loaded strictly, else seeded random init."""
    from resgraph.lower import build_model

    if weights is None:
        return build_model(graph, seed=seed)
    sd = read_state_dict(weights)
    model = build_model(graph, device="meta")
    check_state_dict(sd, model, weights, graph.graph["name"])
    return load_weights(model, sd)

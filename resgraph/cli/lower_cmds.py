"""Commands that lower a spec to PyTorch and export it: lower, export.

torch is imported inside the commands, so `resgraph validate` does not pay for it.
"""

from __future__ import annotations

from pathlib import Path

import click

from resgraph.cli.values import TORCH_SEED
from resgraph.errors import UsageError
from resgraph.graph import compile_spec, infer_shapes
from resgraph.graph.load import load_spec
from resgraph.precision import get_precision


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--code", is_flag=True, help="print the generated forward (the GraphModule's Python code)")
@click.option("--fold-bn", is_flag=True, help="fold every BatchNorm into its conv first (inference form)")
@click.option("--seed", type=TORCH_SEED, default=None, help="seed for the weight initialisation (with --state-dict)")
@click.option("--state-dict", "state_dict", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the initialised weights here (torch.save of the state_dict, with the anchor library's "
                   "key names: torchvision's, or timm's for its variants)")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="load this state_dict (from `train --save-weights`, torchvision's or timm's) strictly first")
def lower(spec: str, code: bool, fold_bn: bool, seed: int | None, state_dict: Path | None,
          weights: Path | None) -> None:
    """Lower SPEC to a torch.fx GraphModule; print a summary, or its code with --code."""
    from resgraph.lower import build_model
    from resgraph.lower import fold_bn as fold
    from resgraph.lower.weights import model_with_weights

    s = load_spec(spec)
    g = compile_spec(s)
    if weights is not None:
        model = model_with_weights(g, weights)
    else:  # without --state-dict no weight is needed: build on the meta device (no allocation, no init)
        model = build_model(g, seed=seed, device="cpu" if state_dict else "meta")
    if fold_bn:
        model = fold(model)
    if code:
        click.echo(model.code.strip())
    else:
        nodes = len(model.graph.nodes)
        leaves = [m for m in model.modules() if not m._modules]  # state_dict() itself is slow on 10^5 tensors
        params = sum(p.numel() for m in leaves for p in m._parameters.values() if p is not None)
        tensors = sum(v is not None for m in leaves for v in m._parameters.values()) + sum(
            b is not None and k not in m._non_persistent_buffers_set for m in leaves for k, b in m._buffers.items())
        c, h, w = g.graph["input_shape"]
        classes = infer_shapes(g)["output"][0]
        click.echo(f"{s.name}: torch.fx.GraphModule, {nodes} fx nodes, {tensors} tensors, "
                   f"{params:,} parameters; (N, {c}, {h}, {w}) -> (N, {classes})"
                   + (", BN folded" if fold_bn else "") + (f"; weights from {weights}" if weights else ""))
    if state_dict:
        from resgraph.atomic import save_torch

        save_torch(model.state_dict(), state_dict)
        click.echo(f"wrote {state_dict}", err=code)


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write an ONNX file (dynamic batch), checked in ONNX Runtime against PyTorch")
@click.option("--tensorrt", "trt_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write a TensorRT-compiled ExportedProgram (.ep); needs CUDA and torch_tensorrt")
@click.option("--precision", default="fp32", show_default=True,
              help="TensorRT precision: fp32 or fp16 (the ONNX file is always float32)")
@click.option("--batch-range", default="1,8,32", show_default=True, metavar="MIN,OPT,MAX",
              help="TensorRT batch profile; ONNX is checked at MIN and OPT")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="load this state_dict (from `train --save-weights`, torchvision's, or `lower --state-dict`) "
                   "strictly before export")
@click.option("--seed", type=TORCH_SEED, default=0, show_default=True,
              help="seed for the random weights (no --weights)")
def export(spec: str, onnx_path: Path | None, trt_path: Path | None, precision: str, batch_range: str,
           weights: Path | None, seed: int) -> None:
    """Export SPEC as ONNX and/or a TensorRT engine (random weights unless --weights)."""
    if onnx_path is None and trt_path is None:
        raise UsageError("export: nothing to do: give --onnx PATH and/or --tensorrt PATH")
    if precision != "fp32" and trt_path is None:
        raise UsageError(f"export: --precision {precision} applies to --tensorrt only; the ONNX file is float32")
    lo, opt, hi = _batch_range(batch_range)
    from resgraph.lower.export import (
        TENSORRT_PRECISIONS,
        ExportCheckError,
        export_onnx,
        export_tensorrt,
        tensorrt_missing,
    )

    get_precision(precision, "--precision")
    if precision not in TENSORRT_PRECISIONS:
        raise UsageError(
            f"--precision: TensorRT export builds {', '.join(TENSORRT_PRECISIONS)} (received {precision!r})"
        )

    if trt_path is not None and (why := tensorrt_missing()):  # before spending minutes on ONNX
        raise UsageError(f"export --tensorrt needs CUDA and torch_tensorrt: {why}")
    s = load_spec(spec)
    g = compile_spec(s)
    from resgraph.lower.weights import model_with_weights

    model = model_with_weights(g, weights, seed)
    shape = g.graph["input_shape"]
    source = f"loaded from {weights}" if weights else f"random (seed {seed})"
    click.echo(f"{s.name}: weights {source}", err=True)
    if onnx_path is not None:
        from resgraph.entries import spec_hash

        click.echo(f"exporting {s.name} to ONNX and checking it in ONNX Runtime...", err=True)
        meta = {"resgraph.spec": s.name, "resgraph.spec_hash": spec_hash(s),
                "resgraph.weights": f"file {weights.name}" if weights else f"random, seed {seed}"}
        try:
            r = export_onnx(model, onnx_path, shape, check_batches=sorted({lo, opt}), metadata=meta)
        except ExportCheckError as exc:
            click.echo(str(exc), err=True)
            raise click.exceptions.Exit(1) from None
        size = sum(f.stat().st_size for f in (onnx_path, Path(f"{onnx_path}.data")) if f.is_file())
        opset = f", opset {r.opset}" if r.opset is not None else ""
        click.echo(f"wrote {onnx_path} ({size / 1e6:.1f} MB{opset}, dynamic batch); ONNX Runtime vs "
                   f"PyTorch at batch {', '.join(map(str, r.batches))}: max abs error {r.max_abs_error:.1e} "
                   f"(relative {r.max_rel_error:.1e}), within {r.rule}")
    if trt_path is not None:
        click.echo(f"compiling {s.name} with TensorRT ({precision}); this takes minutes...", err=True)
        try:
            t = export_tensorrt(model, trt_path, shape, precision=precision, batch_range=(lo, opt, hi))
        except ExportCheckError as exc:  # as for ONNX: a file that disagrees with PyTorch is not written
            click.echo(str(exc), err=True)
            raise click.exceptions.Exit(1) from None
        click.echo(f"wrote {trt_path} (TensorRT {precision}, batch {lo}..{hi}, optimised for {opt}); TensorRT vs "
                   f"PyTorch at batch {opt}: max abs error {t.max_abs_error:.1e} (relative {t.max_rel_error:.1e}), "
                   f"within {t.rule}")


def _batch_range(text: str) -> tuple[int, int, int]:
    """``"1,8,32"`` -> (1, 8, 32), checked 1 <= MIN <= OPT <= MAX."""
    try:
        lo, opt, hi = (int(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--batch-range: expected MIN,OPT,MAX, three integers (received {text!r})") from None
    if not 1 <= lo <= opt <= hi:
        raise UsageError(f"--batch-range: expected 1 <= MIN <= OPT <= MAX (received {text!r})")
    return lo, opt, hi

"""Lowered module vs torchvision, same weights, timed interleaved in one process.

Eager forward: each round times one forward of each model, alternating which
goes first, so drift in machine load (other processes, thermal, frequency)
hits both alike. Reports the median of each and the ratio (ours / torchvision)
of the medians, the median of the per-round ratios and the ratio of the minima
(the least disturbed run of each). Build: spec -> an
initialised module vs torchvision's constructor, interleaved the same way.

    .venv/bin/python bench/compare_torchvision.py --model resnet50 --batch 1,16
    .venv/bin/python bench/compare_torchvision.py --model resnet152 --build-only
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torchvision

from resgraph.graph import compile_spec
from resgraph.lower import build_model
from resgraph.spec import load_spec


def interleaved(a: Callable[[], object], b: Callable[[], object], rounds: int) -> tuple[list[float], list[float]]:
    """Seconds per call of ``a`` and ``b``, alternating which runs first each round."""
    ta: list[float] = []
    tb: list[float] = []
    for i in range(rounds):
        for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return ta, tb


def summary(label: str, ours: list[float], tv: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    mo, mt = statistics.median(ours), statistics.median(tv)
    paired = statistics.median(o / t for o, t in zip(ours, tv, strict=False))
    return (f"| {label} | {mo * unit:.2f} {suffix} | {mt * unit:.2f} {suffix} | {mo / mt:.3f} | {paired:.3f} "
            f"| {min(ours) / min(tv):.3f} | {len(ours)} |")


def forward_case(name: str, batch: int, size: int, rounds: int, warmup: int, device: str) -> str:
    ours = build_model(load_spec(name), seed=0, device=device).eval()
    tv = getattr(torchvision.models, name)().to(device).eval()
    tv.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(batch, 3, size, size, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(m: torch.nn.Module) -> Callable[[], object]:
        def call() -> object:
            y = m(x)
            sync()
            return y
        return call

    with torch.inference_mode():
        err = (ours(x) - tv(x)).abs().max().item()
        for _ in range(warmup):
            run(ours)()
            run(tv)()
        t_ours, t_tv = interleaved(run(ours), run(tv), rounds)
    return summary(f"{name} forward, batch {batch}, {size}x{size} (max |diff| {err:.1e})", t_ours, t_tv)


def build_case(name: str, rounds: int) -> str:
    spec = load_spec(name)
    ctor = getattr(torchvision.models, name)

    def ours() -> object:
        return build_model(spec)

    def tv() -> object:
        return ctor()

    ours(), tv()  # warm-up: imports, allocator, first-call caches
    gc.collect()
    t_ours, t_tv = interleaved(ours, tv, rounds)
    return summary(f"{name} build (spec -> initialised module vs constructor)", t_ours, t_tv)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet50", help="comma-separated torchvision names (resnet18..resnet152)")
    p.add_argument("--batch", default="1,16", help="comma-separated batch sizes")
    p.add_argument("--size", type=int, default=224, help="input height and width")
    p.add_argument("--rounds", type=int, default=30, help="timed rounds per case (each times both models once)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--build-rounds", type=int, default=7)
    p.add_argument("--build", action="store_true", help="also time spec -> initialised module vs constructor")
    p.add_argument("--build-only", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = args.model.split(",")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, device {args.device}, "
          f"{torch.get_num_threads()} threads; command: {' '.join(sys.argv)}")
    print("| case | resgraph (median) | torchvision (median) | ratio of medians | median paired ratio "
          "| ratio of minima | rounds |")
    print("|---|---|---|---|---|---|---|")
    for name in models:
        compile_spec(load_spec(name))  # fail early on a bad name
        if not args.build_only:
            for batch in (int(b) for b in args.batch.split(",")):
                print(forward_case(name, batch, args.size, args.rounds, args.warmup, args.device), flush=True)
        if args.build or args.build_only:
            print(build_case(name, args.build_rounds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

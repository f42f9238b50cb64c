"""The size guard: a spec whose weights or feature maps would not fit is refused before anything is built.

It counts on the compiled graph (the one IR: no second set of formulas), so it
lives here, not in the spec package; :mod:`resgraph.graph.load` runs it after
the spec's own checks, and its findings point at the spec's fields as theirs do.
"""

from __future__ import annotations

from resgraph.graph.compile import compile_spec, short_spec
from resgraph.graph.passes import GraphLintError, count_activations, count_params
from resgraph.spec.checks import Finding
from resgraph.spec.model import ResNetSpec

__all__ = ["MAX_ACTIVATION_BYTES", "MAX_PARAMS", "check_size", "estimate_size"]

MAX_PARAMS = 4_000_000_000  # 16 GB of fp32 weights
MAX_ACTIVATION_BYTES = 64 * 2**30  # fp32 feature maps of one image


def check_size(spec: ResNetSpec) -> list[Finding]:
    """Findings for a spec over :data:`MAX_PARAMS` or :data:`MAX_ACTIVATION_BYTES` (or that cannot be compiled)."""
    try:
        params, act = estimate_size(spec)
    except GraphLintError as exc:  # a rule the spec's checks missed: still one line, never a traceback
        return [Finding(("stages",), f"this network cannot be built: {exc}", has_received=False)]
    out = []
    if params > MAX_PARAMS:
        out.append(Finding(("stages",), f"network would have {params:,} parameters "
                           f"({params * 4 / 2**30:,.0f} GiB at fp32), over the limit of {MAX_PARAMS:,}",
                           has_received=False, own_file=True))
    if act > MAX_ACTIVATION_BYTES:
        out.append(Finding(("input", "size"), f"the tensors of one image (input and feature maps) would need "
                           f"{act / 2**30:,.0f} GiB at fp32, over the limit of {MAX_ACTIVATION_BYTES // 2**30} GiB",
                           spec.input.size, own_file=True))
    return out


def estimate_size(spec: ResNetSpec) -> tuple[int, int]:
    """(parameters, fp32 bytes of every tensor of one image, the input included), exact, without building the graph.

    Every block of a stage after its first is the same, so the compiler builds at
    most two blocks a stage, and the second one's counts stand for the rest: a
    10,000-block spec costs what a 20-block one does. Nothing is allocated.
    """
    g = compile_spec(short_spec(spec))
    count_params(g)
    count_activations(g)
    # block 1 of a stage stands for blocks 1 .. n-1 (it is counted once, then n - 2 more times)
    repeat = {b["scope"]: spec.stages[b["stage"]].blocks - 2 for b in g.graph["blocks"] if b["index"] == 1}
    params = act = 0
    for _, a in g.nodes(data=True):
        times = 1 + repeat.get(a["block"], 0)
        params += a["params"] * times
        if a["op"] != "output":  # the input counts: it is allocated too (the output is the head's tensor)
            act += a["act_bytes"] * times
    return params, act

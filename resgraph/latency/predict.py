"""Applying a profile: refuse what it does not cover (another backend, batch, machine, an unseen kind), then predict."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from resgraph.errors import UsageError, printable
from resgraph.graph.load import load_spec
from resgraph.latency.model import LatencyModel, Prediction
from resgraph.latency.parts import PartCache
from resgraph.latency.profile import read_profile, this_machine
from resgraph.latency.segments import Segment
from resgraph.spec import ResNetSpec

__all__ = ["expand", "load_model", "named_segments", "predict_specs", "repeat_blocks"]

_PARTS = PartCache()  # parts compiled so far in this process


def load_model(path: Path, *, backend: str | None = None, precision: str | None = None, batch: int | None = None,
               device: str | None = None, any_machine: bool = False) -> LatencyModel:
    """The latency model of a profile, once it is checked to be for what is asked and for this machine."""
    prof = read_profile(path)
    h = prof.header
    for flag, want, have in (("--backend", backend, h.backend), ("--precision", precision, h.precision),
                             ("--batch", batch, h.batch), ("--device", device, h.device)):
        if want is not None and want != have:
            raise UsageError(f"{path}: profiled with {flag.lstrip('-')} {have!r}, not {want!r}: profile this "
                             f"{flag.lstrip('-')} first (`resgraph profile {flag} {want}`)")
    here = this_machine(h.device)
    other = [f"{k} {getattr(h, k)!r} there, {here[k]!r} here" for k in ("host", "device_model", "cpu_flags")
             if getattr(h, k) != here[k]]
    if other and not any_machine:
        raise UsageError(f"{path}: made on another machine ({'; '.join(other)}); its latencies do not hold here "
                         "(profile this machine, or pass --any-machine to apply it anyway)")
    if other:
        warnings.warn(f"{path}: applying a profile made on another machine ({'; '.join(other)})", stacklevel=2)
    return LatencyModel(prof)


def expand(ref: str | ResNetSpec, parts: PartCache | None = None) -> tuple[str, list[Segment], int, dict[int, str]]:
    """A spec's segments with every repeated block (compiled with at most two blocks a stage), its MACs and stage names.

    What :meth:`LatencyModel.predict_many` takes; a search calls it on specs it drew, without a file. Each
    distinct stem, block and head is compiled once per ``parts`` cache (the module's own by default).
    """
    spec = load_spec(ref)
    return named_segments(spec, *(_PARTS if parts is None else parts).short_segments(spec))


def named_segments(spec: ResNetSpec, short: list[Segment],
                   index: dict[str, int]) -> tuple[str, list[Segment], int, dict[int, str]]:
    """:func:`expand`'s answer from the short network's segments and each block's index in its stage."""
    segs = repeat_blocks(spec, short, index)
    n = len(spec.stages)
    return spec.name, segs, sum(s.macs for s in segs), {-1: "stem", n: "head", **{i: f"stage{i + 1}" for i in range(n)}}


def repeat_blocks(spec: ResNetSpec, segs: list[Segment], index: dict[str, int]) -> list[Segment]:
    """The short network's segments with each stage's second block repeated for every later block of the stage."""
    out: list[Segment] = []
    for s in segs:
        if s.part == "block" and index.get(s.scope) == 1:  # the second block stands for every later one of its stage
            head = s.scope.rsplit(".", 1)[0]
            out += [s._replace(scope=f"{head}.{i}") for i in range(1, spec.stages[s.stage].blocks)]
        else:
            out.append(s)
    return out


def predict_specs(model: LatencyModel, refs: Sequence[str | ResNetSpec]) -> list[Prediction]:
    """Predict every spec; one that needs a kind the profile never timed is refused, naming what is missing."""
    done: dict[str, tuple[str, list[Segment], int, dict[int, str]]] = {}  # a file named twice is read once
    named = [expand(ref) if not isinstance(ref, str) else done.get(ref) or done.setdefault(ref, expand(ref))
             for ref in refs]
    for (_, segs, _, _), ref in zip(named, refs, strict=True):
        if missing := model.missing(segs):
            name = ref if isinstance(ref, str) else ref.name
            raise UsageError(f"{printable(name)}: {model.profile.path} never timed {', '.join(missing)}: "
                             "profile a space that has it (`resgraph profile --space FILE`)")
    return model.predict_many(named)

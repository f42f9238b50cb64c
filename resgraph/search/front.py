"""What a search reports: typed records of its front (``front.jsonl``), and each front point as a spec file.

A point's ``status`` says what is known of its latency: ``unverified`` (predicted to fit, not
measured), ``fits`` (measured at or under the budget), ``breaks_budget`` (measured over it: it is
never reported as fitting, whatever the prediction said), ``failed`` (its measurement failed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from resgraph import records
from resgraph.atomic import file_name, write_bytes_atomic
from resgraph.records import Num, RecordModel, Text
from resgraph.search.space import Space
from resgraph.spec.dump import _Dumper, dump_spec, spec_data
from resgraph.spec.model import ResNetSpec

__all__ = ["Candidate", "FrontPoint", "ReferencePoint", "SearchHeader", "pareto", "read_front", "read_references",
           "spec_text", "write_front", "write_spec"]

Status = Literal["unverified", "fits", "breaks_budget", "failed"]


class SearchHeader(RecordModel):
    """The search a front came from: space, profile, budget, objective, sampler, trials."""

    record: Literal["search"] = "search"
    space: str
    base: str
    profile: str
    backend: str
    precision: str
    batch: int
    device: str
    threads: int
    budget_ms: float
    objective: str
    sampler: str
    seed: int
    trials: int  # finished trials in the study
    fitting: int  # of them, predicted within the budget
    refused: int  # draws the constraints or the spec's rules refused (train: and those predicted over the budget)
    failed: int = 0  # trials whose objective failed (a train run that diverged or raised; the study keeps why)
    created: str


class FrontPoint(RecordModel):
    """One point of the predicted Pareto front (latency down, objective up) within the budget."""

    record: Literal["point"] = "point"
    trial: int
    name: str
    spec_file: str  # relative to the search's folder
    objective: str
    value: float
    macs: int
    params: int
    depth: int
    predicted_ms: float
    predicted_low_ms: float
    predicted_high_ms: float
    budget_ms: float
    picks: dict[str, str | int | float]
    status: Status = "unverified"
    measured_ms: Num = None
    measured_unstable: Text = None
    measured_note: Text = None  # why a measurement failed


class ReferencePoint(RecordModel):
    """A named spec (``--reference``, e.g. the preset the budget came from) measured in the same sweep as the front."""

    record: Literal["reference"] = "reference"
    name: str
    value: float
    macs: int
    params: int
    predicted_ms: float
    measured_ms: Num = None
    measured_unstable: Text = None
    measured_note: Text = None


SearchRecord = SearchHeader | FrontPoint | ReferencePoint
_KINDS: dict[str, type[SearchRecord]] = {"search": SearchHeader, "point": FrontPoint, "reference": ReferencePoint}
_parse: Callable[[dict[str, Any]], SearchRecord | str] = records.tagged(_KINDS, "search record")


def read_front(path: Path) -> tuple[list[SearchHeader], list[FrontPoint]]:
    """The headers and points of a ``front.jsonl`` (through the one record reader)."""
    recs = records.read(path, _parse)
    return [r for r in recs if isinstance(r, SearchHeader)], [r for r in recs if isinstance(r, FrontPoint)]


def read_references(path: Path) -> list[ReferencePoint]:
    """The reference specs measured beside the front."""
    return [r for r in records.read(path, _parse) if isinstance(r, ReferencePoint)]


def write_front(path: Path, header: SearchHeader, points: Sequence[FrontPoint],
                refs: Sequence[ReferencePoint] = ()) -> None:
    """``front.jsonl`` afresh: the header, the points (best objective first), then the references; one writer."""
    with records.writer(path) as w:
        w.restart()
        for rec in (header, *points, *refs):
            w.append(rec)


@dataclass(frozen=True)
class Candidate:
    """A finished trial as the front sees it."""

    trial: int
    latency_ms: float
    value: float
    attrs: dict[str, Any]


def pareto(cands: Sequence[Candidate], budget_ms: float) -> list[Candidate]:
    """Candidates predicted within the budget that no other dominates (as fast or faster and as good or better,
    one strictly), best objective first; ties in both numbers keep the earliest trial."""
    fit = sorted((c for c in cands if c.latency_ms <= budget_ms), key=lambda c: (-c.value, c.latency_ms, c.trial))
    front: list[Candidate] = []
    best_ms = float("inf")
    for c in fit:  # by objective, best first: a point is on the front if it is faster than every better one
        if c.latency_ms < best_ms:
            front.append(c)
            best_ms = c.latency_ms
    return front


def _diff(parent: Any, child: Any) -> Any:
    """What a child file must say for ``extends:`` to turn ``parent`` into ``child`` (spec data, merge rules)."""
    if isinstance(parent, dict) and isinstance(child, dict):
        if "type" in parent and "type" in child and parent["type"] != child["type"]:
            return child
        out = {k: (_diff(parent[k], v) if k in parent else v) for k, v in child.items() if parent.get(k) != v}
        out.update({k: None for k in parent if k not in child})
        return out
    if isinstance(parent, list) and isinstance(child, list) and all(isinstance(x, dict) for x in parent):
        return [_diff(parent[i], item) if i < len(parent) and isinstance(item, dict) else item
                for i, item in enumerate(child)]
    return child


def spec_text(spec: ResNetSpec, space: Space, comment: str = "") -> str:
    """The spec as YAML: ``extends:`` the space's base when the base is a preset and that is shorter.

    (A base file is not extended: the spec would have to sit under its folder for ``extends:`` to reach it.)
    """
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    full = head + dump_spec(spec)
    if not space.base_is_preset:
        return full
    child = {"extends": space.file.base, "name": spec.name,
             **{k: v for k, v in _diff(spec_data(space.base), spec_data(spec)).items() if k != "name"}}
    short = head + yaml.dump(child, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)
    return short if len(short) < len(full) else full


def write_spec(folder: Path, spec: ResNetSpec, space: Space, comment: str = "") -> Path:
    """Write the spec file and check it loads back to the same spec; a child that does not is written whole."""
    from resgraph.graph.load import load_spec

    path = folder / f"{file_name(spec.name)}.yaml"
    text = spec_text(spec, space, comment)
    write_bytes_atomic(path, text.encode("utf-8"))
    if load_spec(path) != spec:  # the merge rules disagree with the diff: never write a file that means another net
        write_bytes_atomic(path, ("".join(f"# {ln}\n" for ln in comment.splitlines()) + dump_spec(spec)).encode())
    return path

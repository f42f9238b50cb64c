"""A search's report: the Pareto plot, the space's EDF (pycls style) and a Markdown table of the front.

- ``pareto.png/svg``: every scored trial (predicted latency against the objective), the predicted
  front within the budget, each verified point's measured latency beside its prediction, the
  bundled presets the profile can predict on the same axes, and the budget.
- ``edf.png/svg``: the empirical distribution (Radosavovic et al. 2020) of the objective and of the
  predicted latency over networks drawn uniformly from the space, and the share of them within budget.
- ``front.md``: the table, and how often predicted and measured orderings of the verified points disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from resgraph.artifacts import figure, save_figure
from resgraph.atomic import ensure_folder, write_bytes_atomic
from resgraph.search.front import Candidate, FrontPoint, ReferencePoint, SearchHeader

__all__ = ["Reference", "discordant_pairs", "write_report"]

FORMATS = ("png", "svg")


@dataclass(frozen=True)
class Reference:
    """A bundled preset drawn on the same axes: its predicted latency and objective."""

    name: str
    latency_ms: float
    value: float


@dataclass
class EdfSample:
    """Networks drawn uniformly from the space, scored like trials (the EDF's population)."""

    latency_ms: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)


def discordant_pairs(points: Sequence[FrontPoint]) -> tuple[int, int]:
    """(pairs of measured points whose predicted and measured latency order disagree, pairs compared)."""
    done = [p for p in points if p.measured_ms is not None]
    pairs = list(combinations(done, 2))
    bad = sum((a.predicted_ms - b.predicted_ms) * ((a.measured_ms or 0) - (b.measured_ms or 0)) < 0 for a, b in pairs)
    return bad, len(pairs)


def _scale(values: Sequence[float]) -> str:
    """Log when every value is positive and they span more than a factor of 4 (capacity and latency do)."""
    return "log" if values and min(values) > 0 and max(values) / min(values) > 4 else "linear"


def _pareto_plot(header: SearchHeader, cands: Sequence[Candidate], points: Sequence[FrontPoint],
                 refs: Sequence[Reference], out: Path) -> list[Path]:
    fig = figure(7.5, 5)
    ax = fig.subplots()
    ax.scatter([c.latency_ms for c in cands], [c.value for c in cands], s=8, c="#bbbbbb", label="trials (predicted)")
    front = sorted(points, key=lambda p: p.predicted_ms)
    ax.plot([p.predicted_ms for p in front], [p.value for p in front], "-o", ms=4, c="#1f77b4",
            label="front (predicted)")
    for p in front:
        if p.measured_ms is not None:
            colour = "#2ca02c" if p.status == "fits" else "#d62728"
            ax.annotate("", (p.measured_ms, p.value), (p.predicted_ms, p.value),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1})
            ax.scatter([p.measured_ms], [p.value], marker="s", s=30, c=colour, zorder=3)
    ax.scatter([], [], marker="s", c="#2ca02c", label="measured, fits")
    ax.scatter([], [], marker="s", c="#d62728", label="measured, breaks budget")
    for r in (r for r in refs if r.latency_ms <= 4 * header.budget_ms):  # the presets near the budget
        ax.scatter([r.latency_ms], [r.value], marker="D", s=24, c="black", zorder=4)
        ax.annotate(r.name, (r.latency_ms, r.value), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.scatter([], [], marker="D", c="black", label="presets (predicted)")
    ax.axvline(header.budget_ms, ls="--", c="black", lw=1, label=f"budget {header.budget_ms:g} ms")
    ax.set_xscale(_scale([*(c.latency_ms for c in cands), header.budget_ms]))
    ax.set_yscale(_scale([c.value for c in cands]))
    ax.set_xlabel(f"latency, ms ({header.backend}, {header.precision}, batch {header.batch}, "
                  f"{header.threads} thread(s))")
    ax.set_ylabel(header.objective)
    ax.set_title(f"{header.space}: {header.trials} trials, {header.sampler}")
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, out, "pareto", FORMATS)


def _edf_plot(header: SearchHeader, edf: EdfSample, out: Path) -> list[Path]:
    fig = figure(9, 3.6)
    left, right = fig.subplots(1, 2)
    n = len(edf.value)
    within = [v for v, ms in zip(edf.value, edf.latency_ms, strict=True) if ms <= header.budget_ms]
    for ax, values, label in ((left, edf.value, f"all {n}"), (left, within, f"within budget ({len(within)})")):
        xs = sorted(values)
        if xs:
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=label)
    left.set_xlabel(header.objective)
    left.set_ylabel("cumulative share of networks")
    left.set_xscale(_scale(edf.value))
    left.legend(fontsize=7)
    xs = sorted(edf.latency_ms)
    right.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post")
    right.axvline(header.budget_ms, ls="--", c="black", lw=1, label=f"budget {header.budget_ms:g} ms")
    right.set_xlabel("predicted latency, ms")
    right.set_xscale(_scale(edf.latency_ms))
    right.legend(fontsize=7)
    fig.suptitle(f"{header.space}: EDF of {n} networks drawn uniformly", fontsize=10)
    return save_figure(fig, out, "edf", FORMATS)


def _num(x: float) -> str:
    return f"{x / 1e9:.3f} G" if x >= 1e8 else f"{x / 1e6:.3f} M" if x >= 1e5 else f"{x:.4g}"


def table(header: SearchHeader, points: Sequence[FrontPoint], refs: Sequence[Reference],
          measured_refs: Sequence[ReferencePoint] = ()) -> str:
    """The front as Markdown, with the verdicts and the ordering check."""
    own = "" if header.objective in ("macs", "params") else f"{header.objective} | "  # else it repeats a column
    lines = [f"# Search: {header.space}", "",
             f"Budget {header.budget_ms:g} ms on {header.backend} {header.precision}, batch {header.batch}, "
             f"{header.threads} thread(s) ({header.device}); objective `{header.objective}`; {header.trials} trials "
             f"({header.sampler}, seed {header.seed}), {header.fitting} predicted within budget, {header.refused} "
             "draws refused by constraints or the spec's rules"
             + (" or predicted over the budget (not trained)" if header.objective == "train" else "")
             + (f", {header.failed} failed (study.db keeps why)." if header.failed else "."), "",
             "| # | spec | " + own + "MACs | params | depth | predicted ms (90 %) | measured ms | status |",
             "|" + "---|" * (8 + bool(own))]
    for i, p in enumerate(points, 1):
        measured = "-" if p.measured_ms is None else f"{p.measured_ms:.2f}" + (" (unstable)" if p.measured_unstable
                                                                                else "")
        value = f"{_num(p.value)} | " if own else ""
        lines.append(f"| {i} | [{p.name}]({Path('..') / p.spec_file}) | {value}{_num(p.macs)} | "
                     f"{_num(p.params)} | {p.depth} | {p.predicted_ms:.2f} ({p.predicted_low_ms:.2f}-"
                     f"{p.predicted_high_ms:.2f}) | {measured} | {p.status.replace('_', ' ')} |")
    verified = [p for p in points if p.measured_ms is not None]
    if verified:
        fits = sum(p.status == "fits" for p in verified)
        bad, pairs = discordant_pairs(points)
        lines += ["", f"Verified {len(verified)}: {fits} fit the budget measured, {len(verified) - fits} break it. "
                  f"Predicted and measured latency order disagree on {bad} of {pairs} pairs."]
    for r in measured_refs:
        got = "not measured" if r.measured_ms is None else f"measured {r.measured_ms:.2f} ms" + (
            " (unstable)" if r.measured_unstable else "")
        ratio = "" if r.measured_ms is None else f"; the budget is {header.budget_ms / r.measured_ms:.3f}x its measured"
        lines += ["", f"Reference {r.name} in the same sweep: {_num(r.value)} {header.objective}, predicted "
                  f"{r.predicted_ms:.2f} ms, {got}{ratio}."]
    if refs:
        lines += ["", "Presets on the same axes (predicted): " + ", ".join(
            f"{r.name} {r.latency_ms:.2f} ms, {_num(r.value)}" for r in refs) + "."]
    return "\n".join(lines) + "\n"


def write_report(out: Path, header: SearchHeader, cands: Sequence[Candidate], points: Sequence[FrontPoint],
                 refs: Sequence[Reference], edf: EdfSample | None, plots: bool = True,
                 measured_refs: Sequence[ReferencePoint] = ()) -> list[Path]:
    """Write ``front.md`` (always) and the plots (when matplotlib is there and ``plots``) under ``out``."""
    ensure_folder(out)
    md = out / "front.md"
    write_bytes_atomic(md, table(header, points, refs, measured_refs).encode("utf-8"))
    paths = [md]
    if plots:
        paths += _pareto_plot(header, cands, points, refs, out)
        if edf is not None and edf.value:
            paths += _edf_plot(header, edf, out)
    return paths

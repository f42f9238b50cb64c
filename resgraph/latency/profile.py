"""``resgraph profile``: time every segment of a design space on this device, and a few whole networks.

A profile file is JSON lines written by :mod:`resgraph.records`: a :class:`ProfileHeader` first (what
was timed where: host, device model, CPU flags, backend and versions, precision, batch, threads),
then one :class:`SegmentTiming` per distinct segment and one :class:`NetworkTiming` per calibration
network. Each is timed by the harness's own path (``prepare`` of the backend, ``time_callable``,
the contention signals); an entry whose timing looks contended is measured again, up to twice, and
keeps its ``unstable`` reason if it stays so. ``--resume`` continues an interrupted profile.

Why segments, and why also whole networks: a runtime fuses inside a block, so a block is timed as a
whole, through the backend, in its real shapes. Timed alone, a block's weights stay hot in cache and
its call overhead is paid once per block; the whole networks measure how far the sum of a network's
segments is from its real latency on this device, and the model corrects for it (``LatencyModel``).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from resgraph import records
from resgraph.errors import UsageError
from resgraph.latency.segments import Segment, network_segments, segment_graph
from resgraph.records import Num, RecordModel
from resgraph.spec import ResNetSpec

__all__ = ["PROFILE_VERSION", "EntryTask", "NetworkTiming", "Profile", "ProfileHeader", "SegmentTiming", "cpu_flags",
           "entry_tasks", "pending", "read_profile", "run_profile", "short_graph",
           "time_entry"]

PROFILE_VERSION = 1
_RETRIES = 2  # re-measurements of a contended entry
_COUNTS = ("warmup", "iters")  # timing settings that are counts
_TIMING_FLAGS = {"warmup": "--warmup", "iters": "--iters", "min_time_s": "--min-time"}


class ProfileHeader(RecordModel):
    """What a profile timed, where and how: a profile is applied only where all of it matches."""

    record: Literal["profile"] = "profile"
    profile_version: int = PROFILE_VERSION
    backend: str
    precision: str
    batch: int = Field(ge=1)
    device: str
    threads: int = Field(ge=1)
    host: str
    device_model: str
    cpu_flags: list[str] = Field(default_factory=list)  # the ISA extensions kernels choose by (avx512_vnni, amx...)
    versions: dict[str, str | None] = Field(default_factory=dict)
    timing: dict[str, int | float] = Field(default_factory=dict)  # warmup and iters (counts), min_time_s
    created: str

    @field_validator("timing")
    @classmethod
    def _whole_counts(cls, v: dict[str, int | float]) -> dict[str, int | float]:
        # Profiles written before the counts were ints hold them as floats (3.0): read them as the counts they are.
        return {k: int(x) if k in _COUNTS and isinstance(x, float) and x.is_integer() else x for k, x in v.items()}


class SegmentTiming(RecordModel):
    """One distinct segment, timed through the backend on its own."""

    record: Literal["segment"] = "segment"
    signature: str
    part: str
    kind: str
    input_shape: list[int]
    c_in: int
    c_out: int
    stride: int
    macs: int
    params: int
    act_bytes: int
    ops: int
    convs: int
    p50_ms: float
    p10_ms: Num = None
    p90_ms: Num = None
    cv: Num = None
    samples: int | None = None
    cpu_ratio: Num = None
    steal: Num = None
    unstable: records.Text = None
    attempts: int = 1

    def segment(self) -> Segment:
        return Segment(self.signature, self.part, self.kind, "", -1, tuple(self.input_shape), self.c_in, self.c_out,
                       self.stride, self.macs, self.params, self.act_bytes, self.ops, self.convs)


class NetworkTiming(RecordModel):
    """A whole network timed end to end, with the signatures of its segments in order (for calibration)."""

    record: Literal["network"] = "network"
    spec: str
    signatures: list[str]
    macs: int
    p50_ms: float
    p10_ms: Num = None
    p90_ms: Num = None
    cv: Num = None
    unstable: records.Text = None
    attempts: int = 1


Entry = ProfileHeader | SegmentTiming | NetworkTiming
_KINDS: dict[str, type[ProfileHeader] | type[SegmentTiming] | type[NetworkTiming]] = {
    "profile": ProfileHeader, "segment": SegmentTiming, "network": NetworkTiming}


class Profile:
    """A profile as read back: its header, its segments by signature, its calibration networks."""

    def __init__(self, header: ProfileHeader, segments: dict[str, SegmentTiming], networks: list[NetworkTiming],
                 path: Path) -> None:
        self.header, self.segments, self.networks, self.path = header, segments, networks, path


_parse: Callable[[dict[str, Any]], Entry | str] = records.tagged(_KINDS, "profile entry")


def read_profile(path: Path) -> Profile:
    """A profile file, or one line saying why it is none."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such profile (make one with `resgraph profile -o {path}`)")
    entries = records.read(path, _parse)
    headers = [e for e in entries if isinstance(e, ProfileHeader)]
    if not headers:
        raise UsageError(f"{path}: not a resgraph profile (no header line)")
    if any(h != headers[0] for h in headers[1:]):
        raise UsageError(f"{path}: holds entries of two different profiles (another backend, batch or machine)")
    segs = {e.signature: e for e in entries if isinstance(e, SegmentTiming)}
    nets = list({e.spec: e for e in entries if isinstance(e, NetworkTiming)}.values())
    return Profile(headers[0], segs, nets, path)


def cpu_flags() -> list[str]:
    """The CPU's vector and matrix extensions (what a runtime's kernels are chosen by), from /proc/cpuinfo."""
    wanted = ("avx", "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8", "fma",
              "sse4_2", "asimd", "sve")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in have]
    except OSError:
        pass
    return []


def short_graph(spec: ResNetSpec) -> Any:
    """The compiled network with at most two blocks a stage: every later block repeats the second one's segment."""
    from resgraph.graph.compile import compile_spec, short_spec

    return compile_spec(short_spec(spec))


def _header(backend: str, precision: str, batch: int, device: str, threads: int, timing: Any) -> ProfileHeader:
    from resgraph.bench.backends import get_backend
    from resgraph.bench.env import device_name, environment

    env = environment(device, threads, get_backend(backend).requirements(precision))
    versions = {k: (None if env.get(k) is None else str(env[k])) for k in ("python", "torch", "numpy",
                                                                          *get_backend(backend).requirements(precision))}
    return ProfileHeader(backend=backend, precision=precision, batch=batch, device=device, threads=threads,
                         host=socket.gethostname(), device_model=device_name(device), cpu_flags=cpu_flags(),
                         versions=versions,
                         timing={"warmup": int(timing.warmup), "iters": int(timing.iters),
                                 "min_time_s": float(timing.min_time_s or 0)},
                         created=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _time(module: Any, shape: tuple[int, ...], header: ProfileHeader, timing: Any) -> dict[str, Any]:
    """Time one module through the profile's backend, re-measured while contended; the figures an entry keeps."""
    import torch

    from resgraph.bench.backends import Skip, prepare
    from resgraph.bench.contention import verdict, watch
    from resgraph.bench.stats import summarize
    from resgraph.bench.timing import time_callable

    x = torch.randn(header.batch, *shape, generator=torch.Generator().manual_seed(0)).to(header.device)
    prepared = prepare(header.backend, module.eval().to(header.device), x, header.device, header.precision,
                       header.threads)
    if isinstance(prepared, Skip):
        raise UsageError(f"--backend {header.backend}: {prepared.reason}")
    best: dict[str, Any] = {}
    for attempt in range(1, _RETRIES + 2):
        with watch(header.threads, cpu=header.device == "cpu") as signals:
            samples = time_callable(functools.partial(prepared.fn, prepared.input), warmup=timing.warmup,
                                    iters=timing.iters, min_time_s=timing.min_time_s, device=header.device,
                                    max_iters=timing.max_iters)
        stats = summarize(samples, header.batch).as_ms()
        why = verdict(stats["cv"], signals, header.threads)
        got = {"p50_ms": stats["p50_ms"], "p10_ms": stats["p10_ms"], "p90_ms": stats["p90_ms"], "cv": stats["cv"],
               "samples": stats["samples"], "cpu_ratio": signals.cpu_ratio, "steal": signals.steal, "unstable": why,
               "attempts": attempt}
        if not best or (best["unstable"] and (not why or got["cv"] < best["cv"])):
            best = got
        if why is None:
            break
    return best


def _check_resume(old: ProfileHeader, new: ProfileHeader, path: Path) -> None:
    same = ("backend", "precision", "batch", "device", "threads", "host", "device_model", "cpu_flags")
    diff = [f"{k} {getattr(old, k)!r} there, {getattr(new, k)!r} here" for k in same
            if getattr(old, k) != getattr(new, k)]
    # Refused, not re-measured: entries timed two ways would sit under one header that names one way,
    # and re-timing all of it is a new profile (another -o), not a resume.
    diff += [f"{flag} {old.timing.get(k)!r} there, {new.timing.get(k)!r} here" for k, flag in _TIMING_FLAGS.items()
             if old.timing.get(k) != new.timing.get(k)]
    if diff:
        what = ", ".join(diff)
        raise UsageError(f"{path}: --resume of a profile made with other settings ({what}); use another -o")


@dataclass(frozen=True)
class EntryTask:
    """One entry to time, as plain data that pickles: a segment of ``graph``, or (segment None) the whole network."""

    name: str  # the segment's signature, or the calibration network's spec name
    graph: Any
    segment: Segment | None = None

    @property
    def label(self) -> str:
        seg = self.segment
        return f"network {self.name}" if seg is None else f"{seg.kind} {'x'.join(map(str, seg.input_shape))}"


Timed = SegmentTiming | NetworkTiming
Run = Callable[[list[EntryTask]], Iterator[tuple[EntryTask, Timed]]]


def entry_tasks(specs: list[ResNetSpec], calibration: list[ResNetSpec]) -> list[EntryTask]:
    """Every distinct segment of ``specs`` (from their short graphs), then every network of ``calibration``."""
    from resgraph.graph import compile_spec

    todo: dict[str, EntryTask] = {}
    for spec in specs:
        g = short_graph(spec)
        for seg in network_segments(g):
            todo.setdefault(seg.signature, EntryTask(seg.signature, g, seg))
    nets = [EntryTask(s.name, compile_spec(s)) for s in {s.name: s for s in calibration}.values()]
    return [*todo.values(), *nets]


def time_entry(task: EntryTask, header: ProfileHeader, timing: Any) -> Timed:
    """Time one entry here (threads already fixed by the caller): what the profile file keeps of it."""
    from resgraph.lower import build_model

    seg, g = task.segment, task.graph
    if seg is not None:
        module = build_model(segment_graph(g, seg), seed=0)
        return SegmentTiming(signature=seg.signature, part=seg.part, kind=seg.kind, input_shape=list(seg.input_shape),
                             c_in=seg.c_in, c_out=seg.c_out, stride=seg.stride, macs=seg.macs, params=seg.params,
                             act_bytes=seg.act_bytes, ops=seg.ops, convs=seg.convs,
                             **_time(module, seg.input_shape, header, timing))
    sigs = [s.signature for s in network_segments(g)]
    figures = _time(build_model(g, seed=0), tuple(g.graph["input_shape"]), header, timing)
    for k in ("samples", "cpu_ratio", "steal"):
        figures.pop(k, None)
    return NetworkTiming(spec=task.name, signatures=sigs, macs=int(g.graph["macs"]), **figures)


def pending(tasks: list[EntryTask], out: Path, header: ProfileHeader, resume: bool) -> list[EntryTask]:
    """The tasks not yet in ``out``: refused when it exists without ``resume``, or was made with other settings."""
    if not (out.exists() and out.stat().st_size):
        return tasks
    if not resume:
        raise UsageError(f"{out}: exists; --resume continues it, or choose another -o")
    old = read_profile(out)
    _check_resume(old.header, header, out)
    nets = {n.spec for n in old.networks}
    return [t for t in tasks if t.name not in (old.segments if t.segment is not None else nets)]


def run_profile(specs: list[ResNetSpec], calibration: list[ResNetSpec], out: Path, *, backend: str, precision: str,
                batch: int, device: str, threads: int, timing: Any, resume: bool = False,
                progress: bool = True, header: ProfileHeader | None = None, run: Run | None = None) -> Profile:
    """Time every distinct segment of ``specs`` and every network of ``calibration``, appending each entry when done.

    By default each entry is timed here, one after another. ``run`` (with the ``header`` of the device it
    times on) times them elsewhere, e.g. on Dask workers (:mod:`resgraph.latency.workers`), yielding each
    entry as it finishes, in any order; only this process writes ``out``.
    """
    from tqdm import tqdm

    from resgraph.bench.env import fixed_threads

    header = header or _header(backend, precision, batch, device, threads, timing)
    tasks = entry_tasks(specs, calibration)
    with records.writer(out) as w, contextlib.ExitStack() as here:
        fresh = not (out.exists() and out.stat().st_size)
        todo = pending(tasks, out, header, resume)
        if fresh:
            w.append(header)
        elif progress:
            segs = sum(t.segment is not None for t in tasks) - sum(t.segment is not None for t in todo)
            print(f"resume: {segs} segments and {len(tasks) - len(todo) - segs} networks already in {out}",
                  file=sys.stderr)
        if run is None:
            here.enter_context(fixed_threads(threads))

            def run(ts: list[EntryTask]) -> Iterator[tuple[EntryTask, Timed]]:
                return ((t, time_entry(t, header, timing)) for t in ts)

        with tqdm(total=len(todo), unit="entry", file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
            for task, entry in run(todo):
                w.append(entry)
                bar.set_postfix_str(task.label, refresh=False)
                bar.update(1)
    return read_profile(out)


def this_machine(device: str) -> dict[str, Any]:
    """Host, device model and CPU flags of this machine, as a profile header names them."""
    from resgraph.bench.env import device_name

    return {"host": socket.gethostname(), "device_model": device_name(device), "cpu_flags": cpu_flags()}

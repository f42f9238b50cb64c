"""A sweep's settings as one typed value: what the command line hands the runner, nothing else.

Torch-free, so the command line can build and check them (and print ``--help``) without loading a backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from resgraph.precision import CALIBRATION_BATCHES

__all__ = ["AUTO_CAP", "DEFAULT_RESOURCES", "MIN_AUTO", "EngineSettings", "SweepSettings", "TimingConfig"]

MIN_AUTO = 3  # --repeat auto: rounds before the first look (two rounds give a t interval of 12.7 standard errors)
AUTO_CAP = 10  # --repeat auto: rounds at most
DEFAULT_RESOURCES = "slot=1"  # the Dask resource every row asks for: one exclusive device slot


@dataclass(frozen=True)
class TimingConfig:
    """How long to measure one row; small enough to pass around, frozen so rows can't drift."""

    warmup: int = 5  # untimed calls first: caches, allocator, lazy init
    iters: int = 30  # timed calls, at least
    min_time_s: float | None = 0.5  # keep sampling until the timed total reaches this
    max_iters: int = 100_000  # cap on samples when min_time_s extends the run
    repeat: int = 1  # interleaved rounds of a whole sweep (resgraph.bench.rounds); with adaptive, the cap
    adaptive: bool = False  # --repeat auto: rounds until every row (or comparison) is decided, up to repeat
    drift_max: float | None = 0.10  # re-measure a row whose speed index moved more (resgraph.bench.speed); None: never


@dataclass(frozen=True)
class EngineSettings:
    """Where rows run: this process, a process per row, or a Dask cluster."""

    workers: int | None = None  # a local Dask cluster of N workers on 127.0.0.1
    scheduler: str | None = None  # an existing cluster's tcp://HOST:PORT
    resources: str = DEFAULT_RESOURCES  # what each row asks a worker for
    in_process: bool = False  # no isolation: rows run in this process, one after another
    row_timeout: float | None = None  # seconds before a row's process is killed and the row failed
    retries: int = 0  # re-runs of a failed row, after the others


@dataclass(frozen=True)
class SweepSettings:
    """Everything a sweep is asked to do besides which models: the product, the timing, the file, the engine."""

    backends: tuple[str, ...] = ("eager",)
    batches: tuple[int, ...] = (1,)
    precisions: tuple[str, ...] = ("fp32",)
    device: str = "cpu"
    out: Path = Path("results.jsonl")
    resume: bool = False  # keep rows already in `out` (failures from outside the row are measured again)
    retry_failed: bool = False  # with resume: measure again every row whose record is not 'ok'
    timing: TimingConfig = field(default_factory=TimingConfig)
    threads: int | None = None  # intra-op threads; None: the CPUs this process may use
    roofline: bool = True  # measure the matmul peak for % of peak
    refresh_peak: bool = False  # re-measure the peak now instead of using the cached one
    calibration: int = CALIBRATION_BATCHES  # batches an int8 row calibrates on
    hint: str | None = None  # performance hint of the backends that take one (`--ov-hint`); None: their default
    engine: EngineSettings = field(default_factory=EngineSettings)
    strict: bool = False  # an unstable row fails the command (exit 4)

"""One benchmark row: build, check against fp32 eager, time, summarize, into one record."""

from __future__ import annotations

import functools
import gc
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn

from resgraph.bench.backends import Prepared, Skip, get_backend, prepare, unmet_requirement
from resgraph.bench.check import AgreementResult, CheckResult, check_agreement, check_output, to_tensor
from resgraph.bench.contention import verdict, watch
from resgraph.bench.env import cpu_model, device_name
from resgraph.bench.inputs import HeldOut, calibration_batches, held_out
from resgraph.bench.memory import PeakMemory
from resgraph.bench.record import Cause, Record
from resgraph.bench.roofline import achieved_gflops
from resgraph.bench.speed import reference_times_ms, speed_index_ms
from resgraph.bench.stats import summarize
from resgraph.bench.timing import TimingConfig, time_callable
from resgraph.precision import CALIBRATION_BATCHES, get_precision
from resgraph.registry import UnknownNameError

__all__ = ["ModelEntry", "Job", "base_fields", "failed_record", "example_input", "run_row", "validate_job", "one_line"]

INPUT_SEED = 0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEntry:
    """A model to benchmark, as the caller knows it; the harness only calls `factory`."""

    name: str  # the spec's name, e.g. "resnet50"
    factory: Callable[[], nn.Module]  # returns a fresh fp32 eval-mode module on the CPU
    spec_hash: str = ""  # identifies the spec's content, so --resume never mixes versions
    macs: float | None = None  # multiply-adds per image (for GFLOP/s); the harness never counts them
    params: int | None = None  # counted from the module when not given
    depth: int | None = None  # weighted layers, for comparison tables
    design: str = ""  # block types, stem and shortcut option in words, for comparison tables
    input_shape: tuple[int, int, int] = (3, 224, 224)  # C, H, W of one image
    weights: str | None = None  # where trained weights came from ("file.pt@sha256-prefix"); None: random init
    data: str | None = None  # data set (resgraph.data name) to calibrate on and check with
    packages: tuple[str, ...] = ()  # modules the model itself comes from (torchvision's twin): versions recorded


@dataclass(frozen=True)
class Job:
    """One row of a sweep: a model on a backend, device, batch size and precision."""

    model: ModelEntry
    backend: str
    device: str = "cpu"
    batch: int = 1
    precision: str = "fp32"
    calibration: int = CALIBRATION_BATCHES  # batches to calibrate on, for a precision that needs it (int8)
    hint: str | None = None  # performance hint (`--ov-hint`) for a backend that takes one; None: its default

    @property
    def calibration_batches(self) -> int | None:
        """The calibration batches this row uses; None where its precision needs none."""
        return self.calibration if get_precision(self.precision).calibrated else None

    @property
    def row_hint(self) -> str | None:
        """The performance hint this row runs with: the asked one or its backend's default; None where it takes none."""
        try:
            hints = get_backend(self.backend).hints
        except UnknownNameError:  # a worker process that never registered this backend: its row will say so
            return self.hint
        return (self.hint or hints[0]) if hints else None

    @property
    def key(self) -> tuple[Any, ...]:
        """What the row measures: record.JOB_FIELDS, in order (a record's key adds where it was measured)."""
        return (self.model.name, self.model.spec_hash, self.backend, self.device, self.batch, self.precision,
                self.model.weights, self.model.data, self.calibration_batches, self.row_hint)

    @property
    def packages(self) -> tuple[str, ...]:
        """Modules this row runs through besides torch: its backend's requirements and its model's source."""
        return (*get_backend(self.backend).requirements(self.precision), *self.model.packages)

    @property
    def label(self) -> str:
        """Short human name for progress bars and messages."""
        hint = self.row_hint
        return f"{self.model.name}/{self.backend}/{self.precision}/b{self.batch}" + (f"/{hint}" if hint else "")


def example_input(shape: tuple[int, int, int], batch: int, device: str = "cpu") -> torch.Tensor:
    """The row's input: seeded normal noise, identical for every backend (so references can be shared)."""
    g = torch.Generator().manual_seed(INPUT_SEED)
    return torch.randn(batch, *shape, generator=g).to(device)


def one_line(e: BaseException) -> str:
    """An exception as 'Type: first line of message'."""
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0]}" if msg else type(e).__name__


def _sync(device: str) -> None:
    """Wait for queued GPU work, so wall-clock spans are real."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def run_row(
    job: Job,
    timing: TimingConfig = TimingConfig(),
    threads: int | None = None,
    env: dict[str, Any] | None = None,
    peak: Callable[[str, str, str], float | None] | None = None,
) -> Record:
    """Measure one row and return its record; never raises for a backend's failure (status 'failed').

    `peak(device, precision, engine)` gives the matmul peak in GFLOP/s (None: no roofline); the engine is
    the backend's (resgraph.bench.roofline.ENGINES).
    KeyboardInterrupt is not caught.
    """
    threads = threads or torch.get_num_threads()
    base = base_fields(job, timing, threads, env, None if env else device_name(job.device))
    measured: dict[str, Any]
    try:
        reason = unmet_requirement(job.backend, job.device, job.precision)
        measured = _measure(job, timing, threads) if reason is None else {"status": "skipped", "reason": reason}
    except Exception as e:  # noqa: BLE001 - any backend error (OOM included) is a failed row
        measured = {"status": "failed", "reason": one_line(e), "cause": "error"}
        log.debug("row %s failed", job.label, exc_info=True)  # the full traceback, for whoever asks
    finally:
        if job.device.startswith("cuda") and torch.cuda.is_available():
            gc.collect()  # drop the row's tensors (an OOM's too) before handing cached blocks back
            torch.cuda.empty_cache()
    runtime = measured.pop("runtime_env", None)  # what the built runtime reported about itself
    fields = {**base, **measured}
    if runtime:
        fields["env"] = {**(fields["env"] or {}), **runtime}
    if fields["status"] in ("ok", "mismatch") and job.model.macs and fields.get("p50_ms"):
        fields.update(_roofline(fields["p50_ms"], fields.get("reason"), job.model.macs, job, peak))
    return Record(**fields, timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def base_fields(job: Job, timing: TimingConfig, threads: int | None, env: dict[str, Any] | None = None,
                device_model: str | None = None) -> dict[str, Any]:
    """A row's fields before it is measured: what it is, where it runs (this host), how it is timed.

    The device model comes from ``device_model``, else ``env``, else (CPU rows only) this CPU's name:
    naming a GPU here would start CUDA in a process that may not own that GPU.
    """
    m = job.model
    return dict(
        spec=m.name, spec_hash=m.spec_hash, backend=job.backend, device=job.device, batch=job.batch,
        precision=job.precision, host=socket.gethostname(),
        device_model=device_model or (env or {}).get("device_name") or (cpu_model() if job.device == "cpu" else None),
        macs=m.macs, params=m.params, depth=m.depth, design=m.design or None, input_shape=list(m.input_shape),
        weights=m.weights, data=m.data, calibration=job.calibration_batches, hint=job.row_hint,
        threads=threads, warmup=timing.warmup, iters=timing.iters, min_time_s=timing.min_time_s, env=env,
    )


def failed_record(job: Job, timing: TimingConfig, threads: int | None, reason: str, cause: Cause,
                  **where: Any) -> Record:
    """The record of a row that gave none of its own (its process died, its worker was lost): 'failed', why, where."""
    return Record(**{**base_fields(job, timing, threads), **where}, status="failed", reason=reason, cause=cause,
                  timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _roofline(p50_ms: float, reason: str | None, macs: float, job: Job,
              peak: Callable[[str, str, str], float | None] | None) -> dict[str, Any]:
    """Achieved GFLOP/s and % of the matmul peak; a peak that can't be measured leaves them unset (the row stands)."""
    gflops = achieved_gflops(macs, job.batch, p50_ms / 1e3)
    engine = get_backend(job.backend).peak_engine(job.precision)
    try:
        top = peak(job.device, job.precision, engine) if peak else None
    except Exception:  # noqa: BLE001 - the roofline is a bonus
        log.debug("no matmul peak for %s/%s", job.device, job.precision, exc_info=True)
        top = None
    out: dict[str, Any] = {"gflops": gflops, "peak_gflops": top}
    if top:
        out["pct_peak"] = 100.0 * gflops / top
        if out["pct_peak"] > 100 and not reason:
            out["reason"] = ("faster than the cached torch.mm peak: this backend's kernels beat torch.mm, or the "
                             "peak was measured on a busy machine (`resgraph bench --refresh-peak`)")
    return out


def _measure(job: Job, timing: TimingConfig, threads: int) -> dict[str, Any]:
    """Build, reference, compile, first run, check and time; returns the measured fields."""
    m = job.model
    out: dict[str, Any] = {}
    speed = [reference_times_ms()]  # the machine's speed index before and after the row (not in its memory peak)
    with PeakMemory(job.device) as mem:
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):  # random-init factories give the same weights every run
            torch.manual_seed(INPUT_SEED)
            model = m.factory()
        build_s = time.perf_counter() - t0
        if not isinstance(model, nn.Module):
            raise TypeError(f"model factory for {m.name!r} returned {type(model).__name__}, not a torch.nn.Module")
        model = model.eval().to(job.device)
        if m.params is None:
            out["params"] = sum(p.numel() for p in model.parameters())
        x = example_input(m.input_shape, job.batch, job.device)
        ref = _reference(model, x)  # from this row's own model; not part of first_result_s
        agreement = get_precision(job.precision).check == "agreement"
        if agreement:  # fp32 eager on the held-out images, before a backend may change the model
            held = held_out(job.batch, m.input_shape, m.data, labelled=bool(m.data and m.weights))
            held_ref = held.trim(torch.cat([_reference(model, b.to(job.device)) for b in held.batches]))
        calibration: list[torch.Tensor] = []
        if job.calibration_batches:
            calibration, out["calibration_data"] = calibration_batches(job.calibration_batches, job.batch,
                                                                       m.input_shape, m.data)
            calibration = [c.to(job.device) for c in calibration]

        t1 = time.perf_counter()
        prepared = prepare(job.backend, model, x, job.device, job.precision, threads, calibration, job.row_hint)
        if isinstance(prepared, Skip):  # requirements were checked; kept for safety
            return {**out, "status": "skipped", "reason": prepared.reason}
        if prepared.info:
            out["runtime_env"] = dict(prepared.info)
        first = prepared.fn(prepared.input)
        _sync(job.device)
        out["first_result_s"] = build_s + time.perf_counter() - t1

        check: AgreementResult | CheckResult
        if agreement:
            check, figures = _agreement(prepared, held, held_ref, job.precision)
            out.update(figures)
        else:
            check = check_output(first, ref, job.precision, job.device)
            out.update(max_abs_err=check.max_abs_err, max_rel_err=check.max_rel_err, tolerance=check.tolerance)
        del first
        with watch(threads, cpu=job.device == "cpu") as signals:
            samples = time_callable(
                functools.partial(prepared.fn, prepared.input),
                warmup=timing.warmup, iters=timing.iters, min_time_s=timing.min_time_s,
                device=job.device, max_iters=timing.max_iters,
            )
    # the runnable goes first: a runtime's idle worker threads still spin for a while, which is not the machine
    del prepared, model
    gc.collect()
    speed.append(reference_times_ms())
    stats = summarize(samples, job.batch).as_ms()
    return {**out, **stats, "load_before": signals.load_before, "load_after": signals.load_after,
            "cpu_ratio": signals.cpu_ratio, "steal": signals.steal, "speed_ms": speed_index_ms(speed),
            "unstable": verdict(stats["cv"], signals, threads),
            "peak_mem_bytes": mem.peak_bytes, "mem_method": mem.method,
            "status": "ok" if check.ok else "mismatch", "reason": check.reason}


def _agreement(prepared: Prepared, held: HeldOut, held_ref: torch.Tensor,
               precision: str) -> tuple[AgreementResult, dict[str, Any]]:
    """Run the held-out images through the row's runnable (untimed) and compare with fp32 eager's answers."""
    out = held.trim(torch.cat([to_tensor(prepared.fn(prepared.convert(b))) for b in held.batches]))
    result = check_agreement(out, held_ref, precision, held.labels)
    return result, dict(check_images=result.images, check_data=held.source, top1_agreement=result.top1_agreement,
                        top5_overlap=result.top5_overlap, cosine=result.cosine, test_error=result.test_error,
                        ref_test_error=result.ref_test_error)


def _reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """fp32 eager output of the unmodified model, on the CPU."""
    with torch.inference_mode():
        ref = model(x)
    ref = ref[0] if isinstance(ref, (list, tuple)) else ref
    return ref.detach().to("cpu", torch.float32)


def validate_job(job: Job) -> None:
    """Catch a typo before a long sweep starts: unknown backend or precision, bad batch or calibration."""
    hints = get_backend(job.backend).hints
    get_precision(job.precision)  # a ValueError (and UsageError) listing the known ones
    if job.hint is not None and hints and job.hint not in hints:
        raise ValueError(f"backend {job.backend!r} takes the hints {', '.join(hints)}, not {job.hint!r}")
    if job.batch < 1:
        raise ValueError(f"batch must be >= 1, got {job.batch}")
    if job.calibration < 1:
        raise ValueError(f"calibration must be >= 1 batch, got {job.calibration}")

"""One benchmark row: build, check against fp32 eager, time, summarize, into one record."""

from __future__ import annotations

import functools
import gc
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import torch
from torch import nn

from resgraph.bench.backends import Prepared, Skip, get_backend, prepare, unmet_requirement
from resgraph.bench.check import AgreementResult, check_agreement, check_output, to_tensor
from resgraph.bench.contention import verdict, watch
from resgraph.bench.env import cpu_model, device_name
from resgraph.bench.inputs import HeldOut, calibration_batches, held_out
from resgraph.bench.memory import PeakMemory
from resgraph.bench.results import RECORD_FIELDS
from resgraph.bench.roofline import achieved_gflops
from resgraph.bench.stats import summarize
from resgraph.bench.timing import TimingConfig, time_callable
from resgraph.precision import CALIBRATION_BATCHES, get_precision

__all__ = ["ModelEntry", "Job", "base_record", "example_input", "run_row", "validate_job", "one_line"]

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
    data: str | None = None  # data set (resgraph.train.data name) to calibrate on and check with


@dataclass(frozen=True)
class Job:
    """One row of a sweep: a model on a backend, device, batch size and precision."""

    model: ModelEntry
    backend: str
    device: str = "cpu"
    batch: int = 1
    precision: str = "fp32"
    calibration: int = CALIBRATION_BATCHES  # batches to calibrate on, for a precision that needs it (int8)

    @property
    def calibration_batches(self) -> int | None:
        """The calibration batches this row uses; None where its precision needs none."""
        return self.calibration if get_precision(self.precision).calibrated else None

    @property
    def key(self) -> tuple[Any, ...]:
        """What the row measures: results.JOB_FIELDS, in order (a record's key adds where it was measured)."""
        return (self.model.name, self.model.spec_hash, self.backend, self.device, self.batch, self.precision,
                self.model.weights, self.model.data, self.calibration_batches)

    @property
    def label(self) -> str:
        """Short human name for progress bars and messages."""
        return f"{self.model.name}/{self.backend}/{self.precision}/b{self.batch}"


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
) -> dict[str, Any]:
    """Measure one row and return its record; never raises for a backend's failure (status 'failed').

    `peak(device, precision, engine)` gives the matmul peak in GFLOP/s (None: no roofline); the engine is
    the backend's (resgraph.bench.roofline.ENGINES).
    KeyboardInterrupt is not caught.
    """
    threads = threads or torch.get_num_threads()
    rec = base_record(job, timing, threads, env, None if env else device_name(job.device))
    m = job.model
    try:
        reason = unmet_requirement(job.backend, job.device, job.precision)
        if reason is None:
            _measure(job, timing, threads, rec)
        else:
            rec.update(status="skipped", reason=reason)
    except Exception as e:  # noqa: BLE001 - any backend error (OOM included) is a failed row
        rec.update(status="failed", reason=one_line(e))
        log.debug("row %s failed", job.label, exc_info=True)  # the full traceback, for whoever asks
    finally:
        if job.device.startswith("cuda") and torch.cuda.is_available():
            gc.collect()  # drop the row's tensors (an OOM's too) before handing cached blocks back
            torch.cuda.empty_cache()
    if rec["status"] in ("ok", "mismatch") and m.macs and rec["p50_ms"]:
        _roofline(rec, m.macs, job, peak)
    rec["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return rec


def base_record(job: Job, timing: TimingConfig, threads: int | None, env: dict[str, Any] | None = None,
                device_model: str | None = None) -> dict[str, Any]:
    """A row's record before it is measured: what it is, where it runs (this host), how it is timed.

    The device model comes from ``device_model``, else ``env``, else (CPU rows only) this CPU's name:
    naming a GPU here would start CUDA in a process that may not own that GPU.
    """
    m = job.model
    rec: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    rec.update(
        spec=m.name, spec_hash=m.spec_hash, backend=job.backend, device=job.device, batch=job.batch,
        precision=job.precision, host=socket.gethostname(),
        device_model=device_model or (env or {}).get("device_name") or (cpu_model() if job.device == "cpu" else None),
        macs=m.macs, params=m.params, depth=m.depth, design=m.design or None, input_shape=list(m.input_shape),
        weights=m.weights, data=m.data, calibration=job.calibration_batches,
        threads=threads, warmup=timing.warmup, iters=timing.iters, min_time_s=timing.min_time_s, env=env,
    )
    return rec


def _roofline(rec: dict[str, Any], macs: float, job: Job, peak: Callable[[str, str, str], float | None] | None) -> None:
    """Achieved GFLOP/s and % of the matmul peak; a peak that can't be measured leaves them unset, not the row failed."""
    rec["gflops"] = achieved_gflops(macs, job.batch, rec["p50_ms"] / 1e3)
    engine = get_backend(job.backend).peak_engine(job.precision)
    try:
        rec["peak_gflops"] = peak(job.device, job.precision, engine) if peak else None
    except Exception:  # noqa: BLE001 - the roofline is a bonus
        log.debug("no matmul peak for %s/%s", job.device, job.precision, exc_info=True)
        rec["peak_gflops"] = None
    if rec["peak_gflops"]:
        rec["pct_peak"] = 100.0 * rec["gflops"] / rec["peak_gflops"]
        if rec["pct_peak"] > 100 and not rec["reason"]:
            rec["reason"] = ("faster than the cached torch.mm peak: this backend's kernels beat torch.mm, or the "
                             "peak was measured on a busy machine (`resgraph bench --refresh-peak`)")


def _measure(job: Job, timing: TimingConfig, threads: int, rec: dict[str, Any]) -> None:
    """Build, reference, compile, first run, check and time; writes into `rec`."""
    m = job.model
    with PeakMemory(job.device) as mem:
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):  # random-init factories give the same weights every run
            torch.manual_seed(INPUT_SEED)
            model = m.factory()
        build_s = time.perf_counter() - t0
        if not isinstance(model, nn.Module):
            raise TypeError(f"model factory for {m.name!r} returned {type(model).__name__}, not a torch.nn.Module")
        model = model.eval().to(job.device)
        if rec["params"] is None:
            rec["params"] = sum(p.numel() for p in model.parameters())
        x = example_input(m.input_shape, job.batch, job.device)
        ref = _reference(model, x)  # from this row's own model; not part of first_result_s
        agreement = get_precision(job.precision).check == "agreement"
        if agreement:  # fp32 eager on the held-out images, before a backend may change the model
            held = held_out(job.batch, m.input_shape, m.data, labelled=bool(m.data and m.weights))
            held_ref = held.trim(torch.cat([_reference(model, b.to(job.device)) for b in held.batches]))
        calibration: list[torch.Tensor] = []
        if job.calibration_batches:
            calibration, rec["calibration_data"] = calibration_batches(job.calibration_batches, job.batch,
                                                                       m.input_shape, m.data)
            calibration = [c.to(job.device) for c in calibration]

        t1 = time.perf_counter()
        prepared = prepare(job.backend, model, x, job.device, job.precision, threads, calibration)
        if isinstance(prepared, Skip):  # requirements were checked; kept for safety
            rec.update(status="skipped", reason=prepared.reason)
            return
        out = prepared.fn(prepared.input)
        _sync(job.device)
        rec["first_result_s"] = build_s + time.perf_counter() - t1

        if agreement:
            check = _agreement(prepared, held, held_ref, job.precision, rec)
        else:
            check = check_output(out, ref, job.precision, job.device)
        del out
        with watch(threads, cpu=job.device == "cpu") as signals:
            samples = time_callable(
                functools.partial(prepared.fn, prepared.input),
                warmup=timing.warmup, iters=timing.iters, min_time_s=timing.min_time_s,
                device=job.device, max_iters=timing.max_iters,
            )
    stats = summarize(samples, job.batch)
    rec.update(stats.as_ms())
    rec.update(load_before=signals.load_before, load_after=signals.load_after, cpu_ratio=signals.cpu_ratio,
               unstable=verdict(rec["cv"], signals, threads))
    if not agreement:
        rec.update(max_abs_err=check.max_abs_err, max_rel_err=check.max_rel_err, tolerance=check.tolerance)
    rec.update(peak_mem_bytes=mem.peak_bytes, mem_method=mem.method,
               status="ok" if check.ok else "mismatch", reason=check.reason)


def _agreement(prepared: Prepared, held: HeldOut, held_ref: torch.Tensor, precision: str,
               rec: dict[str, Any]) -> AgreementResult:
    """Run the held-out images through the row's runnable (untimed) and compare with fp32 eager's answers."""
    out = held.trim(torch.cat([to_tensor(prepared.fn(prepared.convert(b))) for b in held.batches]))
    result = check_agreement(out, held_ref, precision, held.labels)
    rec.update(check_images=result.images, check_data=held.source, top1_agreement=result.top1_agreement,
               top5_overlap=result.top5_overlap, cosine=result.cosine, test_error=result.test_error,
               ref_test_error=result.ref_test_error)
    return result


def _reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """fp32 eager output of the unmodified model, on the CPU."""
    with torch.inference_mode():
        ref = model(x)
    ref = ref[0] if isinstance(ref, (list, tuple)) else ref
    return ref.detach().to("cpu", torch.float32)


def validate_job(job: Job) -> None:
    """Catch a typo before a long sweep starts: unknown backend or precision, bad batch or calibration."""
    get_backend(job.backend)
    get_precision(job.precision)  # a ValueError (and UsageError) listing the known ones
    if job.batch < 1:
        raise ValueError(f"batch must be >= 1, got {job.batch}")
    if job.calibration < 1:
        raise ValueError(f"calibration must be >= 1 batch, got {job.calibration}")

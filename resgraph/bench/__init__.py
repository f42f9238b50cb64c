"""Benchmark harness: honest timing of a torch.nn.Module or callable, sweeps, reports, comparisons.

The harness never sees a spec or a graph: callers hand it a `ModelEntry`
whose `factory()` returns a fresh fp32 eval-mode module on the CPU, plus the
numbers it cannot know (spec hash, MACs per image, depth).

Public entry points
-------------------
ModelEntry(name, factory, spec_hash="", macs=None, params=None, depth=None, design="", input_shape=(3, 224, 224),
           weights=None, data=None, packages=())
Job(model, backend, device="cpu", batch=1, precision="fp32", calibration=16)
TimingConfig(warmup=5, iters=30, min_time_s=0.5, max_iters=100_000, repeat=1)
SweepSettings(backends, batches, precisions, device, out, resume, timing, threads, roofline, ...)
    What `resgraph bench` hands the runner, as one typed value.
Record
    One row's record (pydantic, frozen; SCHEMA_VERSION): the only definition of a results line.
    KEY_FIELDS name a row in a results file; record.key is their values.

plan(models, backends, batches, precisions=("fp32",), device="cpu", calibration=16) -> list[Job]
    The product models x backends x precisions x batches, validated.
run_sweep(jobs, out_path, resume=False, progress=True, *, timing=TimingConfig(),
          threads=None, roofline=True, peak_cache=None, replace=False, runner=None, retries=0) -> list[Record]
    One JSON record per row appended to out_path (a path, or a resgraph.records.Writer already held),
    fsynced as it finishes; resume=True skips rows already in the file. Returns every job's record.
    runner: where rows run (default in-process): runners.Isolated(threads, timeout) gives each
    row its own process; dask_runner.local_cluster(n) / dask_runner.connect(address) a Dask
    cluster (context managers yielding a runner). See docs/distributed.md.
run_row(job, timing=TimingConfig(), threads=None, env=None, peak=None) -> Record
    Measure a single row (what run_sweep does per job).
compare(entries, backend="eager", batch=1, device="cpu", precision="fp32", *,
        timing=TimingConfig(), threads=None, roofline=False) -> list[Compared]
    Each record with `relative` (speed vs the first entry on the same machine).
format_table(rows, columns=COMPARE_COLUMNS) -> str
    Plain-text side-by-side table of compare() rows; columns=SWEEP_COLUMNS
    for run_sweep() records. Rows that aren't 'ok' get a footnote with the reason.
write_report(results_path, out_dir, *, bar_batch=None, plots=True,
             formats=("png", "svg")) -> list[Path]
    results.md, results.csv and plots from a results file.
read_results(path) -> list[Record];  load_results(path) -> list[Record]
    Every record of a results file in file order; the latest record per row key.

Building blocks
---------------
time_callable(fn, warmup, iters, min_time_s=None, device="cpu", max_iters=100_000) -> np.ndarray (seconds)
measure_overhead(iters=100_000, warmup=1000) -> float (seconds per no-op iteration)
summarize(samples_s, batch=1) -> Stats
prepare(name, model, example, device="cpu", precision="fp32", threads=None, calibration=()) -> Prepared | Skip
backend_names() -> list[str];  unmet_requirement(name, device, precision) -> str | None
check_output(out, ref, precision, device="cpu") -> CheckResult         (floating precisions)
check_agreement(out, ref, precision, labels=None) -> AgreementResult   (int8: see resgraph.precision)
fold_bn(module) -> fx.GraphModule   (resgraph.lower.inference: BN folded into convs, input untouched)
peak_gflops(device="cpu", threads=None, precision="fp32", cache_path=None, refresh=False, engine="torch") -> float
environment(device, threads, packages=()) -> dict

See docs/bench-harness.md for how timing works and what each record field means.
"""

import importlib
from typing import Any

# Where each public name lives. Imported on first use (PEP 562), so that `resgraph.bench.settings` and the
# command line's front end load without torch; `from resgraph.bench import run_sweep` works as before.
_WHERE = {
    "Prepared": "resgraph.bench.backends",
    "Skip": "resgraph.bench.backends",
    "backend_names": "resgraph.bench.backends",
    "prepare": "resgraph.bench.backends",
    "unmet_requirement": "resgraph.bench.backends",
    "AgreementResult": "resgraph.bench.check",
    "CheckResult": "resgraph.bench.check",
    "check_agreement": "resgraph.bench.check",
    "check_output": "resgraph.bench.check",
    "COMPARE_COLUMNS": "resgraph.bench.comparison",
    "SWEEP_COLUMNS": "resgraph.bench.comparison",
    "compare": "resgraph.bench.comparison",
    "format_table": "resgraph.bench.comparison",
    "environment": "resgraph.bench.env",
    "fold_bn": "resgraph.lower.inference",
    "load_results": "resgraph.bench.record",
    "write_report": "resgraph.bench.report",
    "KEY_FIELDS": "resgraph.bench.record",
    "SCHEMA_VERSION": "resgraph.bench.record",
    "Record": "resgraph.bench.record",
    "read_results": "resgraph.bench.record",
    "Compared": "resgraph.bench.comparison",
    "SweepSettings": "resgraph.bench.settings",
    "peak_gflops": "resgraph.bench.roofline",
    "Job": "resgraph.bench.row",
    "ModelEntry": "resgraph.bench.row",
    "run_row": "resgraph.bench.row",
    "Stats": "resgraph.bench.stats",
    "summarize": "resgraph.bench.stats",
    "plan": "resgraph.bench.sweep",
    "run_sweep": "resgraph.bench.sweep",
    "TimingConfig": "resgraph.bench.timing",
    "measure_overhead": "resgraph.bench.timing",
    "time_callable": "resgraph.bench.timing",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'resgraph.bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

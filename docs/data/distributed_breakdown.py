"""Where an isolated row's extra time goes (docs/distributed.md): python docs/data/distributed_breakdown.py"""
import statistics, time
from resgraph.bench import TimingConfig, plan
from resgraph.bench.isolate import probe_slot, run_isolated
from resgraph.bench.task import make_tasks, run_task
from resgraph.entries import spec_entry

if __name__ == "__main__":
    t = time.perf_counter(); probe_slot("cpu"); first = time.perf_counter() - t
    e = spec_entry("resnet44")
    task = make_tasks(plan([e], ["eager"], [1]), TimingConfig(warmup=0, iters=1, min_time_s=None), 1, False, None, True)[0]
    def med(f, n=10):
        xs = []
        for _ in range(n):
            t = time.perf_counter(); f(); xs.append(time.perf_counter() - t)
        return statistics.median(xs)
    fork = med(lambda: probe_slot("cpu"))
    rebuild = med(e.factory)
    inproc = med(lambda: run_task(task), 7)
    iso = med(lambda: run_isolated(task), 7)
    print(f"forkserver start (once per process): {first:.2f} s; a process from it, to its first message and exit: {fork*1e3:.0f} ms")
    print(f"resnet44 rebuilt from its spec data (SpecFactory, in-process too): {rebuild*1e3:.0f} ms")
    print(f"one resnet44 row (warmup 0, 1 iter): in-process {inproc*1e3:.0f} ms, isolated {iso*1e3:.0f} ms: +{(iso-inproc)*1e3:.0f} ms")

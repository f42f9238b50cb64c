"""Time `predict` on 1,000 specs with whichever resgraph is first on the path: compare two trees in one run.

    git archive OLD resgraph specs | tar -x -C /tmp/before
    flock /tmp/resgraph-cpu.lock bash -c 'uptime; PYTHONPATH=/tmp/before .venv/bin/python bench/predict_speed.py; \\
        uptime; .venv/bin/python bench/predict_speed.py; uptime'

Works on trees from before the part cache too (it touches only ``predict_specs`` and ``LatencyModel``).
Each case is timed ``--runs`` times (median; wall and CPU seconds), from a fresh part cache where the
tree has one, as one `resgraph predict` command starts. Fitting the model is not counted (once per
profile). bench/test_predict_speed.py times the same with pytest-benchmark; figures: docs/latency.md.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import resgraph
import resgraph.latency.predict as predict_module
from resgraph.latency.model import LatencyModel
from resgraph.latency.predict import predict_specs
from resgraph.latency.profile import read_profile
from resgraph.latency.space import draw_spec
from resgraph.search.sample import sample_specs
from resgraph.search.space import load_space
from resgraph.spec import dump_spec

PROFILE = Path(__file__).resolve().parents[1] / "docs" / "data" / "latency" / "profile-eager-fp32-b1.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", type=Path, default=PROFILE)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print("resgraph from", Path(resgraph.__file__).parent)
    model = LatencyModel(read_profile(args.profile))
    tmp = Path(tempfile.mkdtemp())
    rng = random.Random(1000)
    files = []
    for i in range(16):
        spec = draw_spec(rng, f"heldout{i}")
        files.append(tmp / f"{spec.name}.yaml")
        files[-1].write_text(dump_spec(spec), encoding="utf-8")
    imagenet = sample_specs(load_space("imagenet_resnet"), 1000, seed=0)[0]
    distinct = []
    for spec in imagenet:
        distinct.append(tmp / f"{spec.name}.yaml")
        distinct[-1].write_text(dump_spec(spec), encoding="utf-8")
    cases: dict[str, list] = {
        "imagenet_resnet samples": imagenet,
        "cifar_resnet samples": sample_specs(load_space("cifar_resnet"), 1000, seed=0)[0],
        "16 spec files x 1000 args": [str(files[i % 16]) for i in range(1000)],
        "1000 distinct spec files": [str(f) for f in distinct],
    }
    for name, specs in cases.items():
        walls, cpus = [], []
        for _ in range(args.runs):
            if hasattr(predict_module, "_PARTS"):
                predict_module._PARTS = predict_module.PartCache()
            wall, cpu = time.perf_counter(), time.process_time()
            preds = predict_specs(model, specs)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        w = statistics.median(walls)
        print(f"{name}: median {w:.3f} s wall ({statistics.median(cpus):.3f} s CPU) over {args.runs} runs, "
              f"{len(preds) / w:.0f} predictions/s; sum of p50 {math.fsum(p.p50_ms for p in preds):.4f} ms")


if __name__ == "__main__":
    main()

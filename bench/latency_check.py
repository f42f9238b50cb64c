"""How well a profile predicts: held-out networks drawn from the design space, predicted, then measured by `bench`.

    .venv/bin/python bench/latency_check.py --profile profile.jsonl --specs 16 --seed 1000 --out docs/data/latency

Draws ``--specs`` networks with a seed the profile's space did not use (plus the named presets), writes
them as spec files, predicts each from the profile (and by the MACs-times-one-rate baseline), then
measures each with the harness (same backend, precision, batch and threads as the profile; interleaved
rounds) and prints both errors per network and the share within 10 % and 20 %.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

from resgraph.bench import TimingConfig, plan, run_sweep
from resgraph.entries import spec_entry
from resgraph.latency.predict import load_model, predict_specs
from resgraph.latency.space import draw_spec
from resgraph.spec import dump_spec, load_spec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", type=Path, required=True)
    ap.add_argument("--specs", type=int, default=16, help="networks drawn from the design space")
    ap.add_argument("--seed", type=int, default=1000, help="their seed (the default space draws with seed 0)")
    ap.add_argument("--presets", default="resnet18,resnet34,resnet50,resnet20,resnet56,resnet110,seresnet50")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved rounds of the measurement")
    ap.add_argument("--out", type=Path, default=Path("latency-check"))
    args = ap.parse_args()

    model = load_model(args.profile)
    h = model.profile.header
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    refs = [p for p in args.presets.split(",") if p]
    for i in range(args.specs):
        spec = draw_spec(rng, f"heldout{args.seed}_{i}")
        path = args.out / f"{spec.name}.yaml"
        path.write_text(dump_spec(spec), encoding="utf-8")
        refs.append(str(path))
    preds = {p.spec: p for p in predict_specs(model, refs)}
    entries = [spec_entry(load_spec(r)) for r in refs]
    results = args.out / "measured.jsonl"
    results.unlink(missing_ok=True)
    recs = run_sweep(plan(entries, [h.backend], [h.batch], [h.precision], h.device), results,
                     timing=TimingConfig(warmup=3, iters=20, min_time_s=0.3, repeat=args.repeat),
                     threads=h.threads, roofline=False)
    rows = []
    for r in recs:
        if r.status != "ok" or not r.p50_ms:
            continue
        p = preds[r.spec]
        rows.append({"spec": r.spec, "measured_ms": r.p50_ms, "predicted_ms": p.p50_ms, "low_ms": p.low_ms,
                     "high_ms": p.high_ms, "macs_rate_ms": p.macs_baseline_ms, "regressed": p.regressed,
                     "unstable": r.unstable, "model_err": p.p50_ms / r.p50_ms - 1,
                     "macs_err": (p.macs_baseline_ms or 0) / r.p50_ms - 1})
    (args.out / "check.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"{'spec':<22} {'measured':>9} {'predicted':>9} {'interval':>17} {'err':>7} {'MACs-rate':>9} {'err':>7} "
          f"{'regr':>4}")
    for x in rows:
        print(f"{x['spec']:<22} {x['measured_ms']:9.3f} {x['predicted_ms']:9.3f} "
              f"{x['low_ms']:8.3f}-{x['high_ms']:<8.3f} {x['model_err']:+7.1%} {x['macs_rate_ms']:9.3f} "
              f"{x['macs_err']:+7.1%} {x['regressed']:4d}" + ("  unstable" if x["unstable"] else ""))
    for name, key in (("latency model", "model_err"), ("MACs x one rate", "macs_err")):
        errs = [abs(x[key]) for x in rows]
        print(f"{name}: median |error| {statistics.median(errs):.1%}, within 10 % {sum(e <= 0.1 for e in errs)}"
              f"/{len(errs)}, within 20 % {sum(e <= 0.2 for e in errs)}/{len(errs)}, worst {max(errs):.1%}")
    inside = sum(x["low_ms"] <= x["measured_ms"] <= x["high_ms"] for x in rows)
    print(f"measured inside the 90 % interval: {inside}/{len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

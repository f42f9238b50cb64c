"""Do two back-to-back sweeps agree? The same drawn networks benchmarked twice, row by row.

    .venv/bin/python bench/repro_check.py --specs 40 --seed 2020 --out docs/data/repro

Draws ``--specs`` networks from the design space (``resgraph.latency.space.draw_spec``, fixed seed),
writes them as spec files, runs ``resgraph bench`` on them twice back to back (onnxruntime fp32,
batch 1, 2 threads unless told otherwise) into ``run1.jsonl`` and ``run2.jsonl``, then pairs the
rows by key and prints the share within +-10 % of each other, and whether every pair outside that
has a row flagged ``unstable`` (and why). ``--analyse`` only re-reads the two files.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

from resgraph.bench.record import load_results
from resgraph.latency.space import draw_spec
from resgraph.spec import dump_spec

TOLERANCE = 0.10


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--repeat", default="1")
    ap.add_argument("--out", type=Path, default=Path("repro-check"))
    ap.add_argument("--analyse", action="store_true", help="only compare the two runs already in --out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [args.out / "run1.jsonl", args.out / "run2.jsonl"]
    if not args.analyse:
        rng = random.Random(args.seed)
        folder = args.out / "specs"
        folder.mkdir(exist_ok=True)
        files = []
        for i in range(args.specs):
            path = folder / f"repro{args.seed}_{i}.yaml"
            path.write_text(dump_spec(draw_spec(rng, path.stem)), encoding="utf-8")
            files.append(str(path))
        for run in runs:
            run.unlink(missing_ok=True)
            cmd = [str(Path(sys.executable).parent / "resgraph"), "bench", *files, "--backend", args.backend, "--batch", "1",
                   "--threads", args.threads, "--repeat", args.repeat, "--no-roofline", "--out", str(run)]
            print(" ".join(["resgraph", "bench", f"<{len(files)} specs>", *cmd[2 + len(files):]]), file=sys.stderr)
            subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    return analyse(*runs)


def analyse(a_path: Path, b_path: Path) -> int:
    a = {r.key: r for r in load_results(a_path) if r.status == "ok"}
    b = {r.key: r for r in load_results(b_path) if r.status == "ok"}
    keys = [k for k in a if k in b]
    within, outside, unexplained = 0, [], []
    for k in keys:
        ra, rb = a[k], b[k]
        ratio = rb.p50_ms / ra.p50_ms
        if abs(ratio - 1) <= TOLERANCE:
            within += 1
            continue
        flagged = [f"run{i + 1}: {r.unstable}" for i, r in enumerate((ra, rb)) if r.unstable]
        outside.append((ra.spec, ratio, flagged))
        if not flagged:
            unexplained.append(ra.spec)
    flagged_rows = sum(bool(r.unstable) for r in (*a.values(), *b.values()))
    print(f"{len(keys)} pairs: {within} ({within / max(len(keys), 1):.0%}) within +-{TOLERANCE:.0%}; "
          f"{len(outside)} outside, {len(outside) - len(unexplained)} of them with a flagged row; "
          f"{flagged_rows} of {2 * len(keys)} rows flagged in all")
    for spec, ratio, flagged in outside:
        print(f"  {spec}: run2/run1 {ratio:.2f}: {'; '.join(flagged) or 'NOT FLAGGED'}")
    return 0 if not unexplained and within >= 0.95 * len(keys) else 1


if __name__ == "__main__":
    raise SystemExit(main())

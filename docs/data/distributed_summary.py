"""Summarise the runs of docs/distributed.md: wall time, per-row overhead of isolation, p50 agreement.

usage: python docs/data/distributed_summary.py BASE.jsonl OTHER.jsonl [OTHER.jsonl ...]
Each OTHER is compared row by row with BASE (same spec, backend, batch).
"""

import json
import statistics
import sys


def rows(path):
    with open(path, encoding="utf-8") as f:
        return {(r["spec"], r["backend"], r["batch"]): r for r in map(json.loads, f) if r.get("status") == "ok"}


base_path, *others = sys.argv[1:]
base = rows(base_path)
print(f"{base_path}: {len(base)} ok rows, sum of row wall_s {sum(r['wall_s'] for r in base.values()):.1f} s")
for path in others:
    other = rows(path)
    keys = sorted(base.keys() & other.keys())
    extra = [other[k]["wall_s"] - base[k]["wall_s"] for k in keys]
    ratio = [other[k]["p50_ms"] / base[k]["p50_ms"] for k in keys]
    print(f"{path}: {len(other)} ok rows, sum of row wall_s {sum(r['wall_s'] for r in other.values()):.1f} s; "
          f"row wall_s minus {base_path}'s: median {statistics.median(extra):+.3f} s "
          f"(min {min(extra):+.3f}, max {max(extra):+.3f}); p50 / base p50: median {statistics.median(ratio):.3f} "
          f"(min {min(ratio):.3f}, max {max(ratio):.3f})")

#!/bin/bash
# The runs of docs/distributed.md, from the repository root: bash docs/data/distributed_runs.sh [OUT_DIR]
# Two passes of the same 12-row sweep, four ways each: "overhead" times almost nothing (1 call per row),
# so a row's wall time is mostly what isolation adds; "full" uses the default timing.
set -u
OUT=${1:-docs/data/distributed}
SWEEP="resnet20 resnet32 resnet44 --backend eager,channels_last --batch 1,8 --threads 1 --no-roofline"
for pass in overhead full; do
  if [ $pass = overhead ]; then T="--warmup 0 --iters 1 --min-time 0"; else T=""; fi
  for mode in in-process isolated workers1 workers2; do
    case $mode in in-process) M="--in-process";; isolated) M="";; workers1) M="--workers 1";; workers2) M="--workers 2";; esac
    rm -f "$OUT/$pass-$mode.jsonl"
    echo "== $pass $mode: loadavg before $(cat /proc/loadavg)"
    /usr/bin/time -f "wall %e s" resgraph bench $SWEEP $T $M --out "$OUT/$pass-$mode.jsonl" > "$OUT/$pass-$mode.txt" 2>&1
    tail -1 "$OUT/$pass-$mode.txt"
    rm -f "$OUT/$pass-$mode.txt"
    echo "   loadavg after $(cat /proc/loadavg)"
  done
done

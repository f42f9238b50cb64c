#!/usr/bin/env bash
# The measured search of docs/search.md: the budget is resnet34's p50 measured now, on the backend, batch and
# threads of the docs profile; then 500 trials of imagenet_resnet for the most MACs within it, the front's best
# 5 measured. Usage (from the repository root, .venv built, nothing else running): bash docs/data/search/run.sh [PROFILE]
set -euo pipefail
rg=${VIRTUAL_ENV:-.venv}/bin/resgraph
py=${VIRTUAL_ENV:-.venv}/bin/python
here=docs/data/search
profile=${1:-docs/data/search/profile-eager-fp32-b1.jsonl}  # made by: resgraph profile --backend eager --threads 2 -o FILE
rm -rf "$here/imagenet-eager" "$here/budget.jsonl"
uptime | tee "$here/load.txt"
"$rg" bench resnet34 --backend eager --batch 1 --threads 2 --repeat 3 --no-roofline --out "$here/budget.jsonl" \
    >/dev/null
budget=$("$py" -c "
from resgraph.bench.record import load_results
(r,) = load_results('$here/budget.jsonl'); print(round(r.p50_ms, 2))")
echo "budget: resnet34 eager fp32 b1 p50 = $budget ms" | tee -a "$here/load.txt"
start=$(date +%s)
"$rg" search imagenet_resnet --profile "$profile" --budget-ms "$budget" --objective macs --trials 500 \
    --verify 5 --reference resnet34 --seed 0 -o "$here/imagenet-eager" 2>&1 | tail -20
echo "search wall time: $(( $(date +%s) - start )) s" | tee -a "$here/load.txt"
uptime | tee -a "$here/load.txt"

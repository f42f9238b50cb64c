#!/usr/bin/env bash
# Wall time and peak RSS of front-end commands against importing their libraries alone, in one run.
# Usage (from the repository root, .venv built): bash docs/data/startup/measure.sh [runs]
set -euo pipefail
runs=${1:-7}
cd "$(mktemp -d)"
tmp=$(mktemp)
py=${VIRTUAL_ENV:-$OLDPWD/.venv}/bin/python
rg=${VIRTUAL_ENV:-$OLDPWD/.venv}/bin/resgraph
measure() {  # label, command...: the median wall time and the median peak RSS of $runs runs
  local label=$1; shift
  local t=() m=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$tmp" -f "%e %M" "$@" >/dev/null 2>&1
    out=$(tail -1 "$tmp")
    t+=("${out% *}"); m+=("${out#* }")
  done
  printf '%-36s %6s s %7s MB\n' "$label" \
    "$(printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")" \
    "$(printf '%s\n' "${m[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" | awk '{printf "%.0f", $1/1024}')"
}
uptime
measure "baseline: import pydantic, yaml, networkx, click" "$py" -c "import pydantic, yaml, networkx, click"
measure "resgraph --help" "$rg" --help
measure "resgraph validate resnet18" "$rg" validate resnet18
measure "resgraph summary resnet50" "$rg" summary resnet50
measure "resgraph graph resnet50 -o x.dot" "$rg" graph resnet50 -o x.dot
measure "import torch (for scale)" "$py" -c "import torch"
uptime

#!/usr/bin/env bash
# The GPU check: the sweep a lent CUDA GPU runs, its records and docs/results-gpu.md.
#
#   bash bench/gpu_check.sh              # on the GPU machine, from anywhere in the checkout
#   bash bench/gpu_check.sh --dry-run    # anywhere, no GPU needed: list every row, measure nothing
#
# resnet18, resnet50, resnet152 at batch 1, 8, 64, one `resgraph bench` per group below, in this
# order, all appending to one results file (--resume, so a re-run only measures what is missing):
#   eager        eager fp32, with --torchvision (torchvision's own model beside each spec)  18 rows
#   layouts      channels_last, cuda_graphs fp32                                            18 rows
#   amp_fp16     amp_fp16 (torch.autocast fp16)                                              9 rows
#   amp_bf16     amp_bf16 (torch.autocast bf16)                                              9 rows
#   inductor     inductor (torch.compile) fp32                                               9 rows
#   tensorrt     tensorrt fp16, int8 (int8 is recorded skipped: the backend offers fp32, fp16)  18 rows
# 81 rows. A backend that can't run there (torch-tensorrt not installed, no C++ compiler) gets its
# rows recorded `skipped` with the reason, by the harness.
#
# Time budget (--budget, default 480 s = 8 min). NOT MEASURED: no GPU has been lent to this project,
# so these are estimates. Rows of the first four groups should take a few seconds each (~2-3 min in
# all); inductor compiles each (spec, batch) afresh (tens of seconds, resnet152 the longest), and a
# TensorRT engine build is of the same order. Each group gets what is left of the budget and is
# stopped when it runs out (rows already finished are on disk); each row is capped by --row-timeout
# (default 120 s) and recorded failed past it. Rows run spec by spec, batch 64 last, so what is
# dropped first is tensorrt (the last group), then inductor's resnet152 rows (b64 first to go).
# The rows not measured are listed in the doc; run the same command again to measure them.
#
# Writes: OUT/sweep.jsonl (records), OUT/tables/ (`resgraph report`: results.md, results.csv, plots),
# and DOC, which begins with the machine, the budget, each group's exit status and the rows left.
# --dry-run writes nothing: each group's `resgraph bench --dry-run`, in order, in one Python process.
# Exit: 2 on a usage error or no CUDA GPU, else 0 once the doc is written (each group's own exit status,
# e.g. 3 when a row failed or every row was skipped, is in the doc and on stderr).
set -euo pipefail

usage="usage: bash bench/gpu_check.sh [--dry-run] [--device cuda|cuda:N|cpu] [--budget S] [--row-timeout S] [--out DIR] [--doc FILE]"
dry_run=0 device=cuda budget=480 row_timeout=120 out=docs/data/gpu doc=docs/results-gpu.md
while (($#)); do
  case $1 in
    --dry-run) dry_run=1 ;;
    --device|--budget|--row-timeout|--out|--doc)
      (($# >= 2)) || { echo "gpu_check: $1 needs a value; $usage" >&2; exit 2; }
      case $1 in --device) device=$2 ;; --budget) budget=$2 ;; --row-timeout) row_timeout=$2 ;;
        --out) out=$2 ;; --doc) doc=$2 ;; esac
      shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "gpu_check: unknown option '$1'; $usage" >&2; exit 2 ;;
  esac
  shift
done
for v in budget row_timeout; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "gpu_check: --${v/_/-} must be whole seconds, not '${!v}'" >&2; exit 2; }
done

cd "$(dirname "$0")/.."
rg=${RESGRAPH:-}
[[ -n $rg ]] || { [[ -x .venv/bin/resgraph ]] && rg=.venv/bin/resgraph || rg=resgraph; }
py=$(dirname "$(command -v "$rg")")/python

specs=(resnet18 resnet50 resnet152)
batches=1,8,64
groups=(eager layouts amp_fp16 amp_bf16 inductor tensorrt)
declare -A args=(
  [eager]="--backend eager --precision fp32 --torchvision"
  [layouts]="--backend channels_last,cuda_graphs --precision fp32"
  [amp_fp16]="--backend amp_fp16 --precision fp16"
  [amp_bf16]="--backend amp_bf16 --precision bf16"
  [inductor]="--backend inductor --precision fp32"
  [tensorrt]="--backend tensorrt --precision fp16,int8"
)
results=$out/sweep.jsonl

bench_cmd() {  # bench_cmd GROUP [extra flags...]: that group's `resgraph bench`, into the array cmd
  local g=$1; shift
  # shellcheck disable=SC2206  # the group's flags are words
  cmd=("$rg" bench "${specs[@]}" ${args[$g]} --batch "$batches" --device "$device"
       --out "$results" --resume --row-timeout "$row_timeout" "$@")
}

dry_runs() {  # every group's `bench --dry-run`, in one Python process: torch is imported once, not six times
  local g all=()
  for g in "${groups[@]}"; do bench_cmd "$g" --dry-run; all+=(:: "$g" "${cmd[@]:1}"); done
  "$py" - "${all[@]}" <<'EOF'
import sys

from resgraph.cli import main

argv, worst = sys.argv[1:], 0
while argv:  # :: GROUP bench ARGS... per group
    end = argv.index("::", 1) if "::" in argv[1:] else len(argv)
    group, args, argv = argv[1], argv[2:end], argv[end:]
    print(f"== {group}: resgraph {' '.join(args)}", flush=True)
    try:  # not standalone: click returns an exit code (a usage error's 2) instead of leaving
        code = main.main(args, prog_name="resgraph", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    worst = max(worst, code if isinstance(code, int) else 0 if code is None else 1)
sys.exit(worst)
EOF
}

if ((dry_run)); then dry_runs; exit; fi

[[ $device == cuda* ]] || { echo "gpu_check: --device $device measures no GPU; use it with --dry-run only" >&2; exit 2; }
gpu=$("$py" -c 'import sys, torch
if not torch.cuda.is_available(): sys.exit(1)
print(torch.cuda.get_device_name())' 2>/dev/null) || {
  echo "gpu_check: no CUDA GPU visible to torch (torch.cuda.is_available() is False); use --dry-run to list the rows" >&2
  exit 2
}

mkdir -p "$out"
start=$SECONDS status=()
for g in "${groups[@]}"; do
  left=$((budget - (SECONDS - start)))
  if ((left < 20)); then status+=("| $g | not run: budget spent |"); continue; fi
  echo "== $g (${left} s of the budget left)" >&2
  bench_cmd "$g"; rc=0; timeout -k 15 "$left" "${cmd[@]}" || rc=$?
  case $rc in 0) note="ok" ;; 3) note="exit 3: a row failed, mismatched, or all were skipped" ;;
    124|137) note="stopped: budget spent" ;; *) note="exit $rc" ;; esac
  status+=("| $g | $note |"); echo "gpu_check: $g: $note" >&2
done
took=$((SECONDS - start))

left_rows=$(dry_runs 2>/dev/null | awk '/ row [0-9]+ of /{print "- `" $1 "`"}' || true)
[[ -s $results ]] && "$rg" report "$results" -o "$out/tables"  # no record at all: the doc says so below
{
  echo "# Measured results: GPU"; echo
  echo "Measured by \`bash bench/gpu_check.sh\` on $gpu ($(hostname)), $(date -u +%Y-%m-%dT%H:%MZ), in ${took} s"
  echo "of a ${budget} s budget, rows capped at ${row_timeout} s. Records: \`$results\`; tables, CSV and plots:"
  echo "\`$out/tables/\` (\`resgraph report $results -o $out/tables\` rebuilds them)."; echo
  echo "| group | outcome |"; echo "|---|---|"; printf '%s\n' "${status[@]}"; echo
  if [[ -n $left_rows ]]; then echo "Rows without a finished record (budget spent or row timed out; run"
    echo "\`bash bench/gpu_check.sh\` again to measure them):"; echo "$left_rows"
  else echo "Every row has a record."; fi; echo
  if [[ -s $results ]]; then sed '1s/^# .*/## Tables/' "$out/tables/results.md"; else echo "No row has a record."; fi
} >"$doc"
echo "gpu_check: wrote $doc, $results and $out/tables/ in ${took} s" >&2

#!/usr/bin/env bash
# Parallel recipe screening on one GPU (docs/training-recipes.md, "GPU screen").
#   benchmarks/gpu_screen.sh start SPEC RUNS SECONDS [common vosgan-train flags...]
#     starts one `vosgan train` per line "name|flags" of SPEC, all at once, in RUNS/name, each in its
#     own session (it outlives the calling shell) and stopped by SIGTERM after SECONDS: the trainer
#     saves its checkpoint on the signal and the evaluation log holds every --evaluate-every row.
#   benchmarks/gpu_screen.sh collect RUNS OUT [TOP]
#     prints the screening table, writes it and every run's logs, configs and last sample grid to
#     OUT/logs.tar.gz, and exports (half precision) the best.pt of the TOP (default 4) runs by val J.
set -u
verb=$1; shift
case $verb in
start)
  spec=$1 runs=$2 seconds=$3; shift 3
  mkdir -p "$runs"
  grep -v '^#' "$spec" | while IFS='|' read -r name flags; do
    [ -z "$name" ] && continue
    mkdir -p "$runs/$name"; echo "$flags" > "$runs/$name/flags.txt"
    # shellcheck disable=SC2086
    setsid nohup timeout -s TERM "$seconds" python3 -m vosgan train "$@" --out "$runs/$name" $flags \
      > "$runs/$name/log.txt" 2>&1 < /dev/null &
  done
  ;;
collect)
  runs=$1 out=$2 top=${3:-4}
  mkdir -p "$out"
  python3 -m vosgan.experiments.screening "$runs"/*/ | tee "$out/table.md"
  (cd "$runs" && tar czf "$out/logs.tar.gz" $(find ./*/ -maxdepth 1 -type f ! -name '*.pt') \
    $(for r in */; do find "$r"samples -name '*.png' 2>/dev/null | sort | tail -1; done))
  python3 - "$runs" "$out" "$top" <<'PY'
import json, sys
from pathlib import Path
from vosgan.data.io import read_jsonl
from vosgan.models.checkpoint import export_weights
runs, out, top = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
best = {r.name: max(e["J"] for e in read_jsonl(r / "evaluation.jsonl"))
        for r in runs.iterdir() if (r / "best.pt").exists() and (r / "evaluation.jsonl").exists()}
for name in sorted(best, key=best.get, reverse=True)[:top]:
    export_weights(runs / name / "best.pt", out / f"{name}.pt", half=True)
    print(f"exported {name} (best val J {best[name]:.3f})")
PY
  ;;
*) echo "usage: $0 start SPEC RUNS SECONDS [flags] | collect RUNS OUT [TOP]" >&2; exit 2 ;;
esac

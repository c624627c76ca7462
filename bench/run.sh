#!/usr/bin/env bash
# The benchmark table in bench/README.md: for each validator count, open-loop max,
# then half of the measured max rate (the finality figures). One JSON line per run
# is appended to results/bench-runs.jsonl; result.json + bench.png per run land in
# results/<name>/.
#
#   bench/run.sh              # N=4 and N=1, 30 s each
#   bench/run.sh 1            # N=1 only
#   DURATION=20 bench/run.sh 1 4
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30}
ACCOUNTS=${ACCOUNTS:-10000}
PY=${PYTHON:-python3}
SETTLE=("$PY" -m cli)
mkdir -p results
[ $# -gt 0 ] || set -- 4 1

for n in "$@"; do
  stamp=$(date +%Y%m%d-%H%M%S)
  echo "== $n validator(s): open-loop max for ${DURATION}s" >&2
  "${SETTLE[@]}" bench --validators "$n" --accounts "$ACCOUNTS" --duration "$DURATION" --rate 0 \
    --json --out "results/n$n-max-$stamp" | tee -a results/bench-runs.jsonl
  half=$("$PY" -c "import json; print(max(1, int(json.load(open('results/n$n-max-$stamp/result.json'))['tx_per_s'] / 2)))")
  echo "== $n validator(s): ${half} tx/s (half of max) for ${DURATION}s" >&2
  "${SETTLE[@]}" bench --validators "$n" --accounts "$ACCOUNTS" --duration "$DURATION" --rate "$half" \
    --json --out "results/n$n-half-$stamp" | tee -a results/bench-runs.jsonl
done

"$PY" - <<'PYEOF'
import json
rows = [json.loads(l) for l in open("results/bench-runs.jsonl") if l.strip()]
print("\n| validators | load | tx/s | limit tx/s | ratio | finality p50 / p90 / p99 ms | exactly once | agree | other CPU % |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows[-8:]:
    load = "max" if r["mode"] == "max" else f"{r['offered_rate']:.0f} tx/s"
    print(f"| {r['validators']} | {load} | {r['tx_per_s']:,.0f} | {r['limit_tx_per_s']:,.0f} | {r['ratio_to_limit']:.3f} "
          f"| {r['finality_p50_ms']:.0f} / {r['finality_p90_ms']:.0f} / {r['finality_p99_ms']:.0f} | {r['committed_exactly_once']} "
          f"| {r['all_nodes_agree']} | {r.get('foreign_cpu_percent')} |")
print(f"\nmachine: {rows[-1]['cores']} cores, {rows[-1]['cpu_model']}")
PYEOF

"""`settle bench --smoke`: the harness runs end to end and its correctness checks hold.

Asserts correctness only (every submitted transaction committed exactly once,
all nodes agree, the JSON keys, the files written), never speed: speed is a
figure to report, not a test to time.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.nodeproc import ROOT

KEYS = {
    "validators", "tx_per_s", "limit_tx_per_s", "ratio_to_limit", "finality_p50_ms", "finality_p90_ms", "finality_p99_ms",
    "committed", "submitted", "accepted", "all_nodes_agree", "committed_exactly_once", "cores", "cpu_model",
    "block_time_ms", "txs_per_block", "nodes",
}


def test_bench_smoke_commits_every_tx_once_and_nodes_agree(tmp_path):
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "cli",  # as bench/run.sh runs it
           "bench", "--validators", "1", "--smoke", "--json", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stdout[-2000:]
    res = json.loads(lines[0])
    assert KEYS <= set(res), KEYS - set(res)
    assert res["validators"] == 1
    assert res["submitted"] > 0
    assert res["accepted"] == res["submitted"]
    assert res["committed"] == res["accepted"]
    assert res["committed_exactly_once"] is True
    assert res["checks"]["duplicates"] == 0 and res["checks"]["missing"] == 0
    assert res["checks"]["tx_index_sample"] > 0 and res["checks"]["tx_index_sample_bad"] == 0
    assert res["all_nodes_agree"] is True
    assert res["finality_samples"] == res["committed"]
    assert res["tx_per_s"] > 0 and res["limit_tx_per_s"] > 0 and res["ratio_to_limit"] > 0
    assert res["finality_p50_ms"] <= res["finality_p90_ms"] <= res["finality_p99_ms"]
    assert res["nodes"][0]["rss_mb_max"] > 0
    # the probe timed libsodium while the load ran (a process of its own)
    assert res["verify_samples_during_load"] >= 1 and res["verify_us_during_load"] > 0
    assert res["machine_speed_during_load"] > 0 and res["ratio_to_limit_at_load_speed"] > 0
    saved = json.loads((out / "result.json").read_text())
    assert saved["committed"] == res["committed"] and saved["series"]
    png = out / "bench.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

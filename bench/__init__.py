"""``settle bench``: settled tx/s and finality latency of a local network, against this machine's limit.

Modules, in the order a run uses them:

* :mod:`.machine` — the machine's description and its Ed25519 limit;
* :mod:`.network` — N validator processes started as ``settle devnet up`` does;
* :mod:`.presign`, :mod:`.loadgen` — the load generator process: pre-signing,
  submission, finality over the WebSocket;
* :mod:`.checks` — exactly-once checks and the figures;
* :mod:`.procstat` — CPU and RSS from ``/proc``;
* :mod:`.harness` — the run, start to clean stop;
* :mod:`.report` — ``result.json``, the summary table and the plot.

The command itself lives in :mod:`cli.bench`.
"""
from .harness import BenchConfig, run_bench
from .network import BenchError
from .report import build_result, print_summary, write_outputs

__all__ = ["BenchConfig", "BenchError", "build_result", "print_summary", "run_bench", "write_outputs"]

"""Fault injection with a history checker (``settle chaos``, ``pytest -m chaos``).

Owns chaos runs against a local network of real validator processes: the
proxied links (:mod:`.proxy`), per-node faults (:mod:`.cluster`), the
seeded nemesis (:mod:`.nemesis`), the client workload and its history
(:mod:`.workload`), the checker (:mod:`.checker`) and one run end to end
(:mod:`.harness`).  Never changes a node's code or rules: faults come from
outside (signals, sockets, a full tmpfs, libfaketime).
"""
from .harness import ChaosConfig, print_report, run_chaos

__all__ = ["ChaosConfig", "print_report", "run_chaos"]

"""The machine's speed while the load runs: libsodium's cost per verification, sampled.

The limit (:mod:`.machine`) is measured before and after the run, with the
nodes stopped.  On a shared VM the same code then gave 0.33 to 0.44 of it from
one run to the next, and the nodes' own verifications cost 62-77 us during the
load against 55-60 us in the limit's rounds: the machine itself ran slower.
This probe says by how much, in the same run: a process of its own (a thread
of the harness would wait for the harness's GIL and count that wait), which
every ``period`` seconds times ``batch`` verifications of the limit's
kind in CPU time
(``time.thread_time``, so waiting for a core does not count; sharing it does).
At the defaults it uses ~0.6 % of a core.

Run by the harness as ``python -m bench.probe``: it measures from the
line ``go`` on stdin until the line ``stop`` (or the end of stdin), then
prints one JSON object: ``{"samples": n, "us_per_verify": median}``.
"""
from __future__ import annotations

import json
import statistics
import sys
import threading
import time

import nacl.bindings

from .machine import verify_cases

__all__ = ["sample_verify_us", "main"]


def sample_verify_us(cases: list[tuple[bytes, bytes]]) -> float:
    """CPU microseconds per ``crypto_sign_open`` over one pass of ``cases``, in this thread."""
    open_ = nacl.bindings.crypto_sign_open
    t = time.thread_time()
    for signed, pk in cases:
        open_(signed, pk)
    return (time.thread_time() - t) / len(cases) * 1e6


def main(period: float = 0.5, batch: int = 50) -> int:
    cases = verify_cases(n=batch)  # the limit's own cases (:mod:`.machine`), fewer of them
    if sys.stdin.readline().strip() != "go":
        return 0
    done = threading.Event()

    def wait_stop() -> None:
        sys.stdin.readline()  # "stop", or "" at the end of stdin
        done.set()

    threading.Thread(target=wait_stop, daemon=True).start()
    samples: list[float] = []
    while not done.wait(period):
        samples.append(sample_verify_us(cases))
    print(json.dumps({"samples": len(samples), "us_per_verify": round(statistics.median(samples), 2) if samples else None}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*(float(a) for a in sys.argv[1:2]), *(int(a) for a in sys.argv[2:3])))

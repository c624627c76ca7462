"""What this machine can do: its description and its Ed25519 verification limit.

Owns the benchmark's yardstick.  Every validator verifies every transaction's
signature once, so a network of N validators sharing this machine cannot
settle more than ``verifications per second per core x cores / N``
transactions per second, whatever else it does.  The rate is measured with
libsodium through PyNaCl (``crypto_sign_open``, the fastest verifier available
here), on one core, in this process, on signatures of tx-sized messages.

Never starts processes or touches the network.
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import nacl.bindings
import nacl.signing

__all__ = ["ed25519_verify_rate", "machine_info", "limit_tx_per_s", "verify_cases"]


def machine_info() -> dict:
    """Cores, CPU model, memory, OS and Python: enough to compare runs."""
    model = "unknown"
    mhz = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model == "unknown":
                model = value.strip()
            elif key == "cpu MHz" and mhz is None:
                mhz = float(value)
    except (OSError, ValueError):
        pass
    mem_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
                break
    except (OSError, ValueError):
        pass
    return {
        "cores": os.cpu_count() or 1,
        "cpu_model": model,
        "cpu_mhz": mhz,
        "mem_total_mb": mem_mb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pynacl": nacl.__version__,
    }


def verify_cases(msg_len: int = 150, n: int = 64) -> list[tuple[bytes, bytes]]:
    """``n`` (signature || message, public key) pairs of ``msg_len``-byte messages, each checked once.

    Raises:
        RuntimeError: libsodium rejected a valid signature (a broken install).
    """
    cases = []
    for i in range(n):
        key = nacl.signing.SigningKey(bytes([i + 1]) * 32)
        msg = bytes([i]) * msg_len
        cases.append((key.sign(msg).signature + msg, bytes(key.verify_key)))
    for signed, pk in cases:
        if nacl.bindings.crypto_sign_open(signed, pk) != signed[64:]:
            raise RuntimeError("libsodium did not verify a valid signature")
    return cases


def ed25519_verify_rate(seconds: float = 1.0, *, msg_len: int = 150) -> float:
    """Ed25519 verifications per second on one core (this thread) for ``seconds``.

    Args:
        seconds: how long to measure (at least 0.05 s).
        msg_len: message size in bytes; 150 is a transfer's sign-bytes.

    Returns:
        Verifications per second.

    Raises:
        RuntimeError: libsodium rejected a valid signature (a broken install).
    """
    cases = verify_cases(msg_len)
    open_ = nacl.bindings.crypto_sign_open
    # The best of a few rounds: a neighbour's burst on a shared machine lowers one round, never raises it.
    rounds = 4 if seconds >= 0.4 else 1
    best = 0.0
    for _ in range(rounds):
        done = 0
        start = time.perf_counter()
        deadline = start + max(0.05, seconds / rounds)
        now = start
        while now < deadline:
            for signed, pk in cases:
                open_(signed, pk)
            done += len(cases)
            now = time.perf_counter()
        best = max(best, done / (now - start))
    return best


def limit_tx_per_s(verify_per_core: float, cores: int, validators: int) -> float:
    """Settled tx/s this machine allows: each validator verifies each tx once."""
    return verify_per_core * cores / max(1, validators)

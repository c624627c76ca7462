"""Child process of ``test_safety_sigkill.py``: signs in a loop through the file-backed store.

Usage: ``python -m tests.consensus.safety_signer_child PATH INCARNATION START_HEIGHT KILL``

For heights from START_HEIGHT, rounds 0-1 and steps propose/prevote/precommit
it asks ``SafetyRules`` to sign a block id that depends on INCARNATION, so a
restarted incarnation always wants *different* bytes for a (height, round,
step) an earlier one signed.  Each released signature is printed (flushed) as
``signed H R STEP SIGNBYTES SIG``; each refusal as ``refused H R STEP``.

KILL is ``-`` (run until killed from outside) or ``fsync:N`` / ``pwrite:N`` /
``after-pwrite:N``: SIGKILL itself just before the N-th ``os.fsync``, just
before the N-th ``os.pwrite`` (a slot write), or just after it -- the instants
inside ``FileSafetyStorage.save`` where a crash is most interesting.
"""
from __future__ import annotations

import hashlib
import os
import signal
import sys

from consensus.interfaces import ProposalRequest, SafetyError, VoteRequest
from consensus.safety import SafetyRules
from ledger.keys import PrivateKey
from node.safety_store import FileSafetyStorage
from ledger.commit import proposal_sign_bytes, vote_sign_bytes

CHAIN = "sigkill-test"
KEY = PrivateKey.from_name("sigkill-validator")


def arm(kill: str) -> None:
    if kill == "-":
        return
    where, n = kill.split(":")
    count = {"n": 0}

    def wrap(real, before: bool):
        def hooked(*args):
            count["n"] += 1
            if before and count["n"] == int(n):
                os.kill(os.getpid(), signal.SIGKILL)
            result = real(*args)
            if not before and count["n"] == int(n):
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return hooked

    name = where.removeprefix("after-")
    setattr(os, name, wrap(getattr(os, name), name == where))


def main() -> None:
    path, incarnation, start, kill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    arm(kill)
    signer = SafetyRules(KEY, FileSafetyStorage(path), CHAIN)
    for h in range(start, start + 300):
        for r in (0, 1):
            for step in (1, 2, 3):
                block = hashlib.sha256(f"{incarnation}/{h}/{r}/{step}".encode()).digest()
                try:
                    if step == 1:
                        sig = signer.sign_proposal(ProposalRequest(h, r, block, -1))
                        msg = proposal_sign_bytes(CHAIN, h, r, block, -1)
                    else:
                        sig = signer.sign_vote(VoteRequest(step - 1, h, r, block))
                        msg = vote_sign_bytes(CHAIN, step - 1, h, r, block)
                except SafetyError:
                    print(f"refused {h} {r} {step}", flush=True)
                    continue
                print(f"signed {h} {r} {step} {msg.hex()} {sig.hex()}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()

"""Run ``settle`` on a pseudo-terminal, as a person at a terminal would: for tests of what only a TTY shows."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def on_terminal(args, answers=(), env: dict | None = None, timeout: float = 60) -> tuple[int, str]:
    """``(exit code, everything the terminal showed)`` of ``settle ARGS`` run on a pseudo-terminal.

    Each ``(prompt, reply)`` of ``answers`` is typed once ``prompt`` shows.  click writes a hidden
    prompt's text, then getpass switches echo off (flushing typed input) and writes the final
    space: match a hidden prompt with that space, so nothing typed is lost.  ``$SETTLE_PASSPHRASE``
    is not passed on unless ``env`` sets it.
    """
    leader, follower = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k != "SETTLE_PASSPHRASE"}
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args], stdin=follower, stdout=follower, stderr=follower, cwd=ROOT,
                            env={**base, "PYTHONUNBUFFERED": "1", "TERM": "xterm", "COLUMNS": "120", **(env or {})},
                            close_fds=True)
    os.close(follower)
    out, pending, seen = b"", list(answers), 0
    while True:
        ready, _, _ = select.select([leader], [], [], timeout)
        if not ready:  # hung (a prompt nobody answers): the exit code says so
            proc.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if pending and pending[0][0] in out[seen:]:
            seen = len(out)
            os.write(leader, pending.pop(0)[1])
    os.close(leader)
    return proc.wait(timeout), out.decode(errors="replace")

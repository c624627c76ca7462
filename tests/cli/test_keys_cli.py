"""``settle keygen --encrypt`` and ``settle keys list/encrypt/decrypt`` run for real (a small scrypt n).

Passphrases come from --passphrase-file, $SETTLE_PASSPHRASE, or the terminal's prompt; a wrong
one is one error line and exit 1 with the file untouched; on a terminal a live "deriving key"
line draws on stderr, and nothing does when piped or with --json.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.cli.terminal import on_terminal

ROOT = Path(__file__).resolve().parents[2]
FAST = ("--kdf-n", "1024")


def _settle(*args: str, home: Path, passphrase: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SETTLE_PASSPHRASE"}
    if passphrase is not None:
        env["SETTLE_PASSPHRASE"] = passphrase
    return subprocess.run([sys.executable, "-m", "cli", *args, "--home", str(home)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL, env={**env, "PYTHONUNBUFFERED": "1"})


def _ok(run: subprocess.CompletedProcess):
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _error_line(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 1, (run.stdout, run.stderr)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def test_keygen_encrypt_list_decrypt_encrypt_round_trip(tmp_path):
    home, pw = tmp_path / "home", tmp_path / "pw"
    pw.write_text("s3cret passphrase\r\nsecond line\n")  # the first line is the passphrase
    carol = _ok(_settle("keygen", "carol", "--encrypt", *FAST, "--passphrase-file", str(pw), "--json", home=home))
    dave = _ok(_settle("keygen", "dave", "--json", home=home))
    assert carol["encrypted"] and not dave["encrypted"]
    path = home / "keys" / "carol.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == "settle-keystore" and "seed" not in doc and doc["kdf"]["n"] == 1024
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = _ok(_settle("keys", "list", "--json", home=home))  # no passphrase needed
    assert listed == [{"name": "carol", "address": carol["address"], "encrypted": True},
                      {"name": "dave", "address": dave["address"], "encrypted": False}]

    plain = _ok(_settle("keys", "decrypt", "carol", "--json", home=home, passphrase="s3cret passphrase"))
    assert plain["address"] == carol["address"] and not plain["encrypted"]
    assert json.loads(path.read_text())["type"] == "ed25519" and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = _ok(_settle("keys", "encrypt", "carol", *FAST, "--json", home=home, passphrase="another"))
    assert again["address"] == carol["address"] and again["encrypted"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not list((home / "keys").glob("*.tmp"))
    assert "already encrypted" in _error_line(_settle("keys", "encrypt", "carol", *FAST, home=home, passphrase="x"))
    assert "not encrypted" in _error_line(_settle("keys", "decrypt", "dave", home=home, passphrase="x"))


def test_wrong_missing_or_empty_passphrase_is_one_error_line_and_the_file_stays(tmp_path):
    home = tmp_path / "home"
    _ok(_settle("keygen", "carol", "--encrypt", *FAST, "--json", home=home, passphrase="right"))
    before = (home / "keys" / "carol.json").read_bytes()
    line = _error_line(_settle("keys", "decrypt", "carol", home=home, passphrase="wrong"))
    assert line == "error: key 'carol': wrong passphrase, or the keystore was modified"
    line = _error_line(_settle("keys", "decrypt", "carol", home=home))  # no source and stdin is no terminal
    assert "is encrypted: give its passphrase with --passphrase-file or $SETTLE_PASSPHRASE" in line
    assert "empty passphrase" in _error_line(_settle("keys", "decrypt", "carol", home=home, passphrase=""))
    assert "empty passphrase" in _error_line(_settle("keygen", "erin", "--encrypt", *FAST, home=home, passphrase=""))
    assert (home / "keys" / "carol.json").read_bytes() == before and not (home / "keys" / "erin.json").exists()
    bad = _settle("keygen", "erin", "--encrypt", "--kdf-n", "1000", home=home, passphrase="x")
    assert bad.returncode == 2 and "power of two" in bad.stderr


def test_on_a_terminal_it_prompts_twice_and_shows_the_key_derivation(tmp_path):
    home = str(tmp_path / "home")
    code, text = on_terminal(["keygen", "carol", "--encrypt", "--kdf-n", "16384", "--home", home],
                              [(b"passphrase for carol: ", b"pw\n"), (b"Repeat for confirmation: ", b"pw\n")])
    assert code == 0, text
    assert "\x1b[?25l" in text and "deriving key for carol (scrypt n=16384)" in text  # the live line, cursor hidden
    code, text = on_terminal(["keys", "decrypt", "carol", "--json", "--home", home], env={"SETTLE_PASSPHRASE": "pw"})
    assert code == 0, text
    assert "deriving key" not in text and "\x1b[?25l" not in text and '"encrypted": false' in text


def test_piped_the_key_derivation_says_nothing(tmp_path):
    run = _settle("keygen", "carol", "--encrypt", *FAST, home=tmp_path / "home", passphrase="pw")
    assert run.returncode == 0 and run.stderr == "", run.stderr

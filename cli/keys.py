"""``settle keygen`` and ``settle keys``: the local keyring.

Owns the argument parsing and output of these commands; the keyring itself
(files, passphrases, the "deriving key" status) is ``cli.keyring`` and the
keystore format ``ledger.keystore``.  Never talks to a node.
"""
from __future__ import annotations

import click

from ledger import keystore
from ledger.keys import format_address

from .common import CLIError, emit, home_dir, home_opt, json_opt, kv_table, print_table
from .keyring import Keyring, passphrase_opt

__all__ = ["keygen", "keys"]

kdf_n_opt = click.option("--kdf-n", type=int, default=keystore.DEFAULT_PARAMS.n, show_default=True,
                         help="scrypt cost n of the encryption (a power of two; memory 1 KiB x n)")


def _params(kdf_n: int) -> keystore.ScryptParams:
    try:
        return keystore.ScryptParams(n=kdf_n)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kdf-n") from None


def _key_table(title: str, ring: Keyring, name: str, key, as_json: bool) -> None:
    out = {"name": name, "address": format_address(key.address), "file": str(ring.path(name)),
           "encrypted": ring.encrypted(name)}
    emit(out, as_json, lambda o: kv_table(title, list(o.items())))


@click.command()
@click.argument("name")
@click.option("--encrypt", is_flag=True, help="seal the key under a passphrase (scrypt + ChaCha20-Poly1305)")
@kdf_n_opt
@passphrase_opt
@home_opt
@json_opt
def keygen(name: str, encrypt: bool, kdf_n: int, home: str | None, as_json: bool) -> None:
    """Create a new named key in the keyring."""
    ring = Keyring(home_dir(home))
    try:
        key = ring.create(name, params=_params(kdf_n) if encrypt else None)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    _key_table("new key", ring, name, key, as_json)


@click.group()
def keys() -> None:
    """Inspect the keyring; encrypt or decrypt a key file."""


@keys.command("list")
@home_opt
@json_opt
def keys_list(home: str | None, as_json: bool) -> None:
    """Every key's name, address and whether it is encrypted (no passphrase asked)."""
    ring = Keyring(home_dir(home))
    try:
        rows = [{"name": n, "address": format_address(ring.address_of(n)), "encrypted": ring.encrypted(n)}
                for n in ring.names()]
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    emit(rows, as_json, lambda rows: print_table(("name", "address", "encrypted"), rows,
                                                 lambda r: (r["name"], r["address"], "yes" if r["encrypted"] else "no")))


@keys.command("encrypt")
@click.argument("name")
@kdf_n_opt
@passphrase_opt
@home_opt
@json_opt
def keys_encrypt(name: str, kdf_n: int, home: str | None, as_json: bool) -> None:
    """Rewrite a plain key file as an encrypted keystore (atomically, mode 0600)."""
    ring = Keyring(home_dir(home))
    try:
        key = ring.encrypt(name, _params(kdf_n))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    _key_table("encrypted key", ring, name, key, as_json)


@keys.command("decrypt")
@click.argument("name")
@passphrase_opt
@home_opt
@json_opt
def keys_decrypt(name: str, home: str | None, as_json: bool) -> None:
    """Rewrite an encrypted keystore as a plain key file (atomically, mode 0600)."""
    ring = Keyring(home_dir(home))
    try:
        key = ring.decrypt(name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    _key_table("decrypted key", ring, name, key, as_json)

"""Encrypted keystores: a round trip opens, and a wrong passphrase, any edited header field or
any flipped ciphertext byte fails with one error (the AEAD tag covers the header too)."""
from __future__ import annotations

import copy
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import keystore
from ledger.keys import KeyFileError, PrivateKey, format_address, write_key_file

FAST = keystore.ScryptParams(n=1 << 10)  # the floor: 1 MiB, about 2 ms
SALT, NONCE = bytes(range(32)), bytes(range(100, 112))
KEY = PrivateKey.from_name("alice")


def _sealed(passphrase: str = "correct horse", key: PrivateKey = KEY, name: str | None = "alice") -> dict:
    return keystore.encrypt(key, passphrase, FAST, SALT, NONCE, name=name)


def test_round_trip_and_clear_header():
    doc = _sealed()
    assert keystore.is_keystore(doc) and doc["version"] == keystore.VERSION
    assert doc["address"] == format_address(KEY.address) and doc["pubkey"] == KEY.pubkey.hex()
    assert doc["kdf"] == {"name": "scrypt", "n": 1024, "r": 8, "p": 1, "salt": SALT.hex()}
    assert KEY.seed.hex() not in str(doc)
    assert keystore.decrypt(doc, "correct horse") == KEY
    assert keystore.params_of(doc) == FAST


def test_wrong_passphrase_fails():
    with pytest.raises(keystore.WrongPassphrase):
        keystore.decrypt(_sealed(), "correct horse ")


def _leaves(doc, path=()):
    for k, v in doc.items():
        if isinstance(v, dict):
            yield from _leaves(v, path + (k,))
        elif k != "ciphertext" or path:
            yield path + (k,), v


def _changed(v):
    if isinstance(v, bool) or v is None:
        return "x"
    if isinstance(v, int):
        return v * 2
    if all(c in "0123456789abcdef" for c in v) and len(v) % 2 == 0:
        return ("1" if v[0] == "0" else "0") + v[1:]  # same length, still hex
    return v + "x"


def test_every_header_field_edited_fails():
    doc = _sealed()
    leaves = list(_leaves(doc))
    assert len(leaves) == 12  # format, version, name, address, pubkey, kdf: 5, cipher: 2
    for path, value in leaves:
        bad = copy.deepcopy(doc)
        node = bad
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = _changed(value)
        with pytest.raises(keystore.KeystoreError):  # WrongPassphrase for all but an unknown format/version/kdf/cipher
            keystore.decrypt(bad, "correct horse")
    bad = {**doc, "note": "added"}
    with pytest.raises(keystore.WrongPassphrase):
        keystore.decrypt(bad, "correct horse")


def test_fields_that_only_the_tag_protects_fail_as_a_wrong_passphrase():
    doc = _sealed()
    for edit in ({"name": "mallory"}, {"address": format_address(PrivateKey.from_name("bob").address)},
                 {"pubkey": PrivateKey.from_name("bob").pubkey.hex()}, {"kdf": {**doc["kdf"], "r": 4}}):
        with pytest.raises(keystore.WrongPassphrase):
            keystore.decrypt({**doc, **edit}, "correct horse")


def test_every_ciphertext_byte_flipped_fails():
    doc = _sealed()
    sealed = bytes.fromhex(doc["ciphertext"])
    assert len(sealed) == 32 + 16  # the seed and the Poly1305 tag
    for i in range(len(sealed)):
        flipped = sealed[:i] + bytes([sealed[i] ^ 0x01]) + sealed[i + 1:]
        with pytest.raises(keystore.WrongPassphrase):
            keystore.decrypt({**doc, "ciphertext": flipped.hex()}, "correct horse")


def test_a_swapped_header_fails():
    bob = PrivateKey.from_name("bob")
    a, b = _sealed(), _sealed(key=bob, name="bob")  # same passphrase, salt and nonce: only the header differs
    with pytest.raises(keystore.WrongPassphrase):
        keystore.decrypt({**b, "ciphertext": a["ciphertext"]}, "correct horse")
    with pytest.raises(keystore.WrongPassphrase):
        keystore.decrypt({**a, "ciphertext": b["ciphertext"]}, "correct horse")


@pytest.mark.parametrize("edit, message", [
    ({"version": 2}, "unsupported keystore version"),
    ({"format": "other"}, "not a settle keystore"),
    ({"ciphertext": "00"}, "wrong length"),
    ({"kdf": {"name": "scrypt", "n": 1 << 30, "r": 8, "p": 1, "salt": SALT.hex()}}, "between"),
    ({"kdf": {"name": "scrypt", "n": 1000, "r": 8, "p": 1, "salt": SALT.hex()}}, "power of two"),
    ({"kdf": {"name": "pbkdf2", "n": 1024, "r": 8, "p": 1, "salt": SALT.hex()}}, "unsupported kdf"),
    ({"cipher": None}, "malformed"),
])
def test_malformed_or_out_of_bounds_is_refused_before_any_derivation(edit, message):
    with pytest.raises(keystore.KeystoreError, match=message):
        keystore.params_of({**_sealed(), **edit})


def test_parameters_have_bounds_and_the_default_is_documented():
    assert keystore.DEFAULT_PARAMS == keystore.ScryptParams(n=1 << 17, r=8, p=1)
    for bad in ({"n": 1 << 9}, {"n": 1 << 21}, {"n": 3 << 10}, {"r": 0}, {"p": 17}, {"n": 1 << 20, "r": 16}):
        with pytest.raises(keystore.KeystoreError):
            keystore.ScryptParams(**bad)
    with pytest.raises(keystore.KeystoreError):
        keystore.encrypt(KEY, "", FAST, SALT, NONCE)
    with pytest.raises(keystore.KeystoreError):
        keystore.encrypt(KEY, "pw", FAST, SALT[:16], NONCE)


@settings(max_examples=40, deadline=None)
@given(passphrase=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_any_unicode_passphrase_opens_only_its_keystore(passphrase, other):
    doc = keystore.encrypt(KEY, passphrase, FAST, SALT, NONCE)
    assert keystore.decrypt(doc, passphrase) == KEY
    if unicodedata.normalize("NFKD", other) != unicodedata.normalize("NFKD", passphrase):
        with pytest.raises(keystore.WrongPassphrase):
            keystore.decrypt(doc, other)


def test_a_plain_key_reader_says_a_keystore_is_encrypted(tmp_path):
    write_key_file(tmp_path / "k.json", _sealed())
    with pytest.raises(KeyFileError, match="is encrypted: it needs its passphrase"):
        PrivateKey.load(tmp_path / "k.json")  # what a node does with its node_key.json


def test_passphrases_are_nfkd_normalised():
    doc = keystore.encrypt(KEY, "caf\u00e9", FAST, SALT, NONCE)  # precomposed é
    assert keystore.decrypt(doc, "cafe\u0301") == KEY  # e + combining acute accent

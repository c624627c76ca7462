"""Transaction signatures: each kind of forgery or replay is refused with its reason."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec import encode
from ledger.keys import PrivateKey, verify
from ledger.tx import SignatureError, Tx, sign_tx
from ledger.txkinds import Transfer

from tests.settlement.builders import Chain

ALICE = PrivateKey.from_name("alice")
BOB = PrivateKey.from_name("bob")


def test_valid_signature_verifies():
    sign_tx(ALICE, "c", 0, Transfer(BOB.address, "USD", 1, "")).verify_signature()


def test_wrong_key_is_refused():
    t = sign_tx(ALICE, "c", 0, Transfer(BOB.address, "USD", 1, ""))
    obj = t.to_obj()
    obj[1] = BOB.pubkey  # claims to be bob, signed by alice
    forged = Tx.decode(encode(obj))
    with pytest.raises(SignatureError, match="does not verify"):
        forged.verify_signature()


def test_tampered_body_is_refused():
    t = sign_tx(ALICE, "c", 0, Transfer(BOB.address, "USD", 1, ""))
    obj = t.to_obj()
    obj[4][2] = 1_000_000
    with pytest.raises(SignatureError):
        Tx.decode(encode(obj)).verify_signature()


def test_signature_is_bound_to_the_chain_id():
    t = sign_tx(ALICE, "chain-a", 0, Transfer(BOB.address, "USD", 1, ""))
    obj = t.to_obj()
    obj[0] = "chain-b"
    with pytest.raises(SignatureError):
        Tx.decode(encode(obj)).verify_signature()


def test_tx_signature_is_not_a_vote_signature():
    t = sign_tx(ALICE, "c", 0, Transfer(BOB.address, "USD", 1, ""))
    assert not verify(ALICE.pubkey, t.sign_bytes()[1:], t.signature)


def test_mempool_reasons_for_each_refusal():
    """Through the node's real mempool + chain: every refusal names its reason."""
    chain = Chain.fresh()
    pool = chain.mempool()
    good = chain.sign("alice", Transfer(chain.addr("bob"), "USD", 5, ""))
    pool.add(good)
    with pytest.raises(Exception, match="already in the mempool") as e:
        pool.add(good)
    assert e.value.code == "duplicate"

    wrong_chain = sign_tx(chain.keys["alice"], "other-chain", 1, Transfer(chain.addr("bob"), "USD", 5, ""))
    with pytest.raises(Exception, match="wrong chain id") as e:
        pool.add(wrong_chain)
    assert e.value.code == "not_includable"

    obj = chain.sign("alice", Transfer(chain.addr("bob"), "USD", 5, ""), nonce=1).to_obj()
    obj[4][2] = 6
    with pytest.raises(Exception, match="signature") as e:
        pool.add(Tx.decode(encode(obj)))
    assert e.value.code == "bad_signature"

    chain.commit_pool(pool)  # nonce 0 is now used
    replay = chain.sign("alice", Transfer(chain.addr("bob"), "USD", 7, ""), nonce=0)
    with pytest.raises(Exception, match="already used") as e:
        pool.add(replay)
    assert e.value.code == "not_includable"
    with pytest.raises(Exception, match="already committed") as e:
        pool.add(good)
    assert e.value.code == "already_committed"

    stranger = sign_tx(PrivateKey.from_name("mallory"), chain.chain_id, 0, Transfer(chain.addr("bob"), "USD", 1, ""))
    with pytest.raises(Exception, match="not a registered account"):
        pool.add(stranger)


@given(
    st.text(min_size=1, max_size=64),
    st.integers(0, 2**63 - 1),
    st.binary(min_size=20, max_size=20),
    st.text(max_size=16),
    st.integers(1, 2**63 - 1),
    st.text(max_size=256),
)
@settings(max_examples=200, deadline=None)
def test_sign_bytes_cut_from_the_wire_form_equal_the_encoded_ones(chain_id, nonce, to, asset, amount, memo):
    from ledger.tx import tx_sign_bytes

    key = PrivateKey.from_name("sb", "c")
    tx = sign_tx(key, chain_id, nonce, Transfer(to, asset, amount, memo))
    assert tx.sign_bytes() == tx_sign_bytes(chain_id, key.pubkey, nonce, "transfer", tx.body)
    tx.verify_signature()
    again = Tx.decode(tx.raw)
    assert again.sign_bytes() == tx.sign_bytes()
    again.verify_signature()


@given(st.binary(min_size=32, max_size=32))
def test_address_is_the_domain_separated_hash_of_the_key_remembered_or_not(pubkey):
    import hashlib

    from ledger.keys import address_from_pubkey

    want = hashlib.sha256(b"settle/address/v1" + pubkey).digest()[:20]
    assert address_from_pubkey(pubkey) == want
    assert address_from_pubkey(pubkey) == want  # from the memo
    assert address_from_pubkey(bytearray(pubkey)) == want

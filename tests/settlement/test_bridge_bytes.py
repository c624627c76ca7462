"""Whatever bytes a relayer puts in a bridge tx, the state machine answers with a receipt: it never raises.

A header, certificate or state proof that fails to decode or to verify, or a
packet naming anything at all, must give a failed receipt (the block goes
on); an exception would halt every validator on the same block.
"""
from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.txkinds_bridge import BridgeMisbehaviour, BridgeRecv, BridgeTimeout, BridgeUpdateClient

from .bridge_pair import RELAYER, Pair

PAIR = Pair.fresh()
PAIR.send(PAIR.a, "alice", "USD", 10)
H = PAIR.update(PAIR.b, PAIR.a)
RECV = PAIR.recv_tx(PAIR.a, 1, H)
UPDATE = PAIR.header_tx(PAIR.a)
TIMEOUT = PAIR.timeout_tx(PAIR.a, RECV.packet, PAIR.update(PAIR.a, PAIR.b))


def _mutated(raw: bytes, data) -> bytes:
    how = data.draw(st.sampled_from(("flip", "cut", "junk")))
    if how == "junk":
        return data.draw(st.binary(max_size=300))
    if not raw:
        return raw
    i = data.draw(st.integers(0, len(raw) - 1))
    if how == "cut":
        return raw[:i]
    return raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.sampled_from(("header", "certificate", "recv_proof", "timeout_proof", "denom", "chain",
                                              "misbehaviour")))
def test_mutated_bridge_txs_give_a_receipt(data, which):
    if which in ("header", "certificate"):
        body, chain = dataclasses.replace(UPDATE, **{which: _mutated(getattr(UPDATE, which), data)}), PAIR.b
    elif which == "recv_proof":
        body, chain = BridgeRecv(RECV.packet, _mutated(RECV.proof, data), H), PAIR.b
    elif which == "timeout_proof":
        body, chain = BridgeTimeout(TIMEOUT.packet, _mutated(TIMEOUT.proof, data), TIMEOUT.proof_height), PAIR.a
    elif which == "denom":
        denom = data.draw(st.text(max_size=81))
        body, chain = BridgeRecv(dataclasses.replace(RECV.packet, denom=denom), RECV.proof, H), PAIR.b
    elif which == "misbehaviour":
        field = data.draw(st.sampled_from(("header_b", "certificate_b")))
        body = BridgeMisbehaviour(UPDATE.header, UPDATE.certificate, UPDATE.header, UPDATE.certificate)
        body, chain = dataclasses.replace(body, **{field: _mutated(getattr(body, field), data)}), PAIR.b
    else:
        src = data.draw(st.text(max_size=20))
        body, chain = BridgeRecv(dataclasses.replace(RECV.packet, source_chain=src), RECV.proof, H), PAIR.b
    r = PAIR.commit(chain, RELAYER, body)
    assert r.ok or r.error, r

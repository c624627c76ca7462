"""The cross-chain swap's state machine: every transition and refusal, then random interleavings and crashes.

No network: two in-process chains with the real HTLC rules (``xswap_world``).
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cli import xswap_plan as plan
from cli.xswap_plan import Phase
from ledger.txkinds_risk import HtlcClaim, HtlcLock, HtlcRefund

from .xswap_world import Party, World

SECRET = b"k" * 32
POLICY = plan.Policy(lock_ms=15_000, margin_ms=5_000, min_window_ms=2_000)
TICK = 500


def decide(swap: plan.Swap, obs: plan.Observation):
    """``plan.decide``, checking that the move is one ``TRANSITIONS`` lists."""
    new, act = plan.decide(swap, obs)
    assert new.phase is swap.phase or new.phase in plan.TRANSITIONS[(swap.role, swap.phase)], (swap.phase, new.phase)
    return new, act


def pair(world: World, policy: plan.Policy = POLICY):
    t = world.terms(SECRET)
    watch_until = 20_000  # the responder gives up on an initiator that never locks (the offer's deadline)
    return Party(world, plan.initiate(t, policy, SECRET), "alice"), Party(world, plan.respond(t, policy, watch_until), "bob")


def run(world: World, parties, ticks: int, real_dt: int = TICK) -> None:
    for _ in range(ticks):
        world.advance(real_dt)
        for p in parties:
            p.step()


def balances(world: World) -> dict:
    return {(n, c, a): world.net(c).balance(n, a) for n in ("alice", "bob") for c in "ab" for a in ("USD", "EUR")}


def delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in before if after[k] != before[k]}


COMPLETED_DELTA = {("alice", "a", "USD"): -1_000, ("bob", "a", "USD"): 1_000, ("alice", "b", "EUR"): 900, ("bob", "b", "EUR"): -900}


def test_happy_path_walks_every_phase():
    w = World()
    before = balances(w)
    ini, res = pair(w)
    seen = {"ini": [], "res": []}
    for _ in range(20):
        w.advance(TICK)
        for key, p in (("ini", ini), ("res", res)):
            p.step()
            if not seen[key] or seen[key][-1] != p.persisted.phase:
                seen[key].append(p.persisted.phase)
    assert seen["ini"] == [Phase.LOCKING, Phase.LOCKED, Phase.CLAIMING, Phase.COMPLETED]
    assert seen["res"] == [Phase.WATCHING, Phase.LOCKING, Phase.LOCKED, Phase.CLAIMING, Phase.COMPLETED]
    assert res.persisted.secret == SECRET  # read from B's HTLC
    assert res.persisted.timeout_b_ms == ini.persisted.timeout_a_ms - POLICY.margin_ms
    assert delta(before, balances(w)) == COMPLETED_DELTA


def test_responder_vanishes_initiator_refunds_after_its_timeout():
    w = World()
    before = balances(w)
    ini, _ = pair(w)
    run(w, [ini], 3)
    assert ini.persisted.phase is Phase.LOCKED
    ta = ini.persisted.timeout_a_ms
    while w.a.h.time_ms < ta - POLICY.margin_ms - POLICY.min_window_ms:
        run(w, [ini], 1)
        assert ini.persisted.phase is Phase.LOCKED  # still hoping for B's lock
    run(w, [ini], 1)
    assert ini.persisted.phase is Phase.ABORTING  # no acceptable lock can come any more
    while w.a.h.time_ms < ta:
        assert ini.persisted.phase is Phase.ABORTING
        run(w, [ini], 1)
    run(w, [ini], 3)
    assert ini.persisted.phase is Phase.REFUNDED
    assert delta(before, balances(w)) == {}


def test_initiator_vanishes_after_responder_locked_responder_refunds():
    w = World()
    before = balances(w)
    ini, res = pair(w)
    run(w, [ini, res], 2)
    run(w, [res], 1)  # the initiator is gone from here on
    assert (ini.persisted.phase, res.persisted.phase) == (Phase.LOCKED, Phase.LOCKED)
    tb = res.persisted.timeout_b_ms
    while w.b.h.time_ms < tb:
        run(w, [res], 1)
        assert res.persisted.phase in (Phase.LOCKED, Phase.REFUNDING) and (res.persisted.phase is Phase.LOCKED or w.b.h.time_ms >= tb)
    run(w, [res], 3)
    assert res.persisted.phase is Phase.REFUNDED
    d = delta(before, balances(w))
    assert d == {("alice", "a", "USD"): -1_000}  # the initiator's own lock, its to refund (it vanished)


def test_b_halts_after_the_responder_locked_nothing_is_lost():
    """B makes no block from the responder's lock until past T_B: no claim can land, both refund (docs/interop.md)."""
    w = World()
    before = balances(w)
    ini, res = pair(w)
    run(w, [ini, res], 2)
    run(w, [res], 1)
    assert res.persisted.phase is Phase.LOCKED and ini.persisted.phase is Phase.LOCKED
    for _ in range(40):  # 20 s of real time, B halted: its block time stays
        w.advance(TICK, blocks=(True, False))
        ini.step()
        res.step()
    assert ini.persisted.phase is Phase.REFUNDED  # gave up (no window left on B), refunded at T_A
    run(w, [ini, res], 3)  # B runs again, its block time jumps to now
    assert res.persisted.phase is Phase.REFUNDED
    assert delta(before, balances(w)) == {}


def test_a_halting_longer_than_the_margin_after_the_claim_costs_the_responder():
    """The documented limit: the secret is public on B, A makes no block until past T_A; bob's claim cannot land."""
    w = World()
    ini, res = pair(w)
    run(w, [ini, res], 2)
    run(w, [res], 1)
    w.advance(TICK, blocks=(False, True))
    ini.step()  # claims on B
    for _ in range(30):  # A halted for 15 s of real time; the claim lands on B
        w.advance(TICK, blocks=(False, True))
        ini.step()
    assert ini.persisted.phase is Phase.COMPLETED
    assert res.persisted.secret == b""  # bob's tool is running, but A is not
    w.advance(TICK)  # A runs again: its block time is now past T_A
    res.step()
    assert res.persisted.phase is Phase.LOST


def test_responder_gives_up_watching_at_its_deadline():
    w = World()
    t = w.terms(SECRET)
    res = Party(w, plan.respond(t, POLICY, watch_until_a_ms=3_000), "bob")
    run(w, [res], 5)
    assert res.persisted.phase is Phase.WATCHING
    run(w, [res], 2)
    assert res.persisted.phase is Phase.ABANDONED


def _responder_locked_and_claimed_on_b():
    """The responder locked, and its lock on B shows the initiator's claim: (world, its swap, A's lock, its claimed lock)."""
    w = World()
    ini, res = pair(w)
    run(w, [ini, res], 3)
    swap = res.persisted
    claimed = dataclasses.replace(w.b.htlcs(swap.terms.hashlock)[0], status="claimed", preimage=SECRET)
    return w, swap, w.a.htlcs(swap.terms.hashlock)[0], claimed


def test_responder_sees_secret_during_its_refund_claims_instead():
    """The initiator's claim lands in the block before the responder's refund would: the responder claims on A."""
    w, swap, a_lock, claimed = _responder_locked_and_claimed_on_b()
    refunding = dataclasses.replace(swap, phase=Phase.REFUNDING)
    new, act = decide(refunding, plan.Observation(w.a.h.time_ms, w.b.h.time_ms, (a_lock, claimed)))
    assert new.phase is Phase.CLAIMING and act == plan.Claim("a", a_lock.id, SECRET)


def test_responder_too_late_is_lost():
    w, swap, a_lock, claimed = _responder_locked_and_claimed_on_b()
    new, act = decide(swap, plan.Observation(a_lock.timeout_ms, w.b.h.time_ms, (a_lock, claimed)))
    assert new.phase is Phase.LOST and act == plan.Finished(Phase.LOST)


def test_in_flight_transaction_is_never_sent_twice():
    w = World()
    ini, _ = pair(w)
    w.advance(TICK)
    ini.step()
    assert ini.persisted.phase is Phase.LOCKING and ini.persisted.pending is not None
    act = ini.step()  # not committed yet: nothing new
    assert isinstance(act, plan.Wait) and len(w.a.mempool) == 1


def test_lock_that_never_commits_is_made_again():
    w = World()
    ini, _ = pair(w)
    w.advance(TICK)
    ini.step(crash_at=0)  # signed, crashed before persisting: nothing happened
    assert ini.persisted.phase is Phase.NEW and not w.a.mempool
    ini.step(crash_at=1)  # persisted, crashed before sending
    assert ini.persisted.phase is Phase.LOCKING and not w.a.mempool
    ini.step()  # resumed: the persisted tx is sent again, same nonce
    assert len(w.a.mempool) == 1 and w.a.mempool[0].hash == ini.persisted.pending.tx_hash
    w.advance(TICK)
    ini.step()
    assert ini.persisted.phase is Phase.LOCKED and ini.persisted.lock_a == w.a.lock_ids[0]


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_committed_lock_not_yet_visible_is_not_made_again(role):
    """The lock committed (its receipt is ok) but the HTLC read raced ahead of it: wait, never lock a second time
    (two locks under one hashlock could both be claimed with the one secret)."""
    w = World()
    ini, res = pair(w)
    swap = ini.persisted if role == "initiator" else res.persisted
    hid = {"lock_a" if role == "initiator" else "lock_b": b"\x01" * 32}
    pending = plan.Pending("lock", swap.my_chain, 0, b"\x02" * 32, b"")
    locking = dataclasses.replace(swap, phase=Phase.LOCKING, pending=pending, **hid)
    new, act = decide(locking, plan.Observation(0, 0, (), in_flight=False, pending_ok=True))
    assert new.phase is Phase.LOCKING and isinstance(act, plan.Wait)


def test_lock_failed_in_its_block_starts_over():
    w = World()
    ini, _ = pair(w)
    swap = dataclasses.replace(ini.persisted, phase=Phase.LOCKING, lock_a=b"\x01" * 32, timeout_a_ms=99)
    new, act = decide(swap, plan.Observation(0, 0))
    assert new.phase is Phase.NEW and new.lock_a == b"" and isinstance(act, plan.Wait)
    res = plan.respond(w.terms(SECRET), POLICY)
    swap = dataclasses.replace(res, phase=Phase.LOCKING, lock_b=b"\x01" * 32)
    new, _ = decide(swap, plan.Observation(0, 0))
    assert new.phase is Phase.WATCHING and new.lock_b == b""


# --------------------------------------------------------------------------- refusals


def _locked_pair():
    w = World()
    ini, res = pair(w)
    run(w, [ini], 2)
    assert ini.persisted.phase is Phase.LOCKED
    return w, ini, res


def _b_lock(w, ini, **changes) -> plan.HtlcView:
    t = ini.persisted.terms
    base = plan.HtlcView("b", b"\x07" * 32, t.responder_b, t.initiator_b, t.asset_b, t.amount_b, t.hashlock, 0,
                         ini.persisted.timeout_a_ms - POLICY.margin_ms, "open")
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("changes, reason", [
    ({"amount": 899}, "wrong amount"),
    ({"asset": "USD"}, "wrong amount"),
    ({"hashlock": b"\x00" * 32}, None),  # another hashlock: not even a candidate
    ({"receiver": b"\x09" * 20}, "another receiver"),
    ({"sender": b"\x09" * 20}, "not the counterparty"),
    ({"timeout_height": 50}, "not a block time alone"),
    ({"status": "refunded"}, "already refunded"),
    ({"timeout_ms": "late"}, "later than T_A - margin"),
    ({"timeout_ms": "short"}, "too little time left"),
    ({"timeout_ms": "expired"}, "too little time left"),
])
def test_initiator_refuses_a_bad_lock_on_b(changes, reason):
    w, ini, _ = _locked_pair()
    swap = ini.persisted
    if changes.get("timeout_ms") == "late":
        changes = {"timeout_ms": swap.timeout_a_ms - POLICY.margin_ms + 1}
    elif changes.get("timeout_ms") == "short":
        changes = {"timeout_ms": w.b.h.time_ms + POLICY.min_window_ms - 1}
    elif changes.get("timeout_ms") == "expired":
        changes = {"timeout_ms": w.b.h.time_ms - 1}
    mine = w.a.htlcs(swap.terms.hashlock)[0]
    new, act = decide(swap, plan.Observation(w.a.h.time_ms, w.b.h.time_ms, (mine, _b_lock(w, ini, **changes))))
    assert new.phase is Phase.LOCKED and isinstance(act, plan.Wait)
    if reason is None:
        assert new.refusals == ()
    else:
        assert reason in new.refusals[-1]
    good = _b_lock(w, ini)
    new, act = decide(swap, plan.Observation(w.a.h.time_ms, w.b.h.time_ms, (mine, _b_lock(w, ini, **changes), good)))
    assert new.phase is Phase.CLAIMING and act == plan.Claim("b", good.id, SECRET)


def test_initiator_does_not_reveal_the_secret_too_late():
    """Its claim sent with less than min_window left could land after T_B and leak the secret: it aborts instead."""
    w, ini, _ = _locked_pair()
    swap = ini.persisted
    good = _b_lock(w, ini)
    claiming = dataclasses.replace(swap, phase=Phase.CLAIMING, lock_b=good.id, timeout_b_ms=good.timeout_ms)
    mine = w.a.htlcs(swap.terms.hashlock)[0]
    new, act = decide(claiming, plan.Observation(w.a.h.time_ms, good.timeout_ms - POLICY.min_window_ms + 1, (mine, good)))
    assert new.phase is Phase.ABORTING and isinstance(act, plan.Wait)
    new, act = decide(claiming, plan.Observation(w.a.h.time_ms, good.timeout_ms - POLICY.min_window_ms, (mine, good)))
    assert new.phase is Phase.CLAIMING and act == plan.Claim("b", good.id, SECRET)  # sent again: still in time


def test_initiator_aborts_when_claim_landed_as_refund():
    w, ini, _ = _locked_pair()
    swap = ini.persisted
    refunded = _b_lock(w, ini, status="refunded")
    claiming = dataclasses.replace(swap, phase=Phase.CLAIMING, lock_b=refunded.id, timeout_b_ms=refunded.timeout_ms)
    mine = w.a.htlcs(swap.terms.hashlock)[0]
    new, act = decide(claiming, plan.Observation(mine.timeout_ms, 0, (mine, refunded)))
    assert new.phase is Phase.REFUNDING and act == plan.Refund("a", mine.id)


@pytest.mark.parametrize("changes, reason", [
    ({"amount": 999}, "wrong amount"),
    ({"receiver": b"\x09" * 20}, "another receiver"),
    ({"timeout_ms": "short"}, "too little time left"),
    ({"timeout_height": 7}, "not a block time alone"),
    ({"timeout_ms": "long"}, "too long"),
])
def test_responder_refuses_a_bad_lock_on_a(changes, reason):
    w = World()
    t = w.terms(SECRET)
    res = plan.respond(t, POLICY)
    now = 10_000
    if changes.get("timeout_ms") == "short":
        changes = {"timeout_ms": now + POLICY.margin_ms + 2 * POLICY.min_window_ms - 1}
    elif changes.get("timeout_ms") == "long":
        changes = {"timeout_ms": now + POLICY.lock_ms + 1}
    base = plan.HtlcView("a", b"\x05" * 32, t.initiator_a, t.responder_a, t.asset_a, t.amount_a, t.hashlock, 0, now + POLICY.lock_ms, "open")
    bad = dataclasses.replace(base, **changes)
    new, act = decide(res, plan.Observation(now, now, (bad,)))
    assert new.phase is Phase.WATCHING and reason in new.refusals[-1] and isinstance(act, plan.Wait)
    new, act = decide(res, plan.Observation(now, now, (bad, base)))
    assert new.phase is Phase.LOCKING
    assert act == plan.Lock("b", "EUR", 900, t.initiator_b, t.hashlock, base.timeout_ms - POLICY.margin_ms)


def test_responder_waits_when_b_clock_leaves_too_little():
    w = World()
    t = w.terms(SECRET)
    base = plan.HtlcView("a", b"\x05" * 32, t.initiator_a, t.responder_a, t.asset_a, t.amount_a, t.hashlock, 0, 20_000, "open")
    res = plan.respond(t, POLICY)
    b_now = 20_000 - POLICY.margin_ms - 2 * POLICY.min_window_ms + 1  # B's clock ahead of A's
    new, act = decide(res, plan.Observation(0, b_now, (base,)))
    assert new.phase is Phase.WATCHING and isinstance(act, plan.Wait)


def test_expired_own_lock_is_refunded_not_before():
    w, ini, _ = _locked_pair()
    swap = dataclasses.replace(ini.persisted, phase=Phase.ABORTING)
    mine = w.a.htlcs(swap.terms.hashlock)[0]
    new, act = decide(swap, plan.Observation(mine.timeout_ms - 1, 0, (mine,)))
    assert new.phase is Phase.ABORTING and isinstance(act, plan.Wait)
    new, act = decide(swap, plan.Observation(mine.timeout_ms, 0, (mine,)))
    assert new.phase is Phase.REFUNDING and act == plan.Refund("a", mine.id)


def test_terms_and_policy_refuse_nonsense():
    w = World()
    t = w.terms(SECRET)
    with pytest.raises(plan.SwapError):
        dataclasses.replace(t, chain_b=t.chain_a)
    with pytest.raises(plan.SwapError):
        dataclasses.replace(t, amount_a=0)
    with pytest.raises(plan.SwapError):
        plan.Policy(lock_ms=10_000, margin_ms=8_000, min_window_ms=1_000)  # no room for the responder's lock
    with pytest.raises(plan.SwapError):
        plan.initiate(t, POLICY, b"another secret")
    with pytest.raises(plan.SwapError):
        plan.from_doc({"format": "other"})


def test_state_document_round_trips():
    w = World()
    ini, res = pair(w)
    run(w, [ini, res], 4)
    for p in (ini, res):
        assert plan.from_doc(plan.to_doc(p.persisted)) == p.persisted


# --------------------------------------------------------------------------- random interleavings


def _delta_of(world, name, before):
    d = delta(before, balances(world))
    return {k[1:]: v for k, v in d.items() if k[0] == name}


GOT = {"alice": {("a", "USD"): -1_000, ("b", "EUR"): 900}, "bob": {("a", "USD"): 1_000, ("b", "EUR"): -900}}

event = st.tuples(
    st.integers(100, 1_000),  # real time passing this tick (ms)
    st.integers(0, 400), st.integers(0, 400),  # lag of A's and B's latest block behind real time
    st.booleans(), st.booleans(),  # does each network make a block this tick
    st.sampled_from(["ini", "res", "both", "both-rev"]),  # who runs, in which order
    st.sampled_from([None, None, None, 0, 1]),  # the initiator's tool crashes at this point of its step
    st.sampled_from([None, None, None, 0, 1]),  # ... the responder's
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event, min_size=1, max_size=60),
       vanish_ini=st.one_of(st.none(), st.integers(0, 60)), vanish_res=st.one_of(st.none(), st.integers(0, 60)),
       halt_b=st.one_of(st.none(), st.tuples(st.integers(0, 60), st.integers(1, 60))))
def test_no_live_party_ends_with_less_unless_both_completed(events, vanish_ini, vanish_res, halt_b):
    """Random block times and lags, skipped blocks, interleavings, crashes (then resume), vanishings, and a halt
    of B (no block from tick ``halt_b[0]`` for ``halt_b[1]`` ticks: up to a minute, past every timeout).

    After the random part the networks keep making blocks and the live
    parties keep running (every tick) until they finish.  Then every live
    party either completed (and got exactly what was agreed) or got back
    all it locked; if both are live, they completed together.  Liveness
    bound of the policy: a tick is at most 1 s, a tx commits within one
    tick of being sent, lags are under 0.5 s, so margin 5 s and window 2 s hold.
    A halt of B costs nobody anything; a halt of A longer than the margin after
    the claim on B would cost the responder (documented, and shown by
    ``test_a_halting_longer_than_the_margin_after_the_claim_costs_the_responder``).
    """
    w = World()
    before = balances(w)
    ini, res = pair(w)
    live = {"ini": True, "res": True}
    for i, (dt, lag_a, lag_b, blk_a, blk_b, who, crash_i, crash_r) in enumerate(events):
        live["ini"] = live["ini"] and i != vanish_ini
        live["res"] = live["res"] and i != vanish_res
        halted = halt_b is not None and halt_b[0] <= i < halt_b[0] + halt_b[1]
        w.advance(dt, lag_a, lag_b, (blk_a or i % 2 == 0, (blk_b or i % 2 == 1) and not halted))  # else no skip of two blocks
        order = {"ini": ["ini"], "res": ["res"], "both": ["ini", "res"], "both-rev": ["res", "ini"]}[who]
        for k in order:
            if live[k]:
                (ini if k == "ini" else res).step(crash_i if k == "ini" else crash_r)
    for _ in range(200):
        if all((p.persisted.done or not live[k]) for k, p in (("ini", ini), ("res", res))):
            break
        w.advance(TICK)
        for k, p in (("ini", ini), ("res", res)):
            if live[k]:
                p.step()
    outcome = {}
    for k, p, name in (("ini", ini, "alice"), ("res", res, "bob")):
        if not live[k]:
            continue
        assert p.persisted.phase in (Phase.COMPLETED, Phase.REFUNDED, Phase.ABANDONED), p.persisted.log
        got = _delta_of(w, name, before)
        outcome[k] = p.persisted.phase
        if p.persisted.phase is Phase.COMPLETED:
            assert got == GOT[name], p.persisted.log
        else:
            assert got == {}, (got, p.persisted.log)
    if len(outcome) == 2:
        assert (outcome["ini"] is Phase.COMPLETED) == (outcome["res"] is Phase.COMPLETED)


def test_docs_list_the_transitions_of_the_code():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "interop.md").read_text()
    table = doc.split("<!-- xswap-transitions -->\n")[1].split("\n<!-- /xswap-transitions -->")[0]
    assert table == plan.transition_table()


# --------------------------------------------------------------------------- dishonest counterparties

PERTURB = st.sampled_from([{}, {}, {}, {}, {}, {"amount": -1}, {"asset": True}, {"receiver": "admin"}, {"hashlock": True},
                           {"timeout": "late"}, {"timeout": "short"}, {"height": True}])


def _cheat_lock(w: World, net_label: str, sender: str, receiver: str, asset: str, amount: int, hashlock: bytes, timeout_ms: int,
                perturb: dict):
    """A lock by ``sender`` with the flaw ``perturb`` (none if empty), sent to network ``net_label``."""
    net = w.net(net_label)
    body = HtlcLock(("EUR" if asset == "USD" else "USD") if perturb.get("asset") else asset,
                    amount + perturb.get("amount", 0), net.h.addr(perturb.get("receiver", receiver)),
                    hashlib.sha256(b"other").digest() if perturb.get("hashlock") else hashlock,
                    net.h.height + 10_000 if perturb.get("height") else 0, timeout_ms)
    net.submit(net.sign(sender, body))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturb=PERTURB, lock_tick=st.integers(0, 20), claim_tick=st.integers(0, 40), dts=st.lists(st.integers(100, 1_000), min_size=80,
       max_size=80))
def test_dishonest_responder_cannot_take_the_initiators_lock(perturb, lock_tick, claim_tick, dts):
    """A scripted responder locks on B with a random flaw (or none) at a random time, and claims A whenever it can."""
    w = World()
    before = balances(w)
    ini, _ = pair(w)
    t = ini.persisted.terms
    for i, dt in enumerate(dts + [TICK] * 200):  # then on until the initiator is done
        if ini.persisted.done:
            break
        w.advance(dt)
        ini.step()
        if i == lock_tick and ini.persisted.timeout_a_ms:
            tb = {"late": ini.persisted.timeout_a_ms - POLICY.margin_ms + 1,
                  "short": w.b.h.time_ms + POLICY.min_window_ms - 1}.get(perturb.get("timeout"), ini.persisted.timeout_a_ms - POLICY.margin_ms)
            if tb > w.b.h.time_ms:
                _cheat_lock(w, "b", "bob", "alice", "EUR", 900, t.hashlock, tb, perturb)
        mine = w.a.htlcs(t.hashlock)
        b_locks = w.b.htlcs(t.hashlock)
        secret = next((h.preimage for h in b_locks if h.status == "claimed"), b"")
        if i >= claim_tick and mine and mine[0].status == "open" and secret:
            w.a.submit(w.a.sign("bob", HtlcClaim(mine[0].id, secret)))
    got = _delta_of(w, "alice", before)
    assert ini.persisted.phase in (Phase.COMPLETED, Phase.REFUNDED), ini.persisted.log
    assert got == (GOT["alice"] if ini.persisted.phase is Phase.COMPLETED else {}), (got, ini.persisted.log)
    if ini.persisted.phase is Phase.COMPLETED:
        assert perturb in ({}, {"hashlock": True}) or perturb.get("timeout") == "short"  # only a good lock is ever claimed


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturb=PERTURB, claim_tick=st.integers(0, 60), dts=st.lists(st.integers(100, 1_000), min_size=90, max_size=90))
def test_dishonest_initiator_cannot_take_the_responders_lock(perturb, claim_tick, dts):
    """A scripted initiator locks on A with a random flaw (or none), claims B at a random moment (as late as it likes),
    and refunds A as early as the chain lets it."""
    w = World()
    before = balances(w)
    _, res = pair(w)
    t = res.persisted.terms
    ta = {"short": POLICY.margin_ms + 2 * POLICY.min_window_ms - 1}.get(perturb.get("timeout"), POLICY.lock_ms) + 500
    _cheat_lock(w, "a", "alice", "bob", "USD", 1_000, t.hashlock, ta, {k: v for k, v in perturb.items() if k != "timeout"})
    for i, dt in enumerate(dts + [TICK] * 200):  # then on until the responder is done
        if res.persisted.done:
            break
        w.advance(dt)
        res.step()
        b_locks = [h for h in w.b.htlcs(t.hashlock) if h.status == "open"]
        if i >= claim_tick and b_locks and w.b.h.time_ms < b_locks[0].timeout_ms:
            w.b.submit(w.b.sign("alice", HtlcClaim(b_locks[0].id, SECRET)))
        for h in w.a.htlcs(t.hashlock):
            if h.status == "open" and w.a.h.time_ms >= h.timeout_ms:
                w.a.submit(w.a.sign("alice", HtlcRefund(h.id)))
    got = _delta_of(w, "bob", before)
    assert res.persisted.phase in (Phase.COMPLETED, Phase.REFUNDED, Phase.ABANDONED), res.persisted.log
    assert got == (GOT["bob"] if res.persisted.phase is Phase.COMPLETED else {}), (got, res.persisted.log)


# --------------------------------------------------------------------------- the rarer moves, one by one

T_A, T_B = 20_000, 15_000


def _at(role: str, phase: Phase, mine: str, theirs: str | None, now_a: int, now_b: int):
    """A swap of ``role`` in ``phase`` with both locks made, its own lock ``mine`` (a status) and the counterparty's
    ``theirs`` (a status, None: not visible); the observation at block times ``now_a``, ``now_b``."""
    w = World()
    t = w.terms(SECRET)
    swap = plan.initiate(t, POLICY, SECRET) if role == "initiator" else plan.respond(t, POLICY)
    swap = dataclasses.replace(swap, phase=phase, lock_a=b"\x0a" * 32, lock_b=b"\x0b" * 32, timeout_a_ms=T_A, timeout_b_ms=T_B,
                               secret=SECRET)
    lock_a = plan.HtlcView("a", b"\x0a" * 32, t.initiator_a, t.responder_a, "USD", 1_000, t.hashlock, 0, T_A, "open")
    lock_b = plan.HtlcView("b", b"\x0b" * 32, t.responder_b, t.initiator_b, "EUR", 900, t.hashlock, 0, T_B, "open")
    own, other = (lock_a, lock_b) if role == "initiator" else (lock_b, lock_a)
    views = [dataclasses.replace(own, status=mine, preimage=SECRET if mine == "claimed" else b"")]
    if theirs is not None:
        views.append(dataclasses.replace(other, status=theirs, preimage=SECRET if theirs == "claimed" else b""))
    return swap, plan.Observation(now_a, now_b, tuple(views))


@pytest.mark.parametrize("role, phase, mine, theirs, now_a, now_b, to, action", [
    ("initiator", Phase.LOCKED, "refunded", None, 0, 0, Phase.REFUNDED, plan.Finished),
    ("initiator", Phase.LOCKED, "claimed", None, 0, 0, Phase.LOST, plan.Finished),  # the secret leaked some other way
    ("initiator", Phase.LOCKED, "open", None, T_A, T_A, Phase.REFUNDING, plan.Refund),  # found nothing by T_A
    ("initiator", Phase.CLAIMING, "refunded", "refunded", T_A, T_A, Phase.REFUNDED, plan.Finished),
    ("initiator", Phase.CLAIMING, "claimed", "refunded", T_A, T_A, Phase.LOST, plan.Finished),  # claim landed late: secret out
    ("initiator", Phase.ABORTING, "refunded", None, T_A, 0, Phase.REFUNDED, plan.Finished),
    ("initiator", Phase.ABORTING, "claimed", None, T_A, 0, Phase.LOST, plan.Finished),
    ("initiator", Phase.REFUNDING, "open", None, T_A, 0, Phase.REFUNDING, plan.Refund),  # the refund did not commit: again
    ("initiator", Phase.REFUNDING, "claimed", None, T_A, 0, Phase.LOST, plan.Finished),
    ("responder", Phase.LOCKED, "claimed", "claimed", 0, 0, Phase.COMPLETED, plan.Finished),
    ("responder", Phase.LOCKED, "refunded", "open", 0, T_B, Phase.REFUNDED, plan.Finished),
    ("responder", Phase.CLAIMING, "claimed", "open", T_A, T_B, Phase.LOST, plan.Finished),  # A's lock timed out first
    ("responder", Phase.REFUNDING, "claimed", "claimed", 0, T_B, Phase.COMPLETED, plan.Finished),
    ("responder", Phase.REFUNDING, "claimed", "open", T_A, T_B, Phase.LOST, plan.Finished),
    ("responder", Phase.REFUNDING, "open", "open", 0, T_B, Phase.REFUNDING, plan.Refund),
])
def test_rare_move(role, phase, mine, theirs, now_a, now_b, to, action):
    swap, obs = _at(role, phase, mine, theirs, now_a, now_b)
    new, act = decide(swap, obs)
    assert new.phase is to and isinstance(act, action), new.log

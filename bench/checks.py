"""After the load: exactly-once checks and the figures, from what the load generator saw.

Owns the definitions of the published figures: settled tx/s (load txs in the
committed blocks after the first block holding load txs, up to the last one,
over the time between those two blocks' header times, from node 0's stream),
finality percentiles, block time and txs per block, and the per-second
series for the plot; and the exactly-once check (node 0's blocks hold every
accepted tx once and no other load tx; a sample of accepted txs is
``committed`` in the tx index of the nodes).

``st`` is the load generator's state (:class:`bench.loadgen.LoadState`);
this module only reads it, except for filling node 0's missed heights.
"""
from __future__ import annotations

import collections
import random
import time

__all__ = ["percentile", "summarize", "verify"]

SAMPLE_BUDGET_S = 5.0  # time for the tx-index sample check ...
MIN_SAMPLE = 20  # ... which still checks at least this many

def percentile(sorted_values, q: float) -> float | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def verify(spec, st) -> dict:
    """Fill node 0's missing heights from the store, then check exactly-once and the tx index."""
    from sdk import Client, SettleError

    loaded = [b.height for b in st.blocks if b.node == 0 and b.load]
    gap_filled = 0
    if loaded:
        c0 = Client(spec.rpc_urls[0], timeout=30)
        top = c0.call("status")["height"]
        first = min(loaded)
        for h in range(first, top + 1):
            if h in st.heights0:
                continue
            blk = c0.call("block", {"height": h})
            gap_filled += 1
            for t in blk.get("txs", []):
                hx = t["hash"]
                if hx in st.known:
                    if hx in st.seen0:
                        st.duplicates0 += 1
                    else:
                        st.seen0.add(hx)
    missing = len(st.accepted - st.seen0)
    unexpected = len(st.seen0 - st.accepted)
    rng = random.Random(1)
    sample = rng.sample(sorted(st.accepted), min(spec.sample, len(st.accepted)))
    sample_bad = []
    checked = 0
    budget = time.monotonic() + SAMPLE_BUDGET_S
    for i, hx in enumerate(sample):
        if i >= MIN_SAMPLE and time.monotonic() > budget:
            break  # the tx RPC decodes the whole block of the tx: keep this bounded
        checked += 1
        client = Client(spec.rpc_urls[i % len(spec.rpc_urls)], timeout=30)
        try:
            r = client.call("tx", {"hash": hx})
            ok = r.get("status") == "committed" and r.get("hash") == hx
        except SettleError as exc:
            ok, r = False, str(exc)
        if not ok:
            sample_bad.append(hx)
    committed = len(st.seen0)
    return {
        "committed": committed,
        "duplicates": st.duplicates0,
        "missing": missing,
        "unexpected": unexpected,
        "gap_filled_blocks": gap_filled,
        "tx_index_sample": checked,
        "tx_index_sample_bad": len(sample_bad),
        "committed_exactly_once": st.duplicates0 == 0 and missing == 0 and unexpected == 0 and not sample_bad and committed == len(st.accepted),
    }


def summarize(spec, st) -> dict:
    b0 = sorted((b for b in st.blocks if b.node == 0), key=lambda b: b.height)
    loaded = [b for b in b0 if b.load]
    out: dict = {}
    if len(loaded) >= 2:
        first, last = loaded[0], loaded[-1]
        span = (last.time_ms - first.time_ms) / 1000 or (last.seen - first.seen)
        window = [b for b in b0 if first.height <= b.height <= last.height]
        txs = sum(b.load for b in window[1:])
        out["tx_per_s"] = txs / span if span > 0 else 0.0
        out["span_s"] = span
        gaps = sorted((b.time_ms - a.time_ms) for a, b in zip(window, window[1:]) if b.height == a.height + 1)
        out["block_time_ms"] = {"mean": sum(gaps) / len(gaps) if gaps else None, "p50": percentile(gaps, 50), "p99": percentile(gaps, 99)}
        sizes = sorted(b.num_txs for b in window)
        out["txs_per_block"] = {"mean": sum(sizes) / len(sizes), "p50": percentile(sizes, 50), "max": sizes[-1]}
        out["blocks"] = len(window)
        out["first_height"], out["last_height"] = first.height, last.height
    elif loaded:
        b = loaded[0]
        out["tx_per_s"] = b.load / max(1e-9, st.t_end - st.t0)
        out["span_s"] = st.t_end - st.t0
        out["block_time_ms"] = {"mean": None, "p50": None, "p99": None}
        out["txs_per_block"] = {"mean": b.num_txs, "p50": b.num_txs, "max": b.num_txs}
        out["blocks"] = 1
        out["first_height"] = out["last_height"] = b.height
    else:
        out.update(tx_per_s=0.0, span_s=0.0, blocks=0, block_time_ms={"mean": None, "p50": None, "p99": None}, txs_per_block={"mean": None, "p50": None, "max": None})
    lat = sorted(st.final_lat)
    out["finality_ms"] = {
        "count": len(lat),
        "mean": 1000 * sum(lat) / len(lat) if lat else None,
        **{f"p{q}": (1000 * v if v is not None else None) for q, v in ((50, percentile(lat, 50)), (90, percentile(lat, 90)), (99, percentile(lat, 99)))},
        "max": 1000 * lat[-1] if lat else None,
    }
    # Per-second series for the plot, relative to the start of the load.
    buckets: dict[int, dict] = collections.defaultdict(lambda: {"submitted": 0, "committed": 0, "lat": []})
    for t in st.accepted_at:
        buckets[int(t - st.t0)]["submitted"] += 1
    for b in b0:
        if b.load:
            buckets[int(b.seen - st.t0)]["committed"] += b.load
    for t, v in zip(st.final_t, st.final_lat):
        buckets[int(t - st.t0)]["lat"].append(v)
    series = []
    for sec in sorted(k for k in buckets if k >= 0):
        v = buckets[sec]
        lat_s = sorted(v["lat"])
        series.append(
            {
                "t": sec,
                "submitted": v["submitted"],
                "committed": v["committed"],
                "p50_ms": 1000 * lat_s[len(lat_s) // 2] if lat_s else None,
                "p99_ms": 1000 * percentile(lat_s, 99) if lat_s else None,
            }
        )
    out["series"] = series
    load_s = st.t_end - st.t0
    out.update(
        submitted=len(st.known),
        accepted=len(st.accepted),
        rejected=dict(st.rejected),
        retries_mempool_full=st.retries,
        http_errors=st.http_errors,
        last_error=st.last_error or None,
        presigned=sum(len(s.raws) for s in st.streams),
        exhausted=st.exhausted,
        offered_rate=spec.rate or None,
        submitted_per_s=len(st.accepted) / load_s if load_s > 0 else 0.0,
        load_seconds=load_s,
        paced_batches_behind=st.behind,
        committed_by_node=list(st.committed_by_node),
        ws_drops=[d for d in st.ws_drops],
        mempool_series=list(st.mempool_series),
        load_started_monotonic=st.t0,
        load_ended_monotonic=st.t_end,
    )
    return out

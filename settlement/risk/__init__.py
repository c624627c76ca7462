"""The risk engine: perpetual markets, oracles, margin, funding, liquidation, the insurance fund and ADL.

Part of the settlement state machine and bound by its rules (pure, deterministic,
integers only).  ``engine`` is the entry point the block transition uses (its tx
handlers and end-of-block step); ``records`` owns every state key and record of
the engine; ``queries`` answers read-only questions for RPC.  The rules and their
worked examples are in ``docs/risk-engine.md``.
"""

"""European, cash-settled options: series, implied-volatility oracles, fixed-point Black-Scholes marks and greeks,
standard (Deribit) margin inside the account's cross margin, expiry settlement and liquidation.

Part of the risk engine and bound by the settlement rules (pure, deterministic,
integers only).  Records and keys are in ``settlement/risk/optrecords.py``; the
rules and worked examples in ``docs/options.md``.
"""

"""The ``settle`` command line: keys, local networks, transactions, queries, benchmarks.

A client of the node: it talks to nodes over JSON-RPC (``client``), keeps keys
in a keyring (``keyring``), writes testnet homes (``testnet``) and supervises a
local devnet (``devnet``).  It holds no settlement or block-validity rule.
``python -m cli`` is the same as the ``settle`` console script.
"""

"""Settle's settlement state machine: pure and deterministic, no I/O.

``apply_block(view, ctx, txs)`` turns the state before a block plus the block's
transactions into state writes, receipts and the new state root.  Integers in
base units only, no floats, no clock (time comes from the block header), no
randomness, and never an iteration over an unordered collection.
"""

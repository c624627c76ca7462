"""Settle ledger: types, canonical codec, keys, blocks, commit certificates, store.

No asyncio, no sockets, no clock: everything here is values in, values out
(except ``store_leveldb``, the one module that opens files).
"""

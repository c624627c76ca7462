"""Crash-test writer: commits blocks to a LevelDB chain store as fast as it can.

Usage: ``python tests/ledger/store_crash_writer.py DBDIR [MAX_HEIGHT]``

Opens (or creates) the store in DBDIR, stores the toy genesis of
``tests.helpers.StoreChain`` unless it is already there, resumes the chain
from the store, prints ``start H`` (the first height it will commit) and then
commits block after block, each in one synced write, until it is killed or has
reached MAX_HEIGHT (then it prints ``done H`` and exits).
``test_store_crash.py`` SIGKILLs it at arbitrary moments and checks the store.

It never writes to the store except through ``ChainStore`` and never sleeps.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from ledger.chainstore import ChainStore  # noqa: E402
from ledger.store_leveldb import LevelDBKV  # noqa: E402
from tests.helpers import StoreChain  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    max_height = int(argv[2]) if len(argv) == 3 else None
    kv = LevelDBKV(argv[1])
    try:
        store = ChainStore(kv)
        chain = StoreChain()
        store.init_genesis(*chain.genesis())  # a no-op when resuming
        chain.resume(store)
        print(f"start {store.latest_height() + 1}", flush=True)
        while max_height is None or store.latest_height() < max_height:
            chain.next_block().commit_to(store)
        print(f"done {store.latest_height()}", flush=True)
    finally:
        kv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The example configuration of the 4-validator local network, as data.

Owns two TOML files, every key commented, that are the defaults of ``settle
init``, ``settle testnet init``, ``settle devnet up`` and docker-compose.yml
(which runs ``settle testnet init``):

* ``genesis.example.toml``: the genesis template (chain ids, validator count
  and power, assets, the demo accounts with their roles and balances, the
  chain-wide consensus parameters);
* ``node.example.toml``: every key of a node's ``config.toml`` with the value
  a node uses when the key is absent.

Shipped inside the wheel as package data and read with :func:`load`.  Holds
no key and no code that interprets the values: ``cli/testnet.py`` turns them
into genesis documents and node homes.
"""
from __future__ import annotations

import tomllib
from importlib import resources

__all__ = ["GENESIS", "NODE", "load", "text"]

GENESIS = "genesis.example.toml"
NODE = "node.example.toml"


def text(name: str) -> str:
    """The file's text (``GENESIS`` or ``NODE``)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def load(name: str) -> dict:
    """The file parsed as TOML."""
    return tomllib.loads(text(name))

"""Node configuration: the TOML file in a node home, with defaults.

Owns: the :class:`NodeConfig` schema (its defaults are the values of
``configs/node.example.toml``, which documents every key; a test keeps the
two equal), loading (unknown keys and wrong types are errors with the
offending key named), saving, and the layout of a node home directory::

    HOME/config.toml      this file
    HOME/genesis.json     the chain's genesis document
    HOME/node_key.json    the validator's Ed25519 key (mode 0600)
    HOME/p2p_seed         the libp2p identity seed (mode 0600), separate from the validator key
    HOME/data/            LevelDB (blocks, certificates, receipts, state)
    HOME/consensus/       safety state and consensus WAL
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from ledger.errors import InvalidInput


__all__ = ["ConfigError", "NodeConfig", "load_config", "parse_config", "save_config"]


class ConfigError(InvalidInput, ValueError):
    """The node configuration file is missing, malformed or has bad values."""


@dataclass
class RPCConfig:
    host: str = "127.0.0.1"
    port: int = 26657
    max_batch: int = 10_000
    max_body_bytes: int = 32 * 1024 * 1024
    # Browser pages allowed to open the WebSocket (their Origin header, e.g.
    # "https://app.example"; "*" allows any).  Empty: only clients that send
    # no Origin (not browsers), so a web page cannot drive a local node.
    ws_allowed_origins: list[str] = field(default_factory=list)
    ws_max_tx_subscriptions: int = 1_000  # tx-hash subscriptions one WebSocket may hold at once
    # Open connections at most (HTTP and WebSocket); lowered at start to fit the
    # process's file descriptor limit (RLIMIT_NOFILE) with room left for the
    # store, the WAL and peers.  Further connections are closed with a 503.
    max_connections: int = 1_000
    header_timeout_ms: int = 10_000  # a request's headers (or the next request on an idle connection) must arrive within this
    body_timeout_ms: int = 30_000  # a request's body must arrive within this once its headers have
    # Serve the web dashboard at /dashboard/ (its page may open /ws from the node's own origin).
    dashboard: bool = True


@dataclass
class P2PConfig:
    host: str = "127.0.0.1"
    port: int = 26756
    # Peers to dial and accept: multiaddrs ending in /p2p/<peer id> (/dns4/NAME/... is resolved at start).
    peers: list[str] = field(default_factory=list)
    # Peer ids accepted but never dialled (e.g. full nodes without a fixed address).
    allow: list[str] = field(default_factory=list)
    # Forward other nodes' gossip (needed when not every node dials every other).
    # Relaying nodes gossip over signed pubsub messages; without relay each message
    # goes straight from its origin to every peer on one stream per peer
    # (node/p2p/mesh.py), so set it alike on every node.
    relay: bool = False


@dataclass
class BlockConfig:
    interval_ms: int = 50  # after a commit, wait this long for more txs before the next block (latency vs. blocks per second)
    empty_interval_ms: int = 5_000  # an idle chain makes an empty block at most this often
    max_txs: int = 5_000
    max_bytes: int = 4 * 1024 * 1024


@dataclass
class ConsensusSection:
    timeout_propose_ms: int = 1_000
    timeout_prevote_ms: int = 500
    timeout_precommit_ms: int = 500
    timeout_delta_ms: int = 500  # every timeout grows by this much per round
    # The proposer-based timestamp bounds are chain-wide: genesis "consensus_params" (consensus/config.py).


@dataclass
class MempoolConfig:
    # The rules these feed are in node/mempool.py's docstring.
    max_txs: int = 100_000
    max_bytes: int = 128 * 1024 * 1024
    # One sender, ready and future txs together (a flood by one participant
    # fills at most this much of every mempool).
    max_txs_per_sender: int = 1_000
    max_bytes_per_sender: int = 2 * 1024 * 1024
    # A tx whose nonce is more than this above the sender's next expected
    # nonce (committed + ready here) is refused: one sender queues at most this many future txs.
    nonce_window: int = 64
    # A tx that waited more than this many commits / seconds is dropped (0: no limit).
    ttl_blocks: int = 0
    ttl_seconds: int = 600


@dataclass
class VerifierConfig:
    # Where transaction signatures are verified: "processes" (worker processes,
    # no GIL contention; for a node that has its machine to itself) or "threads"
    # (threads of the node process; for several nodes sharing a machine).
    pool: str = "processes"
    workers: int = 0  # 0: one per core


VERIFIER_POOLS = ("processes", "threads")


@dataclass
class NodeConfig:
    moniker: str = "node"
    log_level: str = "info"
    # After a failed write (store, WAL, safety data) the node halts: no votes, no
    # submissions, /health 503 with the cause; it exits (code 3) this much later.
    halt_linger_ms: int = 10_000
    rpc: RPCConfig = field(default_factory=RPCConfig)
    p2p: P2PConfig = field(default_factory=P2PConfig)
    block: BlockConfig = field(default_factory=BlockConfig)
    consensus: ConsensusSection = field(default_factory=ConsensusSection)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    home: Path = field(default=Path("."), metadata={"toml": False})

    @property
    def genesis_path(self) -> Path:
        return self.home / "genesis.json"

    @property
    def key_path(self) -> Path:
        return self.home / "node_key.json"

    @property
    def p2p_seed_path(self) -> Path:
        return self.home / "p2p_seed"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def consensus_dir(self) -> Path:
        return self.home / "consensus"

    @property
    def rpc_url(self) -> str:
        return f"http://{self.rpc.host}:{self.rpc.port}"


def _to_dict(obj) -> dict:
    out = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("toml") is False:
            continue
        v = getattr(obj, f.name)
        out[f.name] = _to_dict(v) if dataclasses.is_dataclass(v) else v
    return out


def _from_dict(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("toml") is not False}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    obj = cls()
    for name, value in data.items():
        current = getattr(obj, name)
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(current):
            value = _from_dict(type(current), value, key)
        elif type(value) is not type(current):
            raise ConfigError(f"{key}: expected {type(current).__name__}, got {type(value).__name__}")
        setattr(obj, name, value)
    return obj


def load_config(home: str | Path) -> NodeConfig:
    """Read ``HOME/config.toml``; raises ConfigError naming the problem."""
    home = Path(home)
    path = home / "config.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no config at {path} (run `settle init --home {home}` first)") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data, home)


def parse_config(data: dict, home: str | Path) -> NodeConfig:
    """A node home's config from parsed TOML; raises ConfigError naming the bad key."""
    cfg = _from_dict(NodeConfig, data, "")
    if cfg.verifier.pool not in VERIFIER_POOLS:
        raise ConfigError(f"verifier.pool: {cfg.verifier.pool!r} is not one of {', '.join(VERIFIER_POOLS)}")
    if cfg.verifier.workers < 0:
        raise ConfigError("verifier.workers: must be >= 0 (0: one per core)")
    for name, value in sorted(dataclasses.asdict(cfg.mempool).items()):
        if value < 0 or (value == 0 and name.startswith("max_")):
            raise ConfigError(f"mempool.{name}: must be {'> 0' if name.startswith('max_') else '>= 0'}")
    cfg.home = Path(home)
    return cfg


def save_config(cfg: NodeConfig) -> None:
    cfg.home.mkdir(parents=True, exist_ok=True)
    (cfg.home / "config.toml").write_text(tomli_w.dumps(_to_dict(cfg)))

"""The PBTS bounds are chain-wide: genesis ``consensus_params`` carries them to every validator's core."""
from __future__ import annotations

import pytest

from consensus.config import ConsensusConfig, genesis_overrides
from ledger.keys import PrivateKey
from cli.testnet import make_genesis
from settlement.genesis import Genesis, GenesisError


def genesis_doc_for_test() -> dict:
    admin = PrivateKey.from_name("admin", "pbts")
    return make_genesis("pbts", [PrivateKey.from_name("v0", "pbts")], {"admin": (admin, ["admin", "issuer"])})


def test_a_new_network_writes_the_defaults_into_genesis_and_they_reach_the_core():
    doc = genesis_doc_for_test()
    assert doc["consensus_params"] == {"pbts_message_delay_ms": ConsensusConfig().message_delay_ms,
                                       "pbts_precision_ms": ConsensusConfig().precision_ms}
    doc["consensus_params"]["pbts_message_delay_ms"] = 7_000
    g = Genesis.from_json(doc)
    cfg = ConsensusConfig(**genesis_overrides(g.consensus_params))
    assert (cfg.precision_ms, cfg.message_delay_ms) == (ConsensusConfig().precision_ms, 7_000)


def test_the_params_are_part_of_the_genesis_hash_only_when_present():
    doc = genesis_doc_for_test()
    with_params = Genesis.from_json(doc).hash
    doc["consensus_params"]["pbts_precision_ms"] += 1
    assert Genesis.from_json(doc).hash != with_params
    del doc["consensus_params"]
    bare = Genesis.from_json(doc)
    assert bare.consensus_params == () and len(bare.canonical()) == 5  # an older document keeps its hash
    assert ConsensusConfig(**genesis_overrides(bare.consensus_params)) == ConsensusConfig()


@pytest.mark.parametrize("params, word", [
    ({"pbts_precision_ms": 0}, "pbts_precision_ms"),
    ({"pbts_message_delay_ms": -5}, "pbts_message_delay_ms"),
    ({"pbts_message_delay_ms": "5000"}, "integer"),
    ({"timeout_ms": 5}, "unknown"),
    ([], "object"),
])
def test_bad_params_are_genesis_errors(params, word):
    doc = genesis_doc_for_test()
    doc["consensus_params"] = params
    with pytest.raises(GenesisError, match=word):
        Genesis.from_json(doc)

"""The node config carries the PBTS bounds to the consensus core, and refuses unusable ones."""
from __future__ import annotations

import pytest

from consensus.config import ConsensusConfig
from node.config import ConfigError, NodeConfig, load_config, save_config


def test_pbts_bounds_default_to_the_consensus_defaults_and_round_trip(tmp_path):
    cfg = NodeConfig(home=tmp_path)
    assert (cfg.consensus.precision_ms, cfg.consensus.message_delay_ms) == (
        ConsensusConfig().precision_ms, ConsensusConfig().message_delay_ms)
    cfg.consensus.message_delay_ms = 7_000
    save_config(cfg)
    assert load_config(tmp_path).consensus.message_delay_ms == 7_000


@pytest.mark.parametrize("name", ["precision_ms", "message_delay_ms"])
def test_non_positive_pbts_bounds_are_config_errors(tmp_path, name):
    cfg = NodeConfig(home=tmp_path)
    setattr(cfg.consensus, name, 0)
    save_config(cfg)
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path)

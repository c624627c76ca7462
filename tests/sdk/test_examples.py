"""Every example of docs/sdk.md runs, as a user runs it (its own process), against one real node: one per tx
family, each checking its own result (an ``assert`` or ``sdk.ensure_ok`` failing exits non-zero)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.nodeproc import ROOT

EXAMPLES = ROOT / "docs" / "examples"
FAMILIES = ("transfer", "dvp_swap", "htlc", "oracle_perp", "option", "portfolio_margin", "bridge_send")


def test_there_is_one_example_per_tx_family_and_the_guide_shows_each():
    assert sorted(p.stem for p in EXAMPLES.glob("sdk_*.py")) == sorted(f"sdk_{f}" for f in FAMILIES)
    guide = (ROOT / "docs" / "sdk.md").read_text()
    for family in FAMILIES:
        assert f"docs/examples/sdk_{family}.py" in guide, family


@pytest.mark.parametrize("family", FAMILIES)
def test_the_example_runs_against_a_node(sdk_node, family):
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"sdk_{family}.py"), sdk_node.rpc_url, str(sdk_node.home / "keys")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, f"{family} failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip()
